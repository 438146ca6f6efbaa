"""Default tuning of every edge target, in a module without heavy imports so the CDK stacks can
put the same values into the component and Lambda configuration at synth time."""

# Frames averaged by the smoothing, and the smoothed probability under which a view is "unsure".
DEFAULT_WINDOW = 5
DEFAULT_THRESHOLD = 0.6
# A message at least this often even when the decision holds, and never more often than this.
DEFAULT_HEARTBEAT_S = 30.0
DEFAULT_MIN_INTERVAL_S = 1.0
