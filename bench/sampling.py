"""py-spy sampling of running processes: what share of their busy time a function takes.

Used to isolate a cost inside a server under load without changing its code: record the server's
processes while the load runs, then count the samples whose stack passes through a function.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path


def py_spy_path() -> str | None:
    """The py-spy binary (pip install py-spy), or None when it is not installed."""
    return shutil.which("py-spy")


def start_recording(pid: int, seconds: float, out: Path, rate: int = 500) -> subprocess.Popen:
    """Sample `pid` and its subprocesses (busy time only) for `seconds` into collapsed stacks."""
    path = py_spy_path()
    if path is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    command = [
        path, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
        "--rate", str(rate), "--duration", str(max(1, round(seconds))),
        "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def read_stacks(path: Path) -> Counter[str]:
    """Collapsed stacks ("frame;frame;... count" lines) as a Counter of stack -> samples."""
    stacks: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def share(stacks: Counter[str], function: str) -> float:
    """Fraction of all samples whose stack contains a frame of `function`."""
    total = sum(stacks.values())
    hits = sum(count for stack, count in stacks.items() if f"{function} (" in stack)
    return hits / total if total else 0.0


def top_inclusive(stacks: Counter[str], names: list[str]) -> list[tuple[str, float]]:
    """The share of samples passing through each of `names` (a frame's function name)."""
    return [(name, share(stacks, name)) for name in names]


def record_during(pid: int, seconds: float, action) -> tuple[Counter[str], object]:
    """Run `action()` while py-spy samples `pid` for `seconds`; returns (stacks, its result)."""
    with tempfile.TemporaryDirectory(prefix="py-spy-") as tmp:
        out = Path(tmp) / "stacks.txt"
        recorder = start_recording(pid, seconds, out)
        try:
            result = action()
        finally:
            recorder.wait(timeout=seconds + 30)
        return read_stacks(out), result
