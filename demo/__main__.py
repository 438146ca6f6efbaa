"""`python -m demo`: run the demo; one clear line and a non-zero exit when a stage fails."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .options import parse_args
from .pipeline import StageFailed, run_demo
from .processes import Interrupted, install_signal_handlers

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    install_signal_handlers()
    try:
        run_demo(options)
    except StageFailed as failure:
        print(f"demo failed at stage '{failure.stage}': {failure.reason}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    except (KeyboardInterrupt, Interrupted) as stop:
        name = stop.args[0] if isinstance(stop, Interrupted) else "SIGINT"
        print(f"demo interrupted ({name}); every process it started has been stopped", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
