"""Live events: published with the change, read back in order, filtered by the watcher's scope."""

import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from waiting import until

from huizhili.base.status import update_status
from huizhili.config import load_settings
from huizhili.events import START, Position, current_position, prune, publish, read_events
from huizhili.policy import ANONYMOUS, Principal, Scope, scope_for
from huizhili.policy.principal import UNRESTRICTED
from huizhili.storage.engine import transaction
from huizhili.storage.models import Event, Facility, User, utcnow

EVERYTHING = scope_for(UNRESTRICTED)

XUJIAHUI = "310104014"
OPERATOR = Principal("xujiahui_operator", "street_operator", user_id=1, streets=frozenset({XUJIAHUI}))


def health_centres(sessions):
    """One health centre inside 徐家汇街道 and one outside it."""
    with sessions() as session:
        centres = session.scalars(sa.select(Facility).where(Facility.kind == "health_centre").order_by(Facility.id)).all()
        return (next(f.id for f in centres if f.street_code == XUJIAHUI),
                next(f.id for f in centres if f.street_code != XUJIAHUI))


def test_status_changes_reach_only_watchers_whose_scope_covers_them(xuhui):
    inside, outside = health_centres(xuhui)
    with xuhui() as session:
        start = current_position(session)
    with transaction(xuhui) as session:
        update_status(session, outside, is_open=False, scope=EVERYTHING)
        update_status(session, inside, queue_level="long", scope=EVERYTHING)
    with xuhui() as session:
        mine = read_events(session, Scope(OPERATOR), start, 100)
        public = read_events(session, Scope(ANONYMOUS), start, 100)
        device = read_events(session, Scope(Principal("pm-1", "device", device_code="PM-1")), start, 100)
        now = current_position(session)
    assert [e["record_id"] for e in mine.events] == [inside]
    assert [e["record_id"] for e in public.events] == [outside, inside]
    assert device.events == []
    last = Position.parse(public.events[-1]["cursor"])
    assert all(last <= page.cursor <= now for page in (mine, public, device)), "each cursor moves past what its scope hides"
    latest = public.events[-1]
    assert latest["kind"] == "facility.status" and latest["street_code"] == XUJIAHUI
    assert latest["payload"]["properties"]["queue_level"] == "long"


def test_a_rolled_back_change_leaves_no_event(xuhui):
    inside, _ = health_centres(xuhui)
    with xuhui() as session, pytest.raises(RuntimeError), session.begin():
        update_status(session, inside, is_open=False, scope=EVERYTHING)
        raise RuntimeError("the request failed after the change")
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_pages_follow_the_cursor_without_gaps_or_repeats(xuhui):
    inside, outside = health_centres(xuhui)
    with transaction(xuhui) as session:
        for facility, queue in [(inside, "short"), (outside, "short"), (inside, "medium"), (outside, "long"), (inside, "none")]:
            update_status(session, facility, queue_level=queue, scope=EVERYTHING)
    seen, cursor = [], START
    with xuhui() as session:
        while (page := read_events(session, Scope(ANONYMOUS), cursor, 2)).events:
            seen += [e["payload"]["properties"]["queue_level"] for e in page.events]
            cursor = page.cursor
        assert seen == ["short", "short", "medium", "long", "none"]
        assert read_events(session, Scope(ANONYMOUS), cursor, 2).events == []
        mine = read_events(session, Scope(OPERATOR), START, 100)
    assert [e["payload"]["properties"]["queue_level"] for e in mine.events] == ["short", "medium", "none"]


def test_positions_are_never_reused_after_pruning_so_cursors_stay_valid(xuhui):
    inside, _ = health_centres(xuhui)
    with transaction(xuhui) as session:
        for level in ("short", "medium", "long"):
            update_status(session, inside, queue_level=level, scope=EVERYTHING)
    with xuhui() as session:
        cursor = read_events(session, Scope(ANONYMOUS), START, 10).cursor
    with transaction(xuhui) as session:
        assert prune(session, load_settings(retention_event_days=1), now=utcnow() + timedelta(days=1, seconds=1)).records == 3
    with transaction(xuhui) as session:
        update_status(session, inside, queue_level="none", scope=EVERYTHING)
    with xuhui() as session:
        page = read_events(session, Scope(ANONYMOUS), cursor, 10)
    assert [e["payload"]["properties"]["queue_level"] for e in page.events] == ["none"]
    assert page.cursor > cursor
    assert datetime.fromisoformat(page.events[0]["at"]).utcoffset() == timedelta(0)


def held_or_done(engine, writer, writing):
    """Whether ``writer`` has finished or is held: waiting on a lock (PostgreSQL), begun writing (SQLite: one writer at a time)."""
    if not writer.is_alive():
        return True
    if engine.dialect.name == "sqlite":
        return writing.is_set()
    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT count(*) FROM pg_stat_activity "
                                          "WHERE datname = current_database() AND wait_event_type = 'Lock'")) > 0


def levels(events):
    return [(e["record_id"], e["payload"]["properties"]["queue_level"]) for e in events]


def everything_after(sessions, cursor, expected):
    """Read on from ``cursor`` until ``expected`` events have come (a reader waits out transactions still open)."""
    seen = []

    def read():
        nonlocal cursor
        with sessions() as session:
            page = read_events(session, Scope(ANONYMOUS), cursor, 10)
        seen.extend(page.events)
        cursor = page.cursor
        return len(seen) >= expected

    until(read, f"fewer than {expected} events came")
    return seen


def overlapping_writers(xuhui, engine, first_facility, second_facility, while_open=lambda: None):
    """A first writer sets ``first_facility`` long and holds its transaction open while a second sets
    ``second_facility`` short (and commits, or waits for the first); returns what ``while_open`` read meanwhile."""
    writing = threading.Event()

    def second_writer():
        with transaction(xuhui) as session:
            writing.set()
            update_status(session, second_facility, queue_level="short", scope=EVERYTHING)

    second = threading.Thread(target=second_writer)
    with xuhui() as first, first.begin():
        update_status(first, first_facility, queue_level="long", scope=EVERYTHING)
        second.start()
        until(lambda: held_or_done(engine, second, writing), "the second writer neither finished nor waited")
        meanwhile = while_open()
    second.join(10)
    return meanwhile


def test_a_watcher_misses_no_event_of_writers_committing_at_once(xuhui, engine):
    """PostgreSQL: the reader's horizon waits for the first writer; SQLite: the second waits for its write lock.

    Were the second writer's event read past while the first's, earlier, was still uncommitted,
    a watcher would move its cursor beyond the first's and never see that event.
    """
    inside, outside = health_centres(xuhui)

    def read_now():
        with xuhui() as session:
            return read_events(session, Scope(ANONYMOUS), START, 10)

    meanwhile = overlapping_writers(xuhui, engine, inside, outside, read_now)
    assert meanwhile.events == [], "nothing is read past a transaction still open"
    assert levels(everything_after(xuhui, meanwhile.cursor, 2)) == [(inside, "long"), (outside, "short")]


def test_two_changes_of_one_facility_arrive_in_the_order_they_were_made(xuhui, engine):
    inside, _ = health_centres(xuhui)
    overlapping_writers(xuhui, engine, inside, inside)
    assert levels(everything_after(xuhui, START, 2)) == [(inside, "long"), (inside, "short")]


@pytest.fixture
def postgresql_only(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: its publishers cannot overlap")


def test_publishers_in_separate_transactions_do_not_wait_for_each_other(xuhui, postgresql_only):
    inside, outside = health_centres(xuhui)
    published = threading.Event()

    def second_publisher():
        with transaction(xuhui) as session:
            update_status(session, outside, queue_level="short", scope=EVERYTHING)
        published.set()

    second = threading.Thread(target=second_publisher)
    with xuhui() as first, first.begin():
        update_status(first, inside, queue_level="long", scope=EVERYTHING)
        second.start()
        until(published.is_set, "the second publisher waited for the first's transaction to end")
    second.join(10)


@pytest.mark.parametrize("later_began_first", [True, False], ids=["later-committer-wrote-first", "earlier-committer-wrote-first"])
def test_a_reader_never_skips_a_transaction_committing_after_one_it_has_read(xuhui, postgresql_only, later_began_first):
    """The later-committing transaction publishes first (lower id) and stays open while the other publishes and commits.

    Whichever took its transaction id first, a reader reading meanwhile and after both have
    committed gets each event exactly once: the earlier committer's event waits for the later
    one (it began writing first), or is read first and the later one still comes (it began after).
    """
    inside, outside = health_centres(xuhui)
    with xuhui() as later, later.begin():
        with transaction(xuhui) as earlier:
            if not later_began_first:
                earlier.execute(sa.select(sa.func.pg_current_xact_id()))  # its transaction id, as any first write takes it
            update_status(later, inside, queue_level="long", scope=EVERYTHING)
            earlier.execute(sa.text("SET LOCAL lock_timeout = '5s'"))  # a publish lock would hold it (one thread): fail, not hang
            update_status(earlier, outside, queue_level="short", scope=EVERYTHING)
        with xuhui() as session:
            meanwhile = read_events(session, Scope(ANONYMOUS), START, 10)
        expected = [] if later_began_first else [(outside, "short")]
        assert levels(meanwhile.events) == expected, "read past an open transaction that began writing first, or held back by one that began later"
    seen = meanwhile.events + everything_after(xuhui, meanwhile.cursor, 2 - len(meanwhile.events))
    assert sorted(levels(seen)) == sorted([(inside, "long"), (outside, "short")])
    assert [e["id"] for e in seen] == [e["id"] for e in sorted(seen, key=lambda e: Position.parse(e["cursor"]))]


def test_events_never_carry_personal_data_unmasked(xuhui):
    with transaction(xuhui) as session:
        user = User(username="zhang", role="citizen", display_name="张三丰", phone="13812345678", streets=[], grid_cells=[])
        session.add(user)
        session.flush()
        facility = session.scalar(sa.select(Facility).where(Facility.street_code == XUJIAHUI))
        publish(session, "user.changed", facility, resource="users", record_id=user.id, permission="read:public",
                payload={"id": user.id, "display_name": user.display_name, "phone": user.phone})
    with xuhui() as session:
        stored = session.scalar(sa.select(Event.payload).where(Event.kind == "user.changed"))
        page = read_events(session, Scope.system(), START, 100)
    assert stored == {"id": stored["id"], "display_name": "张**", "phone": "138****5678"}
    assert [e["payload"]["phone"] for e in page.events if e["kind"] == "user.changed"] == ["138****5678"]
