"""Peak memory of a process, read from /proc.

Not getrusage's ru_maxrss: Linux carries that figure across fork and exec, so a child started
from a large parent (one that had MXNet loaded, say) reports the parent's size. VmHWM belongs to
the process's own address space and starts afresh at exec.
"""

from __future__ import annotations

from pathlib import Path


def high_water_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM line")
