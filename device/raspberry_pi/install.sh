#!/usr/bin/env bash
# Install the trash sorter's Sense HAT display on Raspberry Pi OS (bookworm or later) as a systemd service.
#
#   sudo device/raspberry_pi/install.sh            # from a checkout of this repository, on the Pi
#   device/raspberry_pi/install.sh --dry-run       # print what would be done, change nothing
#
# Then put the credentials and subscriber.toml in /etc/trash-sorter (python -m device.provision
# writes them) and: sudo systemctl restart trash-sorter-display; journalctl -u trash-sorter-display -f
set -euo pipefail

SERVICE=trash-sorter-display
SERVICE_USER=trash-sorter
PREFIX=/opt/trash-sorter
CONFIG_DIR=/etc/trash-sorter
AWSIOTSDK_VERSION=1.31.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DRY_RUN=0

for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (try --help)" >&2; exit 64 ;;
  esac
done

run() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ $*"
  else
    "$@"
  fi
}

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "run as root: sudo $0" >&2
  exit 1
fi

# The Sense HAT library comes from the OS package (it needs the OS's RTIMULib build);
# the venv sees it through --system-site-packages. awscrt has no 32-bit ARM wheel: build it there.
packages=(python3-venv python3-sense-hat)
if [ "$(uname -m)" = armv7l ] || [ "$(uname -m)" = armv6l ]; then
  packages+=(build-essential cmake python3-dev)
fi
run apt-get update
run apt-get install -y --no-install-recommends "${packages[@]}"

if ! id "$SERVICE_USER" >/dev/null 2>&1; then
  run useradd --system --home-dir /var/lib/trash-sorter --shell /usr/sbin/nologin \
    --groups video,input,i2c "$SERVICE_USER"
fi

# Only what the subscriber imports: its package, the MQTT link and the shared contracts.
run install -d -m 0755 "$PREFIX/app/device"
run install -m 0644 "$REPO/device/__init__.py" "$REPO/device/mqtt_link.py" "$PREFIX/app/device/"
run rm -rf "$PREFIX/app/device/pi_subscriber" "$PREFIX/app/sorter_common"
run cp -r "$REPO/device/pi_subscriber" "$PREFIX/app/device/pi_subscriber"
run cp -r "$REPO/sorter_common" "$PREFIX/app/sorter_common"
run find "$PREFIX/app" -name __pycache__ -prune -exec rm -rf {} +

run python3 -m venv --system-site-packages "$PREFIX/venv"
run "$PREFIX/venv/bin/pip" install --no-cache-dir "awsiotsdk==$AWSIOTSDK_VERSION"

# Credentials are readable by the service user only; the folder by root and that user.
run install -d -o root -g "$SERVICE_USER" -m 0750 "$CONFIG_DIR"
if [ ! -e "$CONFIG_DIR/subscriber.toml" ]; then
  run install -o root -g "$SERVICE_USER" -m 0640 "$HERE/subscriber.example.toml" "$CONFIG_DIR/subscriber.toml"
fi
for secret in device.private.key device.cert.pem; do
  if [ -e "$CONFIG_DIR/$secret" ]; then
    run chown "$SERVICE_USER:$SERVICE_USER" "$CONFIG_DIR/$secret"
    run chmod 0600 "$CONFIG_DIR/$secret"
  fi
done

run install -m 0644 "$HERE/$SERVICE.service" "/etc/systemd/system/$SERVICE.service"
run systemctl daemon-reload
run systemctl enable "$SERVICE"
if [ -e "$CONFIG_DIR/device.private.key" ]; then
  run systemctl restart "$SERVICE"
  echo "started $SERVICE; follow it with: journalctl -u $SERVICE -f"
else
  echo "installed $SERVICE; add the credentials to $CONFIG_DIR (python -m device.provision), then:"
  echo "  sudo systemctl start $SERVICE"
fi
