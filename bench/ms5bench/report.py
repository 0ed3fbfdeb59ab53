"""Numbers and their presentation: percentiles, ratios, tables, progress (pure)."""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Sequence


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile, PCT in [0, 100], of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= pct <= 100:
        raise ValueError("pct must be in [0, 100]")
    ordered = sorted(values)
    rank = max(1, int(math.ceil(pct / 100.0 * len(ordered))))
    return ordered[rank - 1]


def ratio(a: float | None, b: float | None) -> float | None:
    """A / B, or None when either is missing or B is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def rate(rows: int, seconds: float) -> float | None:
    """Rows per second, None for a zero duration."""
    return rows / seconds if seconds > 0 else None


def human_count(n: float | None) -> str:
    """1234567 -> '1.23M'."""
    if n is None:
        return "-"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            return "%.2f%s" % (n / limit, suffix)
    return "%d" % n if float(n).is_integer() else "%.1f" % n


def human_bytes(n: float | None) -> str:
    """1536 -> '1.5 KiB'."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return "%d %s" % (value, unit) if unit == "B" else "%.1f %s" % (value, unit)
        value /= 1024.0
    return "%.1f TiB" % value


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else "%.2fx" % r


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else "%.1f" % v


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError("row has %d cells, expected %d: %r" % (len(row), len(headers), row))
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)).rstrip()

    out = []
    if title:
        out.append(title)
    out.append(line(cells[0]))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


class Progress:
    """Progress of a long load on stderr: a rewritten line on a terminal, else every 10%."""

    def __init__(self, label: str, total: int, stream: IO[str] | None = None, clock=time.monotonic):
        self.label = label
        self.total = max(1, total)
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.start = clock()
        self.done = 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1

    def text(self) -> str:
        elapsed = self.clock() - self.start
        pct = 100.0 * self.done / self.total
        speed = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / speed if speed > 0 else 0.0
        return "[%s] %s/%s rows (%3.0f%%), %s rows/s, ETA %ds" % (
            self.label, human_count(self.done), human_count(self.total), pct, human_count(speed), eta)

    def update(self, n: int) -> None:
        self.done += n
        if self.tty:
            self.stream.write("\r" + self.text() + "   ")
            self.stream.flush()
            return
        decile = int(10 * self.done / self.total)
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(self.text() + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.text() + "   \n")
            self.stream.flush()
