"""The working-day calendar: Chinese public holidays, their make-up working days (调休), time limits.

Each year the State Council General Office publishes which days are holidays and which weekend
days are worked instead (国务院办公厅关于<year>年部分节假日安排的通知). ``parse_notice`` reads such a
notice as published and ``write_year`` stores it as ``<year>.toml``, the format of the years shipped
in ``holidays/``; a district adds or overrides years with files of its own (``load_calendar``).

Time limits (``Limit``) count working time — the office hours of working days, in the office's
zone (``OfficeHours``) — or natural time (自然时), which ignores the calendar. A working day is one
working day's office hours, so "1wd" from 10:00 on a Monday is due at 10:00 on Tuesday. A count
that ends as an office closes is due at the closing, not at the next opening: a case received
after hours on Monday with "1wd" is due when Tuesday's office hours end, as the civil code counts
a period of days (民法典 art. 201 and 203: the day a period starts is not counted, and its last
day ends when business stops).
"""

import json
import logging
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from huizhili.errors import NaiveTimeError, ValidationError

log = logging.getLogger(__name__)

HOLIDAYS_DIR = Path(__file__).with_name("holidays")
"""The shipped years, one ``<year>.toml`` each, made by ``write_year`` from the notices."""
WARN_SHARE = 0.8
"""Share of a time limit after which the case clock warns that the case is getting late."""
FESTIVALS = {
    "元旦": "New Year's Day",
    "春节": "Spring Festival",
    "清明节": "Qingming Festival",
    "劳动节": "Labour Day",
    "端午节": "Dragon Boat Festival",
    "中秋节": "Mid-Autumn Festival",
    "国庆节": "National Day",
}
"""The holidays of every citizen (全国年节及纪念日放假办法 art. 2) and their English names."""


@dataclass(frozen=True)
class Holiday:
    """One holiday break, first to last day, and the weekend days worked to make up for it."""

    name: str
    name_en: str
    first: date
    last: date
    makeup_working_days: tuple[date, ...] = ()


@dataclass(frozen=True)
class YearSchedule:
    """A year's holidays as the State Council notice sets them, with the notice cited."""

    year: int
    source: str
    holidays: tuple[Holiday, ...]


@dataclass(frozen=True)
class WorkCalendar:
    """Which days offices work: weekdays that are no holiday, and the make-up working days.

    A day of a year with no schedule is judged by its weekday alone; ``knows`` says whether a
    day's answer rests on a published schedule, so that callers can flag what is an estimate.
    """

    schedules: tuple[YearSchedule, ...]
    years: frozenset[int] = field(init=False)
    holidays: frozenset[date] = field(init=False)
    makeup_working_days: frozenset[date] = field(init=False)

    def __post_init__(self) -> None:
        years = [schedule.year for schedule in self.schedules]
        if len(set(years)) != len(years):
            message = f"a calendar holds each year once, not {sorted(years)}"
            raise ValidationError(message)
        breaks = [holiday for schedule in self.schedules for holiday in schedule.holidays]
        object.__setattr__(self, "years", frozenset(years))
        object.__setattr__(self, "holidays", frozenset(day for h in breaks for day in _dates(h.first, h.last)))
        object.__setattr__(self, "makeup_working_days", frozenset(day for h in breaks for day in h.makeup_working_days))

    def is_working_day(self, day: date) -> bool:
        """Whether offices work on ``day``: a weekday unless a holiday, a weekend day only as a make-up day."""
        if day in self.holidays:
            return False
        return day in self.makeup_working_days or day.weekday() < 5

    def knows(self, day: date) -> bool:
        """Whether ``day`` lies in a year whose schedule the calendar holds."""
        return day.year in self.years


def load_calendar(extra_dir: Path | None = None) -> WorkCalendar:
    """The shipped years, plus the ``<year>.toml`` files of a district's own folder.

    A district's file replaces the shipped file of its year, so a district can ship a year
    before a release does, or correct one. A folder that does not exist adds nothing.

    Parameters
    ----------
    extra_dir
        The district's folder of year files, e.g. ``data_dir/holidays``.

    Raises
    ------
    ValidationError
        If a file is not named ``<year>.toml`` or is not a valid year schedule; the message
        names the file and the record.
    """
    files = {_file_year(path): path for path in sorted(HOLIDAYS_DIR.glob("*.toml"))}
    if extra_dir is not None and extra_dir.is_dir():
        for path in sorted(extra_dir.glob("*.toml")):
            year = _file_year(path)
            if year in files:
                log.info("%s replaces the shipped calendar of %d", path, year)
            files[year] = path
    return WorkCalendar(tuple(read_year(path) for _, path in sorted(files.items())))


def read_year(path: Path) -> YearSchedule:
    """Read and check one ``<year>.toml`` file.

    Raises
    ------
    ValidationError
        If the file is not TOML, lacks a field or has one it should not, or breaks a rule: a
        holiday's first day after its last, a day outside the file's year, a make-up working day
        that is no Saturday or Sunday, or a day both a holiday and a make-up working day.
    """
    name = path.name
    year = _file_year(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        message = f"{name}: not a TOML file ({exc})"
        raise ValidationError(message) from exc
    _check_keys(data, {"year", "source", "holiday"}, set(), name)
    if data["year"] != year:
        message = f"{name}: year is {data['year']!r}, but the file is named for {year}"
        raise ValidationError(message)
    records = data["holiday"]
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        message = f"{name}: holiday must be an array of tables ([[holiday]])"
        raise ValidationError(message)
    holidays = tuple(_holiday_from_record(record, _record_label(name, number, record)) for number, record in enumerate(records, 1))
    schedule = YearSchedule(year, _text(data, "source", name), holidays)
    _check_schedule(schedule, name)
    return schedule


def write_year(schedule: YearSchedule, folder: Path) -> Path:
    """Write ``<year>.toml`` in ``folder`` (made if missing), in the format of the shipped years.

    The file is written whole under a temporary name and then moved into place, so a calendar
    loading meanwhile reads the old file or the new one, never half of one.

    Raises
    ------
    ValidationError
        If the schedule breaks a rule ``read_year`` checks: no file is written that loading refuses.
    """
    target = folder / f"{schedule.year}.toml"
    _check_schedule(schedule, target.name)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{target.name}.partial"
    partial.write_text(_toml_text(schedule), encoding="utf-8")
    partial.replace(target)
    return target


def parse_notice(text: str, year: int) -> YearSchedule:
    """Read the State Council's holiday notice for ``year`` as published.

    Reads the title, the document number (where given), the date it was signed and each
    numbered paragraph (``二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）
    放假调休，共9天。2月14日（周六）、2月28日（周六）上班。``), in full-width or plain punctuation.
    Each weekday the notice gives is checked against the date, and each stated number of days
    against the range, so that a typo or the notice of another year is caught before it moves
    deadlines.

    Raises
    ------
    ValidationError
        If the text is not that year's notice, lacks a holiday, or a paragraph cannot be read or
        contradicts itself; the message names the holiday.
    """
    text = unicodedata.normalize("NFKC", text)
    compact = re.sub(r"\s+", "", text)
    title = re.search(r"国务院办公厅关于(\d{4})年部分节假日安排的通知", compact)
    if title is None:
        message = "not a State Council holiday notice: no title 国务院办公厅关于<year>年部分节假日安排的通知"
        raise ValidationError(message)
    if int(title[1]) != year:
        message = f"this is the notice for {title[1]}, not {year}"
        raise ValidationError(message)
    signed = list(_SIGNED.finditer(text))
    if not signed:
        message = f"notice for {year}: the date it was signed (a line like 2025年11月4日) is missing"
        raise ValidationError(message)
    signed_on = _notice_date(signed[-1], int(signed[-1]["year"]), 1, f"notice for {year}, signature")
    # gov.cn heads the notice with its document number; the text Xinhua released has none.
    number = re.search(r"国办发明电[〔\[(](\d{4})[〕\])](\d+)号", compact)
    cited = f"{title[0]} (国办发明电〔{number[1]}〕{number[2]}号)" if number else title[0]
    source = f"{cited}, {signed_on.isoformat()}"
    holidays = tuple(
        _holiday_from_paragraph(paragraph["name"], paragraph["body"], year) for paragraph in _PARAGRAPH.finditer(text)
    )
    named = {part for holiday in holidays for part in holiday.name.split("、")}
    missing = [name for name in FESTIVALS if name not in named]
    if missing:
        message = f"notice for {year}: no paragraph for {'、'.join(missing)}; is the text complete?"
        raise ValidationError(message)
    schedule = YearSchedule(year, source, holidays)
    _check_schedule(schedule, f"notice for {year}")
    return schedule


@dataclass(frozen=True)
class OfficeHours:
    """When working time runs on a working day: spans of local clock time, in the office's zone.

    The default, 09:00 to 17:00 in Asia/Shanghai, is the 8-hour working day of state organs
    (国务院关于职工工作时间的规定 art. 3), starting when Shanghai's service windows open; an office
    that stops at noon gives two spans, e.g. ``((time(9), time(12)), (time(13, 30), time(17, 30)))``.
    """

    spans: tuple[tuple[time, time], ...] = ((time(9), time(17)),)
    zone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        ends = [moment for span in self.spans for moment in span]
        if not ends or any(later <= earlier for earlier, later in pairwise(ends)):
            message = f"office hours must be one or more spans of the day in order, each opening before it closes, not {self.spans!r}"
            raise ValidationError(message)
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            message = f"unknown time zone {self.zone!r}; give an IANA name such as Asia/Shanghai"
            raise ValidationError(message) from exc

    @property
    def day_length(self) -> timedelta:
        """The working time of one working day: how long "1wd" is."""
        return sum((datetime.combine(date.min, closes) - datetime.combine(date.min, opens) for opens, closes in self.spans), timedelta())


OFFICE_HOURS = OfficeHours()
"""09:00 to 17:00, Asia/Shanghai."""


class Unit(StrEnum):
    """What a time limit counts: working time (office hours of working days) or natural time."""

    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    DAYS = "days"
    HOURS = "hours"
    MINUTES = "minutes"


_SUFFIXES = {"wd": Unit.WORKING_DAYS, "wh": Unit.WORKING_HOURS, "d": Unit.DAYS, "h": Unit.HOURS, "min": Unit.MINUTES}
_NATURAL = {Unit.DAYS: timedelta(days=1), Unit.HOURS: timedelta(hours=1), Unit.MINUTES: timedelta(minutes=1)}


@dataclass(frozen=True)
class Limit:
    """A time limit: a whole number of a unit, written ``5wd``, ``4wh``, ``3d``, ``2h`` or ``30min``.

    The unit may be given as its stored text (``"working_days"``), as a case type's row holds it.
    """

    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "unit", Unit(self.unit))
        except ValueError as exc:
            message = f"unknown time limit unit {self.unit!r}; one of {', '.join(Unit)}"
            raise ValidationError(message) from exc
        if type(self.amount) is not int or self.amount < 1:
            message = f"a time limit is a positive whole number of {self.unit}, not {self.amount!r}"
            raise ValidationError(message)

    @classmethod
    def parse(cls, text: str) -> "Limit":
        """Read a limit as written in a case type's settings (``5wd``, ``30min``).

        Raises
        ------
        ValidationError
            If the text is not a positive whole number followed by wd (working days), wh (working
            hours), d (days), h (hours) or min (minutes).
        """
        found = re.fullmatch(r"\s*(\d+)\s*(wd|wh|d|h|min)\s*", text.lower())
        if found is None or int(found[1]) == 0:
            message = (
                f"time limit {text!r} is not understood: write a positive whole number and a unit, wd (working days),"
                " wh (working hours), d (days), h (hours) or min (minutes), e.g. 5wd or 30min"
            )
            raise ValidationError(message)
        return cls(int(found[1]), _SUFFIXES[found[2]])

    def __str__(self) -> str:
        suffix = next(suffix for suffix, unit in _SUFFIXES.items() if unit is self.unit)
        return f"{self.amount}{suffix}"

    @property
    def counts_working_time(self) -> bool:
        """Whether only office hours of working days count (else every minute does: 自然时)."""
        return self.unit in (Unit.WORKING_DAYS, Unit.WORKING_HOURS)

    def length(self, office: OfficeHours) -> timedelta:
        """The time the limit allows: working time for working units, elapsed time otherwise."""
        if self.unit is Unit.WORKING_DAYS:
            return office.day_length * self.amount
        if self.unit is Unit.WORKING_HOURS:
            return timedelta(hours=self.amount)
        return _NATURAL[self.unit] * self.amount


@dataclass(frozen=True)
class Deadline:
    """When a case is due, and when the clock should warn that it is getting late.

    ``estimated`` is true when the count ran through a day of a year the calendar does not
    know: that part was counted on plain weekdays, so a holiday there may move the due time.
    """

    due: datetime
    warn_at: datetime
    estimated: bool


@dataclass(frozen=True)
class Countdown:
    """How far along a case's time limit is at a moment, for the countdown shown to citizens.

    ``share`` is 0 at the start, 1 when due, more when overdue; ``remaining`` is the time left in
    the limit's own measure (working time for working units), negative once overdue;
    ``estimated`` as for ``Deadline``, for the days from the start to the moment.
    """

    share: float
    remaining: timedelta
    estimated: bool


def deadline(calendar: WorkCalendar, start: datetime, limit: Limit, *, office: OfficeHours = OFFICE_HOURS) -> Deadline:
    """When a case started at ``start`` is due under ``limit``, and its warning point.

    Working time runs only in ``office`` hours of working days: a case received on a Saturday
    or after hours starts counting at the next opening, and a count ending as an office closes
    is due at the closing. The warning point is where ``WARN_SHARE`` of the limit has run, in the
    same time. Natural time (d, h, min) runs round the clock, holidays included. ``start`` may be
    in any zone; ``due`` and ``warn_at`` are in UTC.

    Raises
    ------
    NaiveTimeError
        If ``start`` has no zone.
    """
    start = _as_utc(start, "start")
    length = limit.length(office)
    if not limit.counts_working_time:
        return Deadline(due=start + length, warn_at=start + length * WARN_SHARE, estimated=False)
    due = _advance(calendar, office, start, length)
    warn_at = _advance(calendar, office, start, length * WARN_SHARE)
    return Deadline(due=due, warn_at=warn_at, estimated=not _knows_between(calendar, office, start, due))


def countdown(
    calendar: WorkCalendar, start: datetime, now: datetime, limit: Limit, *, office: OfficeHours = OFFICE_HOURS
) -> Countdown:
    """How much of ``limit`` a case started at ``start`` has used by ``now``, counted as ``deadline`` counts.

    A ``now`` before ``start`` (a clock behind) counts as nothing used.

    Raises
    ------
    NaiveTimeError
        If ``start`` or ``now`` has no zone.
    """
    start, now = _as_utc(start, "start"), _as_utc(now, "now")
    length = limit.length(office)
    if limit.counts_working_time:
        used = _working_time(calendar, office, start, now)
        estimated = not _knows_between(calendar, office, start, now)
    else:
        used, estimated = max(now - start, timedelta()), False
    return Countdown(share=used / length, remaining=length - used, estimated=estimated)


_SIGNED = re.compile(r"^\s*(?P<year>\d{4})年(?P<month>\d{1,2})月(?P<day>\d{1,2})日\s*$", re.MULTILINE)
_PARAGRAPH = re.compile(r"^\s*[一二三四五六七八九十]+、(?P<name>[^:\n]+):(?P<body>.+)$", re.MULTILINE)
_DATE_TEXT = r"(?:\d{1,2}月)?\d{1,2}日(?:\([^)]*\))?"
_FIRST_DATE_TEXT = r"\d{1,2}月\d{1,2}日(?:\([^)]*\))?"
_DATE = re.compile(r"(?:(?P<month>\d{1,2})月)?(?P<day>\d{1,2})日(?:\((?P<note>[^)]*)\))?")
_BREAK = re.compile(rf"(?P<range>{_FIRST_DATE_TEXT}(?:至{_DATE_TEXT})?)放假(?:调休)?(?:,?共)?(?P<days>\d+)天")
_WEEKDAY = re.compile(r"(?:周|星期)([一二三四五六日天])")
_WEEKDAY_NAMES = "一二三四五六日"


def _holiday_from_paragraph(name: str, body: str, year: int) -> Holiday:
    """One numbered paragraph of a notice: its first sentence the break, any sentence with 上班 the make-up days."""
    where = f"notice for {year}, {name}"
    unknown = [part for part in name.split("、") if part not in FESTIVALS]
    if unknown:
        message = f"{where}: {'、'.join(unknown)} is none of the holidays of 全国年节及纪念日放假办法 ({'、'.join(FESTIVALS)})"
        raise ValidationError(message)
    first_sentence, *others = body.split("。")
    found = _BREAK.match(first_sentence)
    if found is None:
        message = f"{where}: cannot read the holiday's days in {first_sentence!r}"
        raise ValidationError(message)
    first_date, *last_date = _DATE.finditer(found["range"])
    first = _notice_date(first_date, year, 1, where)  # _BREAK makes the first date name its month
    last = _notice_date(last_date[0], year, first.month, where) if last_date else first
    stated = int(found["days"])
    if (last - first).days + 1 != stated:
        message = f"{where}: {first.isoformat()} to {last.isoformat()} is {(last - first).days + 1} days, but the notice says {stated}"
        raise ValidationError(message)
    makeup: list[date] = []
    for sentence in others:
        if "上班" in sentence:
            for day in _DATE.finditer(sentence):
                makeup.append(_notice_date(day, year, (makeup[-1] if makeup else last).month, where))
    name_en = " and ".join(FESTIVALS[part] for part in name.split("、"))
    return Holiday(name, name_en, first, last, tuple(makeup))


def _notice_date(found: re.Match[str], year: int, month: int, where: str) -> date:
    """A date the notice gives (``2月15日（农历腊月二十八、周日）``), in ``month`` if it names none, its weekday checked."""
    try:
        day = date(year, int(found["month"] or month), int(found["day"]))
    except ValueError as exc:
        message = f"{where}: {found[0]} is no day of {year}"
        raise ValidationError(message) from exc
    weekday = _WEEKDAY.search(found.groupdict().get("note") or "")
    if weekday is not None and _WEEKDAY_NAMES[day.weekday()] != weekday[1].replace("天", "日"):
        message = (
            f"{where}: {day.isoformat()} is a 周{_WEEKDAY_NAMES[day.weekday()]}, but the notice says 周{weekday[1]}"
            " (a typo, or the notice of another year?)"
        )
        raise ValidationError(message)
    return day


def _holiday_from_record(record: dict[str, Any], where: str) -> Holiday:
    """One ``[[holiday]]`` table of a year file, its fields and their types checked."""
    _check_keys(record, {"name", "name_en", "first", "last"}, {"makeup_working_days"}, where)
    makeup = record.get("makeup_working_days", [])
    if not isinstance(makeup, list):
        message = f"{where}: makeup_working_days must be a list of dates"
        raise ValidationError(message)
    return Holiday(
        name=_text(record, "name", where),
        name_en=_text(record, "name_en", where),
        first=_day(record["first"], "first", where),
        last=_day(record["last"], "last", where),
        makeup_working_days=tuple(_day(day, "makeup_working_days", where) for day in makeup),
    )


def _check_schedule(schedule: YearSchedule, where: str) -> None:
    """Refuse a schedule whose days contradict each other or lie outside its year."""
    year = schedule.year
    holiday_of: dict[date, str] = {}
    for number, holiday in enumerate(schedule.holidays, 1):
        record = f"{where}, holiday {number} ({holiday.name})"
        if holiday.first > holiday.last:
            message = f"{record}: first day {holiday.first.isoformat()} is after last day {holiday.last.isoformat()}"
            raise ValidationError(message)
        outside = [day for day in (holiday.first, holiday.last, *holiday.makeup_working_days) if day.year != year]
        if outside:
            message = f"{record}: {outside[0].isoformat()} is not in {year}"
            raise ValidationError(message)
        for day in holiday.makeup_working_days:
            if day.weekday() < 5:
                message = f"{record}: make-up working day {day.isoformat()} is a {day:%A}; only a Saturday or Sunday is made a working day"
                raise ValidationError(message)
        holiday_of.update(dict.fromkeys(_dates(holiday.first, holiday.last), holiday.name))
    for number, holiday in enumerate(schedule.holidays, 1):
        for day in holiday.makeup_working_days:
            if day in holiday_of:
                message = f"{where}, holiday {number} ({holiday.name}): {day.isoformat()} is both a make-up working day and a day of {holiday_of[day]}"
                raise ValidationError(message)


def _toml_text(schedule: YearSchedule) -> str:
    """A schedule as the text of its ``<year>.toml``."""
    lines = [
        f"# The holidays and make-up working days (调休上班) of {schedule.year}, as the notice cited in source sets them.",
        f"year = {schedule.year}",
        f"source = {_toml_string(schedule.source)}",
    ]
    for holiday in schedule.holidays:
        makeup = ", ".join(day.isoformat() for day in holiday.makeup_working_days)
        lines += [
            "",
            "[[holiday]]",
            f"name = {_toml_string(holiday.name)}",
            f"name_en = {_toml_string(holiday.name_en)}",
            f"first = {holiday.first.isoformat()}",
            f"last = {holiday.last.isoformat()}",
            f"makeup_working_days = [{makeup}]",
        ]
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(text, ensure_ascii=False)


def _file_year(path: Path) -> int:
    """The year a file is named for (``2026.toml``)."""
    if not re.fullmatch(r"\d{4}", path.stem):
        message = f"{path.name}: a calendar file is named <year>.toml, e.g. 2027.toml"
        raise ValidationError(message)
    return int(path.stem)


def _record_label(file_name: str, number: int, record: dict[str, Any]) -> str:
    """How messages name a ``[[holiday]]`` table: file, position and, where it has one, name."""
    name = record.get("name")
    return f"{file_name}, holiday {number}" + (f" ({name})" if isinstance(name, str) else "")


def _check_keys(record: dict[str, Any], required: set[str], optional: set[str], where: str) -> None:
    """Refuse a table lacking a required key or holding one it should not (a misspelt key would be ignored)."""
    missing = sorted(required - record.keys())
    unknown = sorted(record.keys() - required - optional)
    if missing or unknown:
        problems = ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"has unknown {', '.join(unknown)}"] if unknown else [])
        message = f"{where}: {' and '.join(problems)}"
        raise ValidationError(message)


def _text(record: dict[str, Any], key: str, where: str) -> str:
    """A field that must be non-empty text."""
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        message = f"{where}: {key} must be non-empty text, not {value!r}"
        raise ValidationError(message)
    return value


def _day(value: object, key: str, where: str) -> date:
    """A field that must be a TOML local date (``2026-02-15``), not a time or text."""
    if not isinstance(value, date) or isinstance(value, datetime):
        message = f"{where}: {key} must hold dates written like 2026-02-15, not {value!r}"
        raise ValidationError(message)
    return value


def _dates(first: date, last: date) -> Iterator[date]:
    """Every day from first to last, both included."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def _as_utc(moment: datetime, name: str) -> datetime:
    """An aware time as UTC; a naive one could mean any zone, so it is refused."""
    if moment.utcoffset() is None:
        message = f"{name} {moment.isoformat()} has no time zone"
        raise NaiveTimeError(message)
    return moment.astimezone(UTC)


def _office_periods(calendar: WorkCalendar, office: OfficeHours, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Opening and closing (UTC) of each office span of each working day, from the local day of ``since`` on."""
    zone = ZoneInfo(office.zone)
    day = since.astimezone(zone).date()
    while True:
        if calendar.is_working_day(day):
            for opens, closes in office.spans:
                yield (datetime.combine(day, opens, zone).astimezone(UTC), datetime.combine(day, closes, zone).astimezone(UTC))
        day += timedelta(days=1)


def resumed(calendar: WorkCalendar, moment: datetime, paused: datetime, resumed_at: datetime, *,
            office: OfficeHours = OFFICE_HOURS) -> datetime:
    """Where ``moment``, a deadline counted in working time, lies once the clock stood still from ``paused`` to ``resumed_at``.

    The working time that was left from ``paused`` to ``moment`` is counted again from
    ``resumed_at``, so a case suspended over a weekend loses no working hours and gains none.

    Raises
    ------
    NaiveTimeError
        If a moment has no zone.
    """
    moment, paused, resumed_at = _as_utc(moment, "moment"), _as_utc(paused, "paused"), _as_utc(resumed_at, "resumed_at")
    left = _working_time(calendar, office, paused, moment)
    return _advance(calendar, office, resumed_at, left) if left > timedelta() else max(moment, resumed_at)


def _advance(calendar: WorkCalendar, office: OfficeHours, start: datetime, length: timedelta) -> datetime:
    """The earliest moment by which ``length`` of working time has run since ``start``."""
    periods = _office_periods(calendar, office, start)
    left = length
    while True:
        opens, closes = next(periods)
        begin = max(opens, start)
        if begin < closes:
            if left <= closes - begin:
                return begin + left
            left -= closes - begin


def _working_time(calendar: WorkCalendar, office: OfficeHours, since: datetime, until: datetime) -> timedelta:
    """The working time between two moments; none when ``until`` is not after ``since``."""
    periods = _office_periods(calendar, office, since)
    total = timedelta()
    while True:
        opens, closes = next(periods)
        if opens >= until:
            return total
        total += max(min(closes, until) - max(opens, since), timedelta())


def _knows_between(calendar: WorkCalendar, office: OfficeHours, since: datetime, until: datetime) -> bool:
    """Whether the calendar knows every year from the local day of ``since`` to that of ``until``."""
    zone = ZoneInfo(office.zone)
    first, last = since.astimezone(zone).year, until.astimezone(zone).year
    return all(year in calendar.years for year in range(first, last + 1))
