"""`python -m device.greengrass_component`: the component's process, under Greengrass or on its own."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .runner import ComponentRunner
from .settings import parse_settings
from .transports import TransportRefused, make_transport

EXIT_REFUSED = 2  # credentials or CA refused: restarting cannot help, so say which file and stop


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_settings(argv)
    # Greengrass keeps the component's stdout/stderr in its own log file; stdout may carry messages.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Greengrass stops a component with SIGTERM: finish the frame, say "stopping", exit 0.
        logging.getLogger(__name__).info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        transport = make_transport(settings, stop)
    except TransportRefused as error:
        logging.getLogger(__name__).error("cannot connect: %s", error)
        return EXIT_REFUSED
    try:
        return ComponentRunner(settings, transport, stop).run()
    finally:
        transport.close()


if __name__ == "__main__":
    sys.exit(main())
