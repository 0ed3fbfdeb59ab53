"""Realistic MS5.0 telemetry, generated deterministically (pure functions, no database).

A plant has lines, equipment per line and metrics per equipment. Each line stops now
and then (downtime windows); while a line is down its equipment reports running=false,
speed 0 and flat part counters, and the downtime shows up in downtime_events, fault
events, OEE rows and energy rows, so dashboard queries see data that hangs together.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Iterator

UTC = dt.timezone.utc

# (metric key, value type, unit, kind) cycled through for each equipment.
METRIC_CATALOGUE: tuple[tuple[str, str, str | None, str], ...] = (
    ("speed", "REAL", "ppm", "speed"),
    ("running", "BOOL", None, "running"),
    ("good_count", "INT", "parts", "good_count"),
    ("reject_count", "INT", "parts", "reject_count"),
    ("motor_temp", "REAL", "degC", "analog"),
    ("air_pressure", "REAL", "bar", "analog"),
    ("motor_current", "REAL", "A", "analog"),
    ("vibration", "REAL", "mm/s", "analog"),
    ("state_code", "INT", None, "state"),
    ("power", "REAL", "kW", "power"),
)
EQUIPMENT_TYPES = ("filler", "labeler", "packer", "conveyor", "palletizer", "inspection", "machine")
DOWNTIME_REASONS = (
    ("JAM", "unplanned"), ("NO_MATERIAL", "unplanned"), ("ELECTRICAL", "unplanned"),
    ("CHANGEOVER", "changeover"), ("CLEANING", "planned"), ("LUBRICATION", "maintenance"),
)
SHIFTS = (("A", "Morning", dt.time(6, 0), dt.time(14, 0)),
          ("B", "Afternoon", dt.time(14, 0), dt.time(22, 0)),
          ("C", "Night", dt.time(22, 0), dt.time(6, 0)))
IDEAL_CYCLE_S = 0.5          # seconds per part at full speed
TARGET_PPM = 120.0           # parts per minute at full speed


@dataclass(frozen=True)
class Line:
    index: int
    id: str
    code: str
    name: str


@dataclass(frozen=True)
class Equipment:
    code: str
    line: int
    name: str
    type: str


@dataclass(frozen=True)
class Metric:
    id: int
    equipment: str
    line: int
    key: str
    value_type: str
    unit: str | None
    kind: str
    base: float
    amplitude: float


@dataclass(frozen=True)
class Downtime:
    line: int
    start: dt.datetime
    end: dt.datetime
    reason: str
    category: str


@dataclass
class Plant:
    lines: list[Line]
    equipment: list[Equipment]
    metrics: list[Metric]
    seed: int
    shift_ids: dict[str, str] = field(default_factory=dict)

    @property
    def metric_count(self) -> int:
        return len(self.metrics)


def stable_uuid(seed: int, *parts: object) -> str:
    """A UUID that depends only on SEED and PARTS (same ids in every schema and run)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "ms5-bench/%d/%s" % (seed, "/".join(map(str, parts)))))


def build_plant(lines: int, equipment_per_line: int, metrics_per_equipment: int, seed: int = 1) -> Plant:
    """The plant: LINES x EQUIPMENT_PER_LINE equipment, each with METRICS_PER_EQUIPMENT metrics."""
    if min(lines, equipment_per_line, metrics_per_equipment) < 1:
        raise ValueError("lines, equipment per line and metrics per equipment must all be >= 1")
    rng = random.Random(seed)
    plant_lines = [Line(i, stable_uuid(seed, "line", i), "L%02d" % (i + 1), "Line %d" % (i + 1)) for i in range(lines)]
    equipment: list[Equipment] = []
    metrics: list[Metric] = []
    metric_id = 1
    for line in plant_lines:
        for e in range(equipment_per_line):
            code = "%s-EQ%02d" % (line.code, e + 1)
            equipment.append(Equipment(code, line.index, "%s equipment %d" % (line.name, e + 1),
                                       EQUIPMENT_TYPES[e % len(EQUIPMENT_TYPES)]))
            for m in range(metrics_per_equipment):
                key, vtype, unit, kind = METRIC_CATALOGUE[m % len(METRIC_CATALOGUE)]
                if m >= len(METRIC_CATALOGUE):
                    key = "%s_%d" % (key, m // len(METRIC_CATALOGUE) + 1)
                base = {"analog": rng.uniform(20.0, 80.0), "power": rng.uniform(5.0, 15.0)}.get(kind, 0.0)
                metrics.append(Metric(metric_id, code, line.index, key, vtype, unit, kind, base, base * 0.05 + 1.0))
                metric_id += 1
    plant = Plant(plant_lines, equipment, metrics, seed)
    plant.shift_ids = {code: stable_uuid(seed, "shift", code) for code, _, _, _ in SHIFTS}
    return plant


def downtime_windows(plant: Plant, start: dt.datetime, end: dt.datetime) -> list[Downtime]:
    """Stops of each line in [START, END): one every 40-120 minutes, 2-12 minutes long."""
    out: list[Downtime] = []
    for line in plant.lines:
        rng = random.Random(plant.seed * 1000 + line.index)
        t = start + dt.timedelta(minutes=rng.uniform(5, 60))
        while t < end:
            length = dt.timedelta(seconds=int(rng.uniform(120, 720)))
            reason, category = DOWNTIME_REASONS[rng.randrange(len(DOWNTIME_REASONS))]
            t = t.replace(microsecond=0)
            out.append(Downtime(line.index, t, min(t + length, end), reason, category))
            t = t + length + dt.timedelta(minutes=rng.uniform(40, 120))
    return out


def down_seconds(windows: list[Downtime], line: int, start: dt.datetime, seconds: int) -> list[bool]:
    """For each second of [START, START+SECONDS): is LINE down?"""
    flags = [False] * seconds
    for w in windows:
        if w.line != line or w.end <= start or w.start >= start + dt.timedelta(seconds=seconds):
            continue
        a = max(0, int((w.start - start).total_seconds()))
        b = min(seconds, int(math.ceil((w.end - start).total_seconds())))
        for i in range(a, b):
            flags[i] = True
    return flags


def pg_timestamp(t: dt.datetime) -> str:
    """COPY text form of a UTC timestamp."""
    return t.strftime("%Y-%m-%d %H:%M:%S+00")


class SampleGenerator:
    """1-second samples of every metric, in time order, as COPY text or tuples.

    Counters (good/reject parts) carry state across blocks, so a run must ask for
    blocks in time order. Two generators with the same plant produce the same values.
    """

    def __init__(self, plant: Plant, windows: list[Downtime], interval_s: int = 1):
        if interval_s < 1:
            raise ValueError("interval_s must be >= 1")
        self.plant = plant
        self.windows = windows
        self.interval_s = interval_s
        self.rng = random.Random(plant.seed + 7)
        self.counters: dict[int, int] = {m.id: 0 for m in plant.metrics}

    def _value(self, m: Metric, epoch: int, down: bool) -> tuple[str | None, str | None, str | None]:
        """(value_bool, value_int, value_real) as COPY text fields (None = NULL)."""
        k = m.kind
        if k == "running":
            return ("f" if down else "t", None, None)
        if k == "state":
            return (None, "3" if down else "1", None)
        if k == "speed":
            v = 0.0 if down else TARGET_PPM * (0.92 + 0.05 * math.sin(epoch / 300.0)) + self.rng.uniform(-2, 2)
            return (None, None, "%.2f" % v)
        if k in ("good_count", "reject_count"):
            if not down:
                every = 1 if k == "good_count" else 50
                if (epoch // self.interval_s) % every == 0:
                    self.counters[m.id] += 2 * self.interval_s if k == "good_count" else 1
            return (None, str(self.counters[m.id]), None)
        if k == "power":
            v = (0.5 if down else m.base) + self.rng.uniform(-0.2, 0.2)
            return (None, None, "%.3f" % v)
        v = m.base + m.amplitude * math.sin(epoch / 600.0 + m.id) + self.rng.uniform(-0.5, 0.5)
        return (None, None, "%.3f" % v)

    def rows(self, start: dt.datetime, seconds: int) -> Iterator[tuple[int, str, str | None, str | None, str | None]]:
        """(metric_id, ts, value_bool, value_int, value_real) for [START, START+SECONDS)."""
        down = {line.index: down_seconds(self.windows, line.index, start, seconds) for line in self.plant.lines}
        base_epoch = int(start.timestamp())
        for s in range(0, seconds, self.interval_s):
            ts = pg_timestamp(start + dt.timedelta(seconds=s))
            epoch = base_epoch + s
            for m in self.plant.metrics:
                b, i, r = self._value(m, epoch, down[m.line][s])
                yield (m.id, ts, b, i, r)

    def copy_text(self, start: dt.datetime, seconds: int) -> tuple[str, int]:
        """COPY text for columns (metric_def_id, ts, value_bool, value_int, value_real), and its row count."""
        parts = []
        n = 0
        for mid, ts, b, i, r in self.rows(start, seconds):
            parts.append("%d\t%s\t%s\t%s\t%s\n" % (mid, ts, b or "\\N", i or "\\N", r or "\\N"))
            n += 1
        return "".join(parts), n


def oee_rows(plant: Plant, windows: list[Downtime], start: dt.datetime, end: dt.datetime) -> Iterator[tuple]:
    """One OEE row per equipment per minute:
    (line_id, equipment_code, calculation_time, interval_seconds, planned, run, ideal_cycle,
     total_parts, good_parts, availability, performance, quality, oee)."""
    rng = random.Random(plant.seed + 11)
    minutes = int((end - start).total_seconds() // 60)
    for line in plant.lines:
        for minute in range(minutes):
            t = start + dt.timedelta(minutes=minute)
            down = sum(down_seconds(windows, line.index, t, 60))
            for eq in (e for e in plant.equipment if e.line == line.index):
                run = 60 - down
                perf = rng.uniform(0.85, 0.99) if run else 0.0
                total = int(run / IDEAL_CYCLE_S * perf)
                good = total - int(total * rng.uniform(0.0, 0.03))
                availability = run / 60.0
                performance = min(1.0, (total * IDEAL_CYCLE_S) / run) if run else 0.0
                quality = (good / total) if total else 1.0
                yield (line.id, eq.code, t, 60, 60, run, IDEAL_CYCLE_S, total, good,
                       round(availability, 4), round(performance, 4), round(quality, 4),
                       round(availability * performance * quality, 4))


def energy_rows(plant: Plant, windows: list[Downtime], start: dt.datetime, end: dt.datetime) -> Iterator[tuple]:
    """One energy row per equipment per minute:
    (equipment_code, line_id, consumption_time, power_kw, energy_kwh, voltage_v, current_a, power_factor)."""
    rng = random.Random(plant.seed + 13)
    minutes = int((end - start).total_seconds() // 60)
    for line in plant.lines:
        for minute in range(minutes):
            t = start + dt.timedelta(minutes=minute)
            running = 1.0 - sum(down_seconds(windows, line.index, t, 60)) / 60.0
            for eq in (e for e in plant.equipment if e.line == line.index):
                kw = 0.5 + running * rng.uniform(6.0, 12.0)
                yield (eq.code, line.id, t, round(kw, 3), round(kw / 60.0, 4), round(rng.uniform(395, 405), 2),
                       round(kw * 1000 / (400 * 1.732 * 0.9), 3), round(rng.uniform(0.85, 0.95), 3))


def fault_rows(plant: Plant, windows: list[Downtime], start: dt.datetime, end: dt.datetime) -> list[tuple]:
    """Fault events (equipment_code, bit_index, ts_on, ts_off, duration_s): one per unplanned stop
    (on the line's first equipment) plus short faults every 20-90 minutes on each equipment."""
    rng = random.Random(plant.seed + 17)
    out = []
    first = {}
    for eq in plant.equipment:
        first.setdefault(eq.line, eq.code)
    for w in windows:
        if w.category == "unplanned":
            out.append((first[w.line], DOWNTIME_REASONS.index((w.reason, w.category)), w.start, w.end,
                        (w.end - w.start).total_seconds()))
    for eq in plant.equipment:
        t = start + dt.timedelta(minutes=rng.uniform(1, 90))
        while t < end:
            t = t.replace(microsecond=0)
            length = dt.timedelta(seconds=rng.randrange(5, 90))
            off = min(t + length, end)
            out.append((eq.code, rng.randrange(8), t, off, (off - t).total_seconds()))
            t = t + dt.timedelta(minutes=rng.uniform(20, 90))
    out.sort(key=lambda r: r[2])
    return out


def downtime_rows(plant: Plant, windows: list[Downtime]) -> list[tuple]:
    """downtime_events rows (id, line_id, equipment_code, start_time, end_time, duration_seconds,
    reason_code, category)."""
    first = {}
    for eq in plant.equipment:
        first.setdefault(eq.line, eq.code)
    return [(stable_uuid(plant.seed, "downtime", w.line, w.start.isoformat()), plant.lines[w.line].id,
             first[w.line], w.start, w.end, int((w.end - w.start).total_seconds()), w.reason, w.category)
            for w in windows]


def kpi_rows(plant: Plant, oee: list[tuple]) -> list[tuple]:
    """Daily KPI rows per line (line_id, kpi_date, availability, performance, quality, oee,
    total, good, scrap, planned_min, unplanned_min) aggregated from OEE rows."""
    acc: dict[tuple[str, dt.date], list[float]] = {}
    for r in oee:
        key = (r[0], r[2].date())
        a = acc.setdefault(key, [0, 0, 0, 0, 0.0])
        a[0] += r[4]        # planned seconds
        a[1] += r[5]        # run seconds
        a[2] += r[7]        # total parts
        a[3] += r[8]        # good parts
        a[4] += r[7] * r[6]  # ideal seconds
    out = []
    for (line_id, day), (planned, run, total, good, ideal) in sorted(acc.items()):
        availability = run / planned if planned else 0.0
        performance = min(1.0, ideal / run) if run else 0.0
        quality = good / total if total else 1.0
        out.append((line_id, day, round(availability, 4), round(performance, 4), round(quality, 4),
                    round(availability * performance * quality, 4), int(total), int(good), int(total - good),
                    0, round((planned - run) / 60.0, 2)))
    return out


def total_sample_rows(plant: Plant, seconds: int, interval_s: int = 1) -> int:
    """Metric samples in a window of SECONDS."""
    return plant.metric_count * len(range(0, seconds, interval_s))


def hour_blocks(start: dt.datetime, end: dt.datetime, block_s: int = 3600) -> list[tuple[dt.datetime, int]]:
    """Split [START, END) into (block start, seconds) pieces of at most BLOCK_S seconds."""
    if end <= start:
        return []
    out = []
    t = start
    while t < end:
        n = int(min(block_s, (end - t).total_seconds()))
        out.append((t, n))
        t += dt.timedelta(seconds=n)
    return out
