"""Entry point: Greengrass V1 imports this module once and keeps it (pinned, long-lived).

The inference runs in a thread started at import, as DeepLens functions do; the handler is
never invoked with work (no subscription targets this function) and returns at once.
A failure the inference loop cannot recover from ends the whole process after one status
message: Greengrass restarts a pinned function whose process exits, while a dead thread in a
live process would leave the camera silent for good.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Optional

from .runner import Runner
from .settings import from_environment

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
LOG = logging.getLogger("deeplens_inference")
STOP = threading.Event()
_thread: Optional[threading.Thread] = None
# The exit status of a process ended by an unrecoverable failure (Greengrass restarts it).
FATAL_EXIT_STATUS = 1


def _publisher() -> Any:
    import greengrasssdk

    client = greengrasssdk.client("iot-data")

    def publish(topic: str, payload: bytes) -> None:
        client.publish(topic=topic, payload=payload)

    return publish


def _main() -> None:
    runner: Optional[Runner] = None
    try:
        runner = Runner(from_environment(), _publisher(), STOP)
        runner.run()
    except BaseException as error:
        LOG.exception("the inference thread failed; ending the process so that Greengrass restarts it")
        if runner is not None:
            detail = f"fatal: {type(error).__name__}: {error}; the process ends and Greengrass restarts it"
            runner.status("error", detail)
        _exit_process(FATAL_EXIT_STATUS)


def _exit_process(status: int) -> None:
    """End the process from this thread: sys.exit would end only the thread."""
    logging.shutdown()
    os._exit(status)


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
