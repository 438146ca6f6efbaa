"""Entry point: Greengrass V1 imports this module once and keeps it (pinned, long-lived).

The inference runs in a thread started at import, as DeepLens functions do; the handler is
never invoked with work (no subscription targets this function) and returns at once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from .runner import Runner
from .settings import from_environment

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
LOG = logging.getLogger("deeplens_inference")
STOP = threading.Event()
_thread: Optional[threading.Thread] = None


def _publisher() -> Any:
    import greengrasssdk

    client = greengrasssdk.client("iot-data")

    def publish(topic: str, payload: bytes) -> None:
        client.publish(topic=topic, payload=payload)

    return publish


def _main() -> None:
    try:
        Runner(from_environment(), _publisher(), STOP).run()
    except Exception:  # last resort: log it; Greengrass restarts a pinned function that exits
        LOG.exception("the inference thread failed")
        raise


def start() -> threading.Thread:
    """Start the inference thread once per process."""
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=_main, name="inference", daemon=True)
        _thread.start()
    thread: threading.Thread = _thread
    return thread


def function_handler(event: Any, context: Any) -> None:
    return None


start()
