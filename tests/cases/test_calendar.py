"""The working-day calendar: holidays and make-up days of 2025 and 2026, deadlines, the notice parser."""

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from huizhili.cases.calendar import (
    HOLIDAYS_DIR,
    Countdown,
    Deadline,
    Holiday,
    Limit,
    OfficeHours,
    Unit,
    WorkCalendar,
    YearSchedule,
    countdown,
    deadline,
    load_calendar,
    parse_notice,
    read_year,
    write_year,
)
from huizhili.errors import NaiveTimeError, ValidationError

NOTICES = Path(__file__).parents[1] / "data" / "holidays"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def notice(year: int) -> str:
    return (NOTICES / f"{year}.txt").read_text(encoding="utf-8")


def working_days(calendar: WorkCalendar, first: date, last: date) -> list[date]:
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [day for day in days if calendar.is_working_day(day)]


@pytest.fixture(scope="module")
def shipped() -> WorkCalendar:
    return load_calendar()


# The shipped years


def test_2026_spring_festival_is_off_and_its_two_saturdays_are_worked(shipped):
    assert working_days(shipped, date(2026, 2, 13), date(2026, 3, 1)) == [
        date(2026, 2, 13), date(2026, 2, 14), date(2026, 2, 24), date(2026, 2, 25),
        date(2026, 2, 26), date(2026, 2, 27), date(2026, 2, 28),
    ]


def test_2026_mid_autumn_and_national_day_are_two_breaks_with_two_days_worked(shipped):
    assert working_days(shipped, date(2026, 9, 19), date(2026, 10, 11)) == [
        date(2026, 9, 20), date(2026, 9, 21), date(2026, 9, 22), date(2026, 9, 23), date(2026, 9, 24),
        date(2026, 9, 28), date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 9),
        date(2026, 10, 10),
    ]


def test_2025_spring_festival_from_new_years_eve_with_a_sunday_and_a_saturday_worked(shipped):
    assert working_days(shipped, date(2025, 1, 25), date(2025, 2, 9)) == [
        date(2025, 1, 26), date(2025, 1, 27), date(2025, 2, 5), date(2025, 2, 6), date(2025, 2, 7),
        date(2025, 2, 8),
    ]


def test_2025_national_day_and_mid_autumn_are_one_break_of_eight_days(shipped):
    assert working_days(shipped, date(2025, 9, 27), date(2025, 10, 12)) == [
        date(2025, 9, 28), date(2025, 9, 29), date(2025, 9, 30), date(2025, 10, 9), date(2025, 10, 10),
        date(2025, 10, 11),
    ]


def test_a_year_without_a_schedule_is_judged_by_weekday_and_said_to_be_unknown(shipped):
    new_years_day = date(2027, 1, 1)
    assert (shipped.years, shipped.knows(new_years_day), shipped.is_working_day(new_years_day)) == (
        frozenset({2025, 2026}), False, True,
    )


# Deadlines


def test_five_working_days_from_the_friday_before_spring_festival_count_the_makeup_saturday(shipped):
    due = deadline(shipped, shanghai(2026, 2, 13, 10, 0), Limit.parse("5wd"))
    assert due == Deadline(
        due=datetime(2026, 2, 27, 2, 0, tzinfo=UTC), warn_at=datetime(2026, 2, 26, 2, 0, tzinfo=UTC), estimated=False
    )


def test_one_working_day_from_monday_morning_is_due_at_the_same_time_on_tuesday(shipped):
    due = deadline(shipped, shanghai(2026, 3, 2, 10, 0), Limit.parse("1wd"))
    assert (due.due.astimezone(SHANGHAI), due.warn_at.astimezone(SHANGHAI)) == (
        shanghai(2026, 3, 3, 10, 0), shanghai(2026, 3, 2, 16, 24),
    )


def test_a_case_received_after_hours_is_due_when_the_next_working_day_closes(shipped):
    due = deadline(shipped, shanghai(2026, 3, 2, 19, 0), Limit.parse("1wd"))
    assert due.due.astimezone(SHANGHAI) == shanghai(2026, 3, 3, 17, 0)


def test_a_case_received_on_saturday_starts_counting_when_monday_opens(shipped):
    due = deadline(shipped, shanghai(2026, 3, 7, 11, 0), Limit.parse("4wh"))
    assert (due.due.astimezone(SHANGHAI), due.warn_at.astimezone(SHANGHAI)) == (
        shanghai(2026, 3, 9, 13, 0), shanghai(2026, 3, 9, 12, 12),
    )


def test_a_lunch_break_does_not_count(shipped):
    office = OfficeHours(spans=((time(9), time(12)), (time(13, 30), time(17, 30))))
    due = deadline(shipped, shanghai(2026, 3, 2, 11, 0), Limit.parse("4wh"), office=office)
    assert (office.day_length, due.due.astimezone(SHANGHAI)) == (timedelta(hours=7), shanghai(2026, 3, 2, 16, 30))


def test_a_count_reaching_into_a_year_without_a_schedule_is_estimated(shipped):
    due = deadline(shipped, shanghai(2026, 12, 31, 10, 0), Limit.parse("2wd"))
    assert (due.due.astimezone(SHANGHAI), due.estimated) == (shanghai(2027, 1, 4, 10, 0), True)


def test_a_count_in_2027_is_estimated_and_one_in_2026_is_not(shipped):
    counts = [deadline(shipped, shanghai(year, 3, 1, 10, 0), Limit.parse("3wd")).estimated for year in (2026, 2027)]
    assert counts == [False, True]


def test_natural_time_runs_through_holidays_and_nights(shipped):
    lift_rescue = deadline(shipped, shanghai(2026, 2, 17, 3, 0), Limit.parse("30min"))
    assert lift_rescue == Deadline(
        due=datetime(2026, 2, 16, 19, 30, tzinfo=UTC), warn_at=datetime(2026, 2, 16, 19, 24, tzinfo=UTC), estimated=False
    )


def test_natural_days_and_hours_need_no_calendar_even_in_an_unknown_year(shipped):
    start = shanghai(2027, 2, 5, 18, 0)
    assert [deadline(shipped, start, Limit.parse(limit)).due - start for limit in ("3d", "2h")] == [
        timedelta(days=3), timedelta(hours=2),
    ]
    assert deadline(shipped, start, Limit.parse("3d")).estimated is False


def test_a_start_without_a_zone_is_refused(shipped):
    with pytest.raises(NaiveTimeError) as raised:
        deadline(shipped, datetime(2026, 3, 2, 10, 0), Limit.parse("1wd"))
    assert str(raised.value) == "start 2026-03-02T10:00:00 has no time zone"


# The countdown


def test_the_countdown_counts_the_working_time_used_so_far(shipped):
    used = countdown(shipped, shanghai(2026, 2, 13, 10, 0), shanghai(2026, 2, 24, 10, 0), Limit.parse("5wd"))
    assert used == Countdown(share=0.4, remaining=timedelta(hours=24), estimated=False)


def test_the_countdown_past_the_deadline_is_more_than_all_and_the_time_left_negative(shipped):
    used = countdown(shipped, shanghai(2026, 2, 13, 10, 0), shanghai(2026, 3, 2, 10, 0), Limit.parse("5wd"))
    assert used == Countdown(share=1.4, remaining=timedelta(hours=-16), estimated=False)


def test_the_countdown_into_a_year_without_a_schedule_is_estimated(shipped):
    used = countdown(shipped, shanghai(2026, 12, 31, 10, 0), shanghai(2027, 1, 4, 10, 0), Limit.parse("2wd"))
    assert used == Countdown(share=1.0, remaining=timedelta(), estimated=True)


def test_the_countdown_before_the_start_is_none(shipped):
    used = countdown(shipped, shanghai(2026, 3, 2, 10, 0), shanghai(2026, 3, 2, 9, 0), Limit.parse("2h"))
    assert used == Countdown(share=0.0, remaining=timedelta(hours=2), estimated=False)


def test_the_countdown_refuses_a_now_without_a_zone(shipped):
    with pytest.raises(NaiveTimeError):
        countdown(shipped, shanghai(2026, 3, 2, 10, 0), datetime(2026, 3, 2, 11, 0), Limit.parse("1wd"))


# Limits and office hours


def test_limits_are_read_and_written_back_as_in_settings():
    texts = ["5wd", "4wh", "3d", "2h", "30min", " 15 MIN "]
    limits = [Limit.parse(text) for text in texts]
    assert limits == [
        Limit(5, Unit.WORKING_DAYS), Limit(4, Unit.WORKING_HOURS), Limit(3, Unit.DAYS), Limit(2, Unit.HOURS),
        Limit(30, Unit.MINUTES), Limit(15, Unit.MINUTES),
    ]
    assert [str(limit) for limit in limits] == ["5wd", "4wh", "3d", "2h", "30min", "15min"]


def test_a_limit_is_made_from_its_stored_unit_text():
    assert Limit(5, "working_days") == Limit(5, Unit.WORKING_DAYS)


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        (0, "hours", "a time limit is a positive whole number of hours, not 0"),
        (1.5, "hours", "a time limit is a positive whole number of hours, not 1.5"),
        (5, "weeks", "unknown time limit unit 'weeks'; one of working_days, working_hours, days, hours, minutes"),
    ],
)
def test_a_limit_made_of_other_than_a_positive_whole_number_and_a_unit_is_refused(amount, unit, message):
    with pytest.raises(ValidationError) as raised:
        Limit(amount, unit)
    assert str(raised.value) == message


@pytest.mark.parametrize("text", ["5", "wd", "0wd", "-1h", "1.5h", "5 weeks", "5wd2h"])
def test_a_limit_that_is_not_a_positive_whole_number_and_unit_is_refused(text):
    with pytest.raises(ValidationError) as raised:
        Limit.parse(text)
    assert str(raised.value) == (
        f"time limit {text!r} is not understood: write a positive whole number and a unit, wd (working days),"
        " wh (working hours), d (days), h (hours) or min (minutes), e.g. 5wd or 30min"
    )


@pytest.mark.parametrize(
    "spans", [(), ((time(17), time(9)),), ((time(9), time(12)), (time(11), time(17)))], ids=["none", "backwards", "overlapping"]
)
def test_office_hours_that_do_not_follow_each_other_are_refused(spans):
    with pytest.raises(ValidationError, match="^office hours must be one or more spans of the day in order"):
        OfficeHours(spans=spans)


def test_office_hours_in_an_unknown_zone_are_refused():
    with pytest.raises(ValidationError) as raised:
        OfficeHours(zone="Asia/Peking")
    assert str(raised.value) == "unknown time zone 'Asia/Peking'; give an IANA name such as Asia/Shanghai"


# The notices


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_shipped_year_is_what_the_parser_reads_from_the_notice(year, tmp_path):
    written = write_year(parse_notice(notice(year), year), tmp_path)
    shipped_file = HOLIDAYS_DIR / f"{year}.toml"
    assert (written.name, written.read_bytes()) == (f"{year}.toml", shipped_file.read_bytes())
    assert read_year(shipped_file) == parse_notice(notice(year), year)


def test_the_2025_notice_reads_as_published():
    schedule = parse_notice(notice(2025), 2025)
    assert schedule.source == "国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号), 2024-11-12"
    assert schedule.holidays[0] == Holiday("元旦", "New Year's Day", date(2025, 1, 1), date(2025, 1, 1), ())
    assert schedule.holidays[-1] == Holiday(
        "国庆节、中秋节", "National Day and Mid-Autumn Festival", date(2025, 10, 1), date(2025, 10, 8),
        (date(2025, 9, 28), date(2025, 10, 11)),
    )


def test_a_notice_with_a_wrong_weekday_is_refused_naming_the_holiday():
    typo = notice(2026).replace("2月28日（周六）", "2月28日（周日）")
    with pytest.raises(ValidationError) as raised:
        parse_notice(typo, 2026)
    assert str(raised.value) == (
        "notice for 2026, 春节: 2026-02-28 is a 周六, but the notice says 周日 (a typo, or the notice of another year?)"
    )


def test_a_notice_whose_day_count_disagrees_with_its_range_is_refused_naming_the_holiday():
    typo = notice(2025).replace("共8天。9月28日", "共7天。9月28日")
    with pytest.raises(ValidationError) as raised:
        parse_notice(typo, 2025)
    assert str(raised.value) == "notice for 2025, 国庆节、中秋节: 2025-10-01 to 2025-10-08 is 8 days, but the notice says 7"


def test_the_notice_of_another_year_is_refused():
    with pytest.raises(ValidationError) as raised:
        parse_notice(notice(2025), 2026)
    assert str(raised.value) == "this is the notice for 2025, not 2026"


def test_a_notice_missing_a_holiday_is_refused():
    cut = "\n".join(line for line in notice(2026).splitlines() if not line.startswith("五、端午节"))
    with pytest.raises(ValidationError) as raised:
        parse_notice(cut, 2026)
    assert str(raised.value) == "notice for 2026: no paragraph for 端午节; is the text complete?"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("2月28日（周六）", "2月30日（周六）"), "notice for 2026, 春节: 2月30日(周六) is no day of 2026"),
        (("放假调休，共9天", "休息9天"), "notice for 2026, 春节: cannot read the holiday's days in '2月15日(农历腊月二十八、周日)至23日(农历正月初七、周一)休息9天'"),
        (("六、中秋节", "六、重阳节"), "notice for 2026, 重阳节: 重阳节 is none of the holidays of 全国年节及纪念日放假办法 (元旦、春节、清明节、劳动节、端午节、中秋节、国庆节)"),
        (("国务院办公厅关于2026年部分节假日安排的通知\n", ""), "not a State Council holiday notice: no title 国务院办公厅关于<year>年部分节假日安排的通知"),
        (("\n2025年11月4日", ""), "notice for 2026: the date it was signed (a line like 2025年11月4日) is missing"),
    ],
    ids=["no-such-day", "unreadable", "not-a-holiday", "no-title", "unsigned"],
)
def test_a_notice_that_cannot_be_read_is_refused_saying_where(change, message):
    with pytest.raises(ValidationError) as raised:
        parse_notice(notice(2026).replace(*change), 2026)
    assert str(raised.value) == message


def test_the_text_xinhua_released_cites_the_notice_without_its_number():
    xinhua = notice(2026).replace("国办发明电〔2025〕7号\n", "")
    assert parse_notice(xinhua, 2026).source == "国务院办公厅关于2026年部分节假日安排的通知, 2025-11-04"


def test_a_notice_with_plain_punctuation_reads_the_same():
    plain = notice(2026).translate(str.maketrans("：（），", ":(),"))
    assert parse_notice(plain, 2026) == parse_notice(notice(2026), 2026)


# A district's own files


GOOD_2027 = """\
year = 2027
source = "a district's draft"

[[holiday]]
name = "春节"
name_en = "Spring Festival"
first = 2027-02-05
last = 2027-02-12
makeup_working_days = [2027-02-14]
"""


def test_a_districts_file_adds_a_year_and_replaces_a_shipped_one(tmp_path):
    (tmp_path / "2027.toml").write_text(GOOD_2027, encoding="utf-8")
    (tmp_path / "2026.toml").write_text(GOOD_2027.replace("2027", "2026").replace("2026-02-14", "2026-02-15"), encoding="utf-8")
    calendar = load_calendar(tmp_path)
    assert (calendar.years, calendar.is_working_day(date(2027, 2, 14)), calendar.is_working_day(date(2026, 10, 5))) == (
        frozenset({2025, 2026, 2027}), True, True,
    )


def test_a_missing_district_folder_adds_nothing(tmp_path):
    assert load_calendar(tmp_path / "holidays") == load_calendar()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("2027-02-14", "2027-02-15"), "2027.toml, holiday 1 (春节): make-up working day 2027-02-15 is a Monday; only a Saturday or Sunday is made a working day"),
        (("2027-02-14", "2027-02-06"), "2027.toml, holiday 1 (春节): 2027-02-06 is both a make-up working day and a day of 春节"),
        (("last = 2027-02-12", "last = 2027-02-01"), "2027.toml, holiday 1 (春节): first day 2027-02-05 is after last day 2027-02-01"),
        (("first = 2027-02-05", "first = 2026-12-30"), "2027.toml, holiday 1 (春节): 2026-12-30 is not in 2027"),
        (("year = 2027", "year = 2026"), "2027.toml: year is 2026, but the file is named for 2027"),
        (("makeup_working_days", "makeup_days"), "2027.toml, holiday 1 (春节): has unknown makeup_days"),
        (('name_en = "Spring Festival"\n', ""), "2027.toml, holiday 1 (春节): lacks name_en"),
        (("first = 2027-02-05", 'first = "2027-02-05"'), "2027.toml, holiday 1 (春节): first must hold dates written like 2026-02-15, not '2027-02-05'"),
        (('name = "春节"', "name = 1"), "2027.toml, holiday 1: name must be non-empty text, not 1"),
        (("[2027-02-14]", "2027-02-14"), "2027.toml, holiday 1 (春节): makeup_working_days must be a list of dates"),
        (("[[holiday]]", "[holiday]"), "2027.toml: holiday must be an array of tables ([[holiday]])"),
    ],
    ids=[
        "weekday-makeup", "makeup-in-break", "backwards", "outside-year", "wrong-year", "misspelt", "missing", "text-date",
        "number-name", "makeup-not-a-list", "holiday-not-an-array",
    ],
)
def test_a_bad_district_file_is_refused_naming_file_and_record(tmp_path, change, message):
    (tmp_path / "2027.toml").write_text(GOOD_2027.replace(*change), encoding="utf-8")
    with pytest.raises(ValidationError) as raised:
        load_calendar(tmp_path)
    assert str(raised.value) == message


def test_a_file_that_is_not_toml_is_refused_naming_it(tmp_path):
    (tmp_path / "2027.toml").write_text("year = ", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"^2027\.toml: not a TOML file \("):
        load_calendar(tmp_path)


def test_a_file_not_named_for_a_year_is_refused_rather_than_ignored(tmp_path):
    (tmp_path / "holidays-2027.toml").write_text(GOOD_2027, encoding="utf-8")
    with pytest.raises(ValidationError) as raised:
        load_calendar(tmp_path)
    assert str(raised.value) == "holidays-2027.toml: a calendar file is named <year>.toml, e.g. 2027.toml"


def test_a_schedule_load_would_refuse_is_not_written(tmp_path):
    bad = YearSchedule(2027, "draft", (Holiday("春节", "Spring Festival", date(2027, 2, 5), date(2027, 2, 12), (date(2027, 2, 15),)),))
    with pytest.raises(ValidationError, match="^2027.toml, holiday 1"):
        write_year(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_calendar_holds_each_year_once():
    year = read_year(HOLIDAYS_DIR / "2026.toml")
    with pytest.raises(ValidationError) as raised:
        WorkCalendar((year, year))
    assert str(raised.value) == "a calendar holds each year once, not [2026, 2026]"
