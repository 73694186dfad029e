"""Streaming detectors: learnt daily patterns, spikes from the start, causality, persistence,
the CSV round trip, and NAB's labelled windows where ../shared holds them."""

import json
from pathlib import Path

import numpy as np
import pytest

from huizhili.errors import ValidationError
from huizhili.sensing.detectors import (
    DefaultDetector,
    ResidualDetector,
    SeasonalDetector,
    detector_from_dict,
    score_csv,
    score_series,
)

NAB = Path(__file__).parents[2].parent / "shared" / "data" / "sensors" / "nab"
DETECTORS = [ResidualDetector, SeasonalDetector, DefaultDetector]
FIVE_MINUTES = 300.0
DAY = 288
ALARM = 0.6
"""A score this high counts as an alarm in these tests."""


def daily_series(days: int = 21, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every five minutes: a quiet level with a sharp morning peak (08:30) and small noise."""
    rng = np.random.default_rng(seed)
    start = 1_700_000_000 - 1_700_000_000 % 86_400
    times = start + np.arange(days * DAY) * FIVE_MINUTES
    hour = (times % 86_400) / 3600
    values = 10 + 20 * np.exp(-((hour - 8.5) ** 2) / 0.5) + rng.normal(0, 0.5, len(times))
    return times, values


def test_the_learnt_daily_peak_raises_no_alarm_though_a_short_term_model_flags_it():
    times, values = daily_series()
    last_day = slice(20 * DAY, 21 * DAY)

    seasonal = SeasonalDetector().score_series(times, values)[last_day]
    short_term = ResidualDetector().score_series(times, values)[last_day]

    assert seasonal.max() < ALARM
    assert short_term.max() > ALARM


@pytest.mark.parametrize("change", ["spike", "level shift"])
def test_the_seasonal_detector_flags_a_spike_or_a_level_shift_on_the_last_day(change):
    times, values = daily_series()
    at = 20 * DAY + 30
    if change == "spike":
        values[at] += 10
    else:
        values[at:] += 8

    scores = SeasonalDetector().score_series(times, values)

    assert scores[at] > ALARM
    assert scores[20 * DAY : at].max() < ALARM


def test_the_residual_detector_flags_a_spike_in_the_first_day():
    rng = np.random.default_rng(2)
    values = 5 + rng.normal(0, 1, DAY)
    values[100] += 12
    times = np.arange(DAY) * FIVE_MINUTES

    scores = ResidualDetector().score_series(times, values)

    assert scores[100] > ALARM
    assert np.delete(scores, 100)[10:].max() < scores[100] - 0.2


def test_the_default_detector_scores_a_spike_above_every_normal_point():
    times, values = daily_series()
    at = 20 * DAY + 30
    values[at] += 10

    scores = DefaultDetector().score_series(times, values)

    assert scores[at] > np.delete(scores[20 * DAY :], 30).max()


@pytest.mark.parametrize("kind", DETECTORS)
def test_appending_future_points_leaves_earlier_scores_unchanged(kind):
    times, values = daily_series(days=8)
    cut = 5 * DAY + 17

    assert kind().score_series(times[:cut], values[:cut]).tolist() == (
        kind().score_series(times, values)[:cut].tolist()
    )


@pytest.mark.parametrize("kind", DETECTORS)
def test_scores_lie_in_the_unit_interval_on_rough_series(kind):
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [np.full(300, 4.0), rng.standard_cauchy(2000) * 50, np.zeros(200), [1e12, -1e12]]
    )
    times = np.arange(len(values)) * 60.0

    scores = kind().score_series(times, values)

    assert np.isfinite(scores).all()
    assert scores.min() >= 0.0
    assert scores.max() <= 1.0


@pytest.mark.parametrize("kind", DETECTORS)
def test_a_saved_and_resumed_detector_continues_with_identical_scores(kind):
    times, values = daily_series(days=10)
    cut = 7 * DAY + 5
    detector = kind()
    detector.score_series(times[:cut], values[:cut])

    resumed = detector_from_dict(json.loads(json.dumps(detector.to_dict())))

    assert type(resumed) is kind
    assert resumed.score_series(times[cut:], values[cut:]).tolist() == (
        kind().score_series(times, values)[cut:].tolist()
    )


def test_the_saved_state_stays_small_whatever_the_history():
    times, values = daily_series(days=21)
    detector = DefaultDetector()
    detector.score_series(times, values)

    assert len(json.dumps(detector.to_dict())) < 40_000


def test_update_one_point_at_a_time_gives_the_series_scores():
    times, values = daily_series(days=3)
    detector = DefaultDetector()

    one_by_one = [
        detector.update(t, v) for t, v in zip(times.tolist(), values.tolist(), strict=True)
    ]

    assert one_by_one == score_series(times, values).tolist()


def test_score_csv_writes_nab_results_with_the_series_scores(tmp_path):
    times, values = daily_series(days=2)
    stamps = times.astype("datetime64[s]").astype(str)
    source = tmp_path / "series.csv"
    lines = [f"{str(s).replace('T', ' ')},{v:.3f}" for s, v in zip(stamps, values, strict=True)]
    source.write_text("timestamp,value\n" + "\n".join(lines) + "\n")

    count = score_csv(source, tmp_path / "scores.csv")

    written = (tmp_path / "scores.csv").read_text().splitlines()
    expected = score_series(times, np.round(values, 3))
    assert count == len(values)
    assert written[0] == "timestamp,value,anomaly_score"
    assert [row.rsplit(",", 1)[0] for row in written[1:]] == lines
    assert [float(row.rsplit(",", 1)[1]) for row in written[1:]] == pytest.approx(
        expected.tolist(), abs=1e-6
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2015-09-01 13:55:00,abc", "not a number"),
        ("2015-09-01 13:55,4.1,7", "2 fields"),
        ("yesterday,4.1", "not a timestamp"),
        ("2015-09-01 13:55:00,nan", "not a finite number"),
    ],
)
def test_score_csv_refuses_a_bad_row_naming_its_line(tmp_path, row, reason):
    source = tmp_path / "bad.csv"
    source.write_text(f"timestamp,value\n2015-09-01 13:45:00,3\n2015-09-01 13:50:00,4\n{row}\n")

    with pytest.raises(ValidationError, match=f"line 4: .*{reason}"):
        score_csv(source, tmp_path / "scores.csv")


def test_score_csv_refuses_a_file_without_the_header(tmp_path):
    source = tmp_path / "bare.csv"
    source.write_text("2015-09-01 13:45:00,3\n")

    with pytest.raises(ValidationError, match="line 1"):
        score_csv(source, tmp_path / "scores.csv")


def nab_files() -> list[tuple[Path, list[tuple[str, str]]]]:
    windows = json.loads((NAB / "combined_windows.json").read_text())
    return [(NAB / name, spans) for name, spans in sorted(windows.items())]


def test_top_alarms_on_nab_fall_in_the_labelled_windows_more_often_than_chance(tmp_path):
    if not (NAB / "combined_windows.json").is_file():
        pytest.skip(f"{NAB} is absent (NAB's data are not shipped in this repository)")
    hits = points = covered = total = 0
    for path, spans in nab_files():
        count = score_csv(path, tmp_path / "scores.csv")
        rows = np.loadtxt(tmp_path / "scores.csv", delimiter=",", skiprows=1, dtype=str)
        stamps = rows[:, 0].astype("datetime64[s]")
        scores = rows[:, 2].astype(float)
        inside = np.zeros(count, dtype=bool)
        for start, end in spans:
            inside |= (stamps >= np.datetime64(start[:19])) & (stamps <= np.datetime64(end[:19]))
        scored = slice(int(0.15 * count), count)
        top = np.argsort(scores[scored])[-len(spans) * 5 :]
        hits += int(inside[scored][top].sum())
        points += len(top)
        covered += int(inside[scored].sum())
        total += count - int(0.15 * count)

    assert hits / points > 2 * covered / total
