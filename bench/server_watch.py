"""What the load benches watch on the ``ivr serve`` they start: its memory and its log.

Shared by bench/soak.py and bench/text_load.py. Memory is read from /proc (no psutil: a bench
should not add a dependency to the server's environment), summed over the server and its child
processes (the TTS worker), since a leak may sit in either.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ACCESS_5XX = re.compile(r'"[A-Z]+ (\S+) HTTP/[\d.]+" (5\d\d)')  # uvicorn's access line
# Lines that mean something went wrong on the server, whatever the caller heard: our logger's
# format is "time LEVEL name: message", uvicorn's own is "ERROR:    message".
ERROR_LEVEL = re.compile(r"^(\S+ \S+ (ERROR|CRITICAL) |(ERROR|CRITICAL):)")
# A stream that ended with nobody having decided what follows: the caller went to staff by default.
UNDECIDED = "stream ended without a decision"


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc (threads' children included)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return out


def rss_kb(pid: int) -> dict[int, tuple[str, int]]:
    """Resident memory (kB) of ``pid`` and each descendant, with a short name for each."""
    out: dict[int, tuple[str, int]] = {}
    for p in process_tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        name = ("resource tracker" if "resource_tracker" in cmdline
                else "spawned worker (TTS)" if "spawn_main" in cmdline
                else " ".join(Path(a).name for a in cmdline.split()[:3]) or status.split()[1])
        out[p] = (name, int(rss.group(1)) if rss else 0)
    return out


def total_mb(sample: dict[int, tuple[str, int]]) -> float:
    return sum(kb for _, kb in sample.values()) / 1024


def describe(sample: dict[int, tuple[str, int]]) -> str:
    return ", ".join(f"{pid} {name!r} {kb / 1024:.0f} MB" for pid, (name, kb) in sample.items())


@dataclass
class LogProblems:
    """Problems found in the server's log (from a byte offset: the start-up is not the run's)."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, kind: str, line: str) -> None:
        self.counts[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(line.strip()[:300])


def log_problems(path: Path, offset: int = 0) -> LogProblems:
    """Server-side errors: ERROR/CRITICAL lines (every exception a call meets is logged so, the
    dialogue's system_error included), HTTP 5xx answers, and media streams that ended undecided."""
    found = LogProblems()
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError as e:
        found.add("server log unreadable", repr(e))
        return found
    for line in text.splitlines():
        if ERROR_LEVEL.match(line):
            found.add("ERROR in server log", line)
        elif (m := ACCESS_5XX.search(line)) is not None:
            found.add(f"HTTP {m.group(2)} on {m.group(1).split('?')[0]}", line)
        elif UNDECIDED in line:
            found.add("stream ended undecided", line)
    return found


def print_problems(found: LogProblems, indent: str = "  ") -> None:
    for kind, n in found.counts.most_common():
        print(f"{indent}  {kind}: {n}")
    for line in found.examples:
        print(f"{indent}  e.g. {line}")


def percentiles(values_ms: list[float]) -> str:
    if not values_ms:
        return "no samples"
    p50, p95 = np.percentile(values_ms, [50, 95])
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(values_ms):.0f} ms (n={len(values_ms)})"
