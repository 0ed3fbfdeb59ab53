"""Unit tests of the benchmark's data generator (bench/ms5bench/datagen.py)."""

from __future__ import annotations

import datetime as dt
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))

from ms5bench import datagen  # noqa: E402

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def test_plant_size_and_unique_ids():
    plant = datagen.build_plant(3, 4, 12, seed=5)
    assert len(plant.lines) == 3
    assert len(plant.equipment) == 12
    assert plant.metric_count == 3 * 4 * 12
    assert len({m.id for m in plant.metrics}) == plant.metric_count
    assert len({(m.equipment, m.key) for m in plant.metrics}) == plant.metric_count  # UNIQUE in metric_def
    assert {m.value_type for m in plant.metrics} <= {"BOOL", "INT", "REAL"}


def test_plant_is_deterministic_per_seed():
    a, b = datagen.build_plant(2, 2, 3, seed=9), datagen.build_plant(2, 2, 3, seed=9)
    assert a.lines == b.lines and a.metrics == b.metrics
    assert datagen.build_plant(2, 2, 3, seed=10).lines[0].id != a.lines[0].id


@pytest.mark.parametrize("args", [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_plant_rejects_empty_sizes(args):
    with pytest.raises(ValueError):
        datagen.build_plant(*args)


def test_downtime_windows_inside_range_and_ordered():
    plant = datagen.build_plant(2, 1, 1)
    end = T0 + dt.timedelta(days=1)
    windows = datagen.downtime_windows(plant, T0, end)
    assert windows
    for line in (0, 1):
        mine = [w for w in windows if w.line == line]
        assert all(T0 <= w.start < w.end <= end for w in mine)
        assert all(a.end <= b.start for a, b in zip(mine, mine[1:]))


def test_down_seconds_marks_exactly_the_window():
    w = [datagen.Downtime(0, T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(seconds=15), "JAM", "unplanned")]
    flags = datagen.down_seconds(w, 0, T0, 20)
    assert [i for i, f in enumerate(flags) if f] == [10, 11, 12, 13, 14]
    assert not any(datagen.down_seconds(w, 1, T0, 20))


def test_samples_one_per_metric_per_second_in_time_order():
    plant = datagen.build_plant(1, 2, 10)
    gen = datagen.SampleGenerator(plant, [])
    rows = list(gen.rows(T0, 5))
    assert len(rows) == datagen.total_sample_rows(plant, 5) == 5 * 20
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert len({(r[0], r[1]) for r in rows}) == len(rows)  # the metric_hist primary key
    for mid, _ts, b, i, r in rows:
        assert sum(v is not None for v in (b, i, r)) == 1  # metric_hist_has_value


def test_samples_follow_downtime_and_counters_only_grow():
    plant = datagen.build_plant(1, 1, 10)
    window = datagen.Downtime(0, T0 + dt.timedelta(seconds=30), T0 + dt.timedelta(seconds=60), "JAM", "unplanned")
    gen = datagen.SampleGenerator(plant, [window])
    by_key = {m.id: m.key for m in plant.metrics}
    rows = list(gen.rows(T0, 90))
    running = [r[2] for r in rows if by_key[r[0]] == "running"]
    assert running[:30] == ["t"] * 30 and running[30:60] == ["f"] * 30 and running[60:] == ["t"] * 30
    speed = [float(r[4]) for r in rows if by_key[r[0]] == "speed"]
    assert all(v == 0 for v in speed[30:60]) and all(v > 50 for v in speed[:30])
    good = [int(r[3]) for r in rows if by_key[r[0]] == "good_count"]
    assert good == sorted(good)
    assert good[59] == good[30]  # flat while down


def test_copy_text_matches_rows():
    plant = datagen.build_plant(1, 1, 3)
    text, n = datagen.SampleGenerator(plant, []).copy_text(T0, 4)
    lines = text.splitlines()
    assert n == len(lines) == 12
    assert lines[0].split("\t")[1] == "2026-11-24 00:00:00+00"
    assert all(len(line.split("\t")) == 5 for line in lines)


def test_event_rows_respect_schema_checks():
    plant = datagen.build_plant(2, 2, 2)
    end = T0 + dt.timedelta(hours=6)
    windows = datagen.downtime_windows(plant, T0, end)
    oee = list(datagen.oee_rows(plant, windows, T0, end))
    assert len(oee) == 4 * 6 * 60
    for r in oee:
        planned, run, total, good = r[4], r[5], r[7], r[8]
        assert 0 <= run <= planned and 0 <= good <= total
        assert all(0 <= v <= 1 for v in (r[9], r[10], r[11], r[12]))
    for r in datagen.energy_rows(plant, windows, T0, end):
        assert r[4] >= 0 and 0 <= r[7] <= 1
    for code, bit, on, off, dur in datagen.fault_rows(plant, windows, T0, end):
        assert off >= on and dur >= 0 and 0 <= bit < 8
    downtime = datagen.downtime_rows(plant, windows)
    assert len(downtime) == len(windows)
    assert all(r[4] >= r[3] and r[5] >= 0 for r in downtime)
    categories = {"planned", "unplanned", "maintenance", "changeover"}
    assert {r[7] for r in downtime} <= categories
    kpis = datagen.kpi_rows(plant, oee)
    assert len(kpis) == 2  # two lines, one day
    assert all(r[7] <= r[6] for r in kpis)


def test_hour_blocks_cover_the_window():
    blocks = datagen.hour_blocks(T0, T0 + dt.timedelta(minutes=150), 3600)
    assert [n for _, n in blocks] == [3600, 3600, 1800]
    assert blocks[1][0] == T0 + dt.timedelta(hours=1)
    assert datagen.hour_blocks(T0, T0) == []
