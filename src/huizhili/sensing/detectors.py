"""Streaming anomaly detectors: one score in [0, 1] per observation, from the past alone.

Each detector keeps a small, fixed-size state per series (a few running statistics and a
168-slot weekly profile, never the history itself), so the rules engine can hold one per
device and metric, persist it with ``to_dict`` and resume with ``from_dict``. A score uses
only the points before it and the point itself: appending points never changes earlier
scores. :class:`DefaultDetector` is the one configuration used for every series; it is what
``bench/nab.py`` scores on the Numenta Anomaly Benchmark.
"""

import csv
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from huizhili.errors import ValidationError

HOURS_PER_WEEK = 168
_EPOCH_HOUR_OF_WEEK = 72
"""1970-01-01 was a Thursday: hour 72 of a week that starts on Monday."""

Timestamp = datetime | float


def hour_of_week(timestamp: Timestamp) -> int:
    """Hour of the week, 0 (Monday 00:00) to 167, of a datetime's wall clock or epoch seconds."""
    if isinstance(timestamp, datetime):
        return timestamp.weekday() * 24 + timestamp.hour
    return (int(timestamp // 3600) + _EPOCH_HOUR_OF_WEEK) % HOURS_PER_WEEK


def hours_of_week(timestamps: Sequence[Timestamp] | NDArray[Any]) -> NDArray[np.int64]:
    """:func:`hour_of_week` of many timestamps at once (datetimes, datetime64 or epoch seconds)."""
    array = np.asarray(timestamps)
    if array.dtype == object:
        return np.fromiter(map(hour_of_week, array), dtype=np.int64, count=len(array))
    if np.issubdtype(array.dtype, np.datetime64):
        seconds = array.astype("datetime64[s]").astype(np.int64)
    else:
        seconds = np.floor(array.astype(np.float64)).astype(np.int64)
    return (seconds // 3600 + _EPOCH_HOUR_OF_WEEK) % HOURS_PER_WEEK


@dataclass(frozen=True)
class DetectorSettings:
    """Rates and limits shared by the detectors; the defaults serve every series.

    They were chosen on 11 files of the Numenta Anomaly Benchmark (``bench/nab.py``), the
    same values for every file.
    """

    level_rate: float = 0.2
    """Weight of a new point in the short-term level (about the last 5 points)."""
    spread_rate: float = 0.02
    """Weight of a new point in the typical size of a residual (about the last 50)."""
    profile_rate: float = 0.2
    """Weight of a new point in its hour's profile slot."""
    profile_min_points: int = 8
    """Points a slot needs before it may explain a value."""
    offset_rate: float = 0.05
    """Weight of a new point in the level of the series against its profile."""
    range_margin: float = 0.005
    """A value this fraction of the seen range beyond that range adds 1 to its calibrated surprise."""
    smooth_rate: float = 0.5
    """Weight of a new surprise in the short average that the likelihood judges."""
    surprise_rate: float = 0.005
    """Weight of a new surprise in the long-run distribution of surprises."""
    peak_decay: float = 0.995
    """Per point, how much of the recent highest score is kept."""
    damping: float = 0.5
    """Factor on a score that does not top the recent highest."""
    half_score: float = 4.0
    """Surprise, in spreads, that maps to a score of 0.5."""


class Detector(ABC):
    """A streaming detector of one series: score each observation, then learn from it.

    Parameters
    ----------
    settings
        Rates; the defaults serve every series.
    """

    kind: ClassVar[str]
    """Name stored in :meth:`to_dict`'s output, which :func:`detector_from_dict` reads."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()

    def update(self, timestamp: Timestamp, value: float) -> float:
        """Score one observation, then learn from it.

        Parameters
        ----------
        timestamp
            When it was observed: a datetime (its wall clock sets the hour of the week) or
            epoch seconds (UTC).
        value
            The observed value.

        Returns
        -------
        float
            Anomaly score in [0, 1]; higher is more anomalous.

        Raises
        ------
        ValidationError
            If the value is not a finite number.
        """
        if not math.isfinite(value):
            message = f"an observation must be a finite number, not {value!r}"
            raise ValidationError(message)
        return self._step(hour_of_week(timestamp), float(value))

    def score_series(
        self, timestamps: Sequence[Timestamp] | NDArray[Any], values: Sequence[float] | NDArray[Any]
    ) -> NDArray[np.float64]:
        """Scores of many observations in order, exactly as :meth:`update` gives them.

        Parameters
        ----------
        timestamps
            Datetimes, ``datetime64`` values or epoch seconds, one per value.
        values
            Observed values, finite.

        Returns
        -------
        numpy.ndarray
            One anomaly score in [0, 1] per value.

        Raises
        ------
        ValidationError
            If the lengths differ or a value is not finite.
        """
        array = np.asarray(values, dtype=np.float64)
        hours = hours_of_week(timestamps)
        if len(hours) != len(array):
            message = f"{len(hours)} timestamps for {len(array)} values"
            raise ValidationError(message)
        if not np.isfinite(array).all():
            message = f"value {int(np.argmin(np.isfinite(array)))} is not a finite number"
            raise ValidationError(message)
        step = self._step
        return np.fromiter(
            (step(h, v) for h, v in zip(hours.tolist(), array.tolist(), strict=True)),
            dtype=np.float64,
            count=len(array),
        )

    def to_dict(self) -> dict[str, Any]:
        """State as plain JSON-ready values, a few hundred numbers whatever the history."""
        return {"kind": self.kind, "settings": asdict(self.settings), **self._state()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Self:
        """Detector resumed from :meth:`to_dict`'s output.

        Parameters
        ----------
        state
            What :meth:`to_dict` returned, possibly after a JSON round trip.

        Returns
        -------
        Detector
            A detector that scores the following points as the saved one would have.
        """
        detector = cls(DetectorSettings(**state["settings"]))
        detector._restore(state)
        return detector

    @abstractmethod
    def _step(self, hour: int, value: float) -> float:
        """Score of one value at an hour of the week, then learn from it."""

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """The learnt state, without kind and settings."""

    @abstractmethod
    def _restore(self, state: dict[str, Any]) -> None:
        """Take back the learnt state from :meth:`to_dict`'s output."""


class ResidualDetector(Detector):
    """Robust z-score of each value against a short-term level; needs no history to start.

    The level is an exponentially weighted mean; the spread is the weighted mean absolute
    residual. Early on both rates fall back to a plain running mean, so the third point is
    already judged: a spike in a series' first day is flagged.
    """

    kind = "residual"

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        super().__init__(settings)
        self.count = 0
        self.level = 0.0
        self.spread = 0.0

    def surprise(self, value: float) -> float:
        """Residual of ``value`` in spreads, then learn from it."""
        self.count += 1
        if self.count == 1:
            self.level = value
            return 0.0
        residual = value - self.level
        floor = 1e-9 + 1e-6 * abs(self.level)
        surprise = abs(residual) / max(self.spread, floor) if self.count > 2 else 0.0
        self.spread += max(self.settings.spread_rate, 1.0 / (self.count - 1)) * (
            abs(residual) - self.spread
        )
        self.level += max(self.settings.level_rate, 1.0 / self.count) * residual
        return surprise

    def _step(self, hour: int, value: float) -> float:
        return _score(self.surprise(value), self.settings.half_score)

    def _state(self) -> dict[str, Any]:
        return {"count": self.count, "level": self.level, "spread": self.spread}

    def _restore(self, state: dict[str, Any]) -> None:
        self.count, self.level, self.spread = state["count"], state["level"], state["spread"]


class SeasonalDetector(Detector):
    """Residual against each series' own weekly and daily pattern, blended with a short-term one.

    A 168-slot profile learns the usual value and spread for each hour of the week, and a
    24-slot one for each hour of the day (ready a week sooner). A value is explained when it
    is close either to the short-term level or to its slot's usual value moved by the
    series' current offset from its profile; its surprise is the smallest of those
    residuals in spreads. The daily peak is thus expected once a few days are seen, while a
    level shift or a spike is far from all of them.
    """

    kind = "seasonal"

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        super().__init__(settings)
        self.short_term = ResidualDetector(self.settings)
        self.week = _Profile(HOURS_PER_WEEK)
        self.day = _Profile(24)
        self.offset = 0.0

    def surprise(self, hour: int, value: float) -> float:
        """Smallest residual of ``value`` in spreads among the models, then learn from it."""
        settings = self.settings
        surprise = self.short_term.surprise(value)
        floor = 1e-9 + 1e-6 * abs(value)
        hour_of_day = hour % 24
        for profile, slot in ((self.week, hour), (self.day, hour_of_day)):
            if profile.count[slot] >= settings.profile_min_points:
                expected = profile.mean[slot] + self.offset
                spread = max(profile.spread[slot], floor)
                surprise = min(surprise, abs(value - expected) / spread)
        usual = self.day.mean[hour_of_day] if self.day.count[hour_of_day] else value
        self.offset += settings.offset_rate * (value - usual - self.offset)
        self.week.learn(hour, value - self.offset, settings.profile_rate)
        self.day.learn(hour_of_day, value - self.offset, settings.profile_rate)
        return surprise

    def _step(self, hour: int, value: float) -> float:
        return _score(self.surprise(hour, value), self.settings.half_score)

    def _state(self) -> dict[str, Any]:
        return {
            "short_term": self.short_term.to_dict(),
            "week": self.week.to_dict(),
            "day": self.day.to_dict(),
            "offset": self.offset,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.short_term = ResidualDetector.from_dict(state["short_term"])
        self.week = _Profile.from_dict(state["week"])
        self.day = _Profile.from_dict(state["day"])
        self.offset = state["offset"]


class DefaultDetector(Detector):
    """The one configuration for every series: seasonal surprise, new extremes, calibration.

    The seasonal surprise of :class:`SeasonalDetector`, on a log scale and averaged over a
    few points so that a run of moderate residuals counts as well as one large one, is
    judged against the series' own running mean and variance of that average: a noisy
    series must surprise more than a quiet one to score the same. A value beyond the range
    seen so far adds in proportion to how far beyond it lies. A score that does not top the
    recent highest score (which fades by ``peak_decay`` a point) is damped, since one event
    should raise one alarm, not one per point it lasts.
    """

    kind = "default"

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        super().__init__(settings)
        self.seasonal = SeasonalDetector(self.settings)
        self.count = 0
        self.low = 0.0
        self.high = 0.0
        self.smooth = 0.0
        self.surprise_mean = 0.0
        self.surprise_var = 0.0
        self.recent_peak = 0.0

    def _step(self, hour: int, value: float) -> float:
        settings = self.settings
        self.count += 1
        surprise = math.log1p(self.seasonal.surprise(hour, value))
        self.smooth += settings.smooth_rate * (surprise - self.smooth)
        deviation = self.smooth - self.surprise_mean
        likelihood_z = deviation / math.sqrt(self.surprise_var + 1e-6)
        rate = max(settings.surprise_rate, 1.0 / self.count)
        self.surprise_mean += rate * deviation
        self.surprise_var += rate * (deviation * deviation - self.surprise_var)
        if self.count == 1:
            self.low = self.high = value
        excess = max(value - self.high, self.low - value, 0.0)
        extreme = excess / (self.high - self.low + 1e-9) / settings.range_margin
        self.low, self.high = min(self.low, value), max(self.high, value)
        if self.count <= 2:
            extreme = 0.0
        score = _score(max(likelihood_z, 0.0) + extreme, settings.half_score)
        recent = self.recent_peak
        self.recent_peak = max(recent * settings.peak_decay, score)
        return score if score > recent else score * settings.damping

    def _state(self) -> dict[str, Any]:
        return {"seasonal": self.seasonal.to_dict()} | {
            name: getattr(self, name) for name in self._SCALARS
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.seasonal = SeasonalDetector.from_dict(state["seasonal"])
        for name in self._SCALARS:
            setattr(self, name, state[name])

    _SCALARS = (
        "count",
        "low",
        "high",
        "smooth",
        "surprise_mean",
        "surprise_var",
        "recent_peak",
    )


def detector_from_dict(state: dict[str, Any]) -> Detector:
    """Detector of whichever kind :meth:`Detector.to_dict` saved, resumed.

    Parameters
    ----------
    state
        What :meth:`Detector.to_dict` returned.

    Returns
    -------
    Detector
        The saved detector, ready for the next point.

    Raises
    ------
    ValidationError
        If the kind is unknown.
    """
    kinds = {cls.kind: cls for cls in (ResidualDetector, SeasonalDetector, DefaultDetector)}
    if state.get("kind") not in kinds:
        message = f"unknown detector kind {state.get('kind')!r}; known: {', '.join(kinds)}"
        raise ValidationError(message)
    return kinds[state["kind"]].from_dict(state)


def score_series(
    timestamps: Sequence[Timestamp] | NDArray[Any], values: Sequence[float] | NDArray[Any]
) -> NDArray[np.float64]:
    """Anomaly scores of one whole series by a fresh :class:`DefaultDetector`.

    Parameters
    ----------
    timestamps
        Datetimes, ``datetime64`` values or epoch seconds, in order.
    values
        Observed values, one per timestamp.

    Returns
    -------
    numpy.ndarray
        One score in [0, 1] per value, each from the points up to it.

    Raises
    ------
    ValidationError
        If the lengths differ or a value is not finite.
    """
    return DefaultDetector().score_series(timestamps, values)


def score_csv(in_path: str | Path, out_path: str | Path) -> int:
    """Score a ``timestamp,value`` CSV file and write ``timestamp,value,anomaly_score``.

    The output is the result format of the Numenta Anomaly Benchmark; timestamps and values
    are copied as they were written.

    Parameters
    ----------
    in_path
        CSV file with the header ``timestamp,value`` and rows such as
        ``2015-09-01 13:45:00,3.06`` (ISO 8601 timestamps), in time order.
    out_path
        Where to write the scores.

    Returns
    -------
    int
        Number of rows scored.

    Raises
    ------
    ValidationError
        If the header is not ``timestamp,value`` or a row is malformed; the message names
        the line.
    """
    with open(in_path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    if not rows or [cell.strip() for cell in rows[0]] != ["timestamp", "value"]:
        message = f"{in_path}: line 1 must be the header 'timestamp,value'"
        raise ValidationError(message)
    timestamps, values = [], []
    for line, row in enumerate(rows[1:], start=2):
        timestamp, value = _parse_row(row, f"{in_path}: line {line}")
        timestamps.append(timestamp)
        values.append(value)
    scores = DefaultDetector().score_series(timestamps, values)
    with open(out_path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score"])
        writer.writerows(
            (row[0].strip(), row[1].strip(), f"{score:.6f}")
            for row, score in zip(rows[1:], scores.tolist(), strict=True)
        )
    return len(values)


def _parse_row(row: list[str], where: str) -> tuple[datetime, float]:
    """Timestamp and finite value of one CSV row, or a ValidationError naming ``where``."""
    if len(row) != 2:
        message = f"{where}: expected 2 fields 'timestamp,value', got {len(row)}"
        raise ValidationError(message)
    try:
        timestamp = datetime.fromisoformat(row[0].strip())
    except ValueError as error:
        message = f"{where}: {row[0]!r} is not a timestamp like 2015-09-01 13:45:00"
        raise ValidationError(message) from error
    try:
        value = float(row[1])
    except ValueError as error:
        message = f"{where}: {row[1]!r} is not a number"
        raise ValidationError(message) from error
    if not math.isfinite(value):
        message = f"{where}: {row[1]!r} is not a finite number"
        raise ValidationError(message)
    return timestamp, value


class _Profile:
    """Usual value and spread per slot, each learnt by exponential weighting."""

    def __init__(self, slots: int) -> None:
        self.count = [0] * slots
        self.mean = [0.0] * slots
        self.spread = [0.0] * slots

    def learn(self, slot: int, value: float, rate: float) -> None:
        """Move slot ``slot`` towards ``value``."""
        self.count[slot] += 1
        weight = max(rate, 1.0 / self.count[slot])
        residual = value - self.mean[slot]
        if self.count[slot] > 1:
            self.spread[slot] += weight * (abs(residual) - self.spread[slot])
        self.mean[slot] += weight * residual

    def to_dict(self) -> dict[str, list[int] | list[float]]:
        """State as plain lists."""
        return {"count": self.count, "mean": self.mean, "spread": self.spread}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "_Profile":
        """Profile rebuilt from :meth:`to_dict`'s output."""
        profile = cls(len(state["count"]))
        profile.count, profile.mean, profile.spread = (
            list(state["count"]),
            list(state["mean"]),
            list(state["spread"]),
        )
        return profile


def _score(surprise: float, half: float) -> float:
    """Surprise mapped onto [0, 1): ``half`` gives 0.5, and larger surprises stay apart."""
    return surprise / (surprise + half)
