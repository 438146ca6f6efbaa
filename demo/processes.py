"""Child processes and clean-up that survive Ctrl-C, SIGTERM and failures.

Each child gets its own session (so its own process group): a Ctrl-C in the terminal reaches only
the demo, which then stops the children in order, each group with SIGTERM and, if it lingers,
SIGKILL. Clean-ups run last-in first-out from the pipeline's finally block, and once more from
atexit as a backstop; running them twice is harmless.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType

REPO_ROOT = Path(__file__).resolve().parent.parent
# Settings a user's shell may carry that would change what the children read (the subscriber
# reads TRASH_SORTER_* as configuration); the demo passes everything on the command line.
_DROPPED_ENV_PREFIXES = ("TRASH_SORTER_",)


class Interrupted(BaseException):
    """SIGTERM (or SIGINT) arrived: unwind like KeyboardInterrupt so every finally block runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM both unwind the demo (main thread only)."""
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGTERM, _raise_interrupted)


def child_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_ENV_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Child:
    """One child process in its own process group, its output in a log file."""

    def __init__(self, name: str, args: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=REPO_ROOT, env={**child_env(), **(env or {})}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.pid = self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM to the group (the way systemd/Greengrass stop them), SIGKILL if still there."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait()
        # The leader may be gone while something it started is not: the group gets a last SIGKILL.
        self._signal_group(signal.SIGKILL)
        return self.process.returncode

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(text[-lines:])


class Supervisor:
    """Owns the children and the clean-ups; close() undoes everything, last started first."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self._cleanups: list[tuple[str, Callable[[], object]]] = []
        atexit.register(self.close)

    def start(self, name: str, args: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> Child:
        child = Child(name, args, log_path, env)
        self.children.append(child)
        self.add_cleanup(f"stop {name}", child.stop)
        return child

    def add_cleanup(self, what: str, action: Callable[[], object]) -> None:
        self._cleanups.append((what, action))

    def close(self) -> None:
        # A second Ctrl-C (or a SIGTERM) during clean-up must not abandon the rest: ignore both until done.
        previous = {}
        if _in_main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, signal.SIG_IGN)
        try:
            while self._cleanups:
                what, action = self._cleanups.pop()
                try:
                    action()
                except Exception as error:  # keep cleaning up; say what could not be undone
                    print(f"demo: clean-up step '{what}' failed: {error}", file=sys.stderr)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        atexit.unregister(self.close)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
