"""The demo's case history: made once through the real workflow, it gives the case board, the KPIs and the league something to show."""

import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_URL, row_counts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from huizhili.cases.demo import CaseHistory, load_case_history
from huizhili.cases.evaluation import Period, evaluate
from huizhili.cases.flow import case_flow
from huizhili.cases.reading import CaseQuery, case_out, list_cases, trail
from huizhili.cases.workflow import PREVIOUS, SAME
from huizhili.config import Settings, load_settings
from huizhili.policy import Scope
from huizhili.storage.engine import create_engine, session_factory
from huizhili.storage.models import Case, CaseSignal
from huizhili.web.app import create_app

NOW = datetime(2026, 3, 18, 6, 30, tzinfo=UTC)  # 14:30 on a Wednesday in Shanghai; 45 days back spans the Spring Festival
STREETS = {"310104003", "310104004", "310104007", "310104008", "310104010", "310104011", "310104013", "310104014",
           "310104015", "310104016", "310104017", "310104103"}
"""The demo's streets with a boundary, where its cases lie."""


@dataclass(frozen=True)
class History:
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    made: CaseHistory


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """The Xuhui demo with its case history ending at NOW, made once per backend: the tests here only read it."""
    folder = tmp_path_factory.mktemp("history")
    if request.param == "sqlite":
        template, _ = request.getfixturevalue("sqlite_templates")(("xuhui",))
        shutil.copy(template, folder / "history.sqlite")
        engine, name = create_engine(f"sqlite:///{folder / 'history.sqlite'}"), None
    else:
        if not PG_URL:
            pytest.skip("HUIZHILI_TEST_PG_URL is not set: the PostgreSQL+PostGIS run is skipped")
        template, _ = request.getfixturevalue("pg_templates")(("xuhui",))
        admin, name = request.getfixturevalue("pg_admin"), f"test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        engine = create_engine(sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    settings = load_settings(environment="test", data_dir=Path(folder) / "var", warm_start=False)
    sessions = session_factory(engine)
    yield History(engine, sessions, settings, load_case_history(sessions, settings, NOW))
    engine.dispose()
    if name is not None:
        with request.getfixturevalue("pg_admin").connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def test_the_history_is_made_once(history):
    made = history.made
    assert made.loaded and 150 <= made.cases <= 300 and 0 < made.open < made.cases and made.linked > 0
    before = row_counts(history.sessions)
    again = load_case_history(history.sessions, history.settings, NOW + timedelta(days=1))
    assert (again, row_counts(history.sessions)) == (replace(made, loaded=False), before)


def test_every_trail_starts_with_its_receipt_and_follows_the_workflow(history):
    flow = case_flow(history.settings)
    with history.sessions() as session:
        cases = session.scalars(sa.select(Case).order_by(Case.id)).all()
        for case in cases:
            steps = trail(session, case)
            assert (steps[0].action, steps[0].from_state, steps[0].to_state, steps[0].at) == (
                "receive", None, "received", case.received_at)
            for before, step in zip(steps, steps[1:], strict=False):
                assert (step.from_state, step.at >= before.at) == (before.to_state, True), (case.number, step.action)
                transition = flow.workflow.transitions.get(step.action)
                if transition is not None:
                    assert step.from_state in transition.sources, (case.number, step.action)
                    assert transition.target in (SAME, PREVIOUS, step.to_state), (case.number, step.action)
            assert steps[-1].to_state == case.state
            assert steps[-1].at <= NOW


def test_the_reports_come_from_every_channel_and_name_no_real_person(history):
    with history.sessions() as session:
        channels = set(session.scalars(sa.select(Case.channel)))
        people = {(name, phone) for name, phone in session.execute(sa.select(CaseSignal.reporter_name, CaseSignal.reporter_phone))}
    assert channels == {"hotline", "open311", "patrol"}
    assert {name for name, _ in people} <= {"演示市民", None}
    assert all(phone is None or re.fullmatch(r"13\d\*{4}\d{4}", phone) for _, phone in people)


def test_the_kpis_by_street_cover_every_street_some_cases_late(history):
    flow = case_flow(history.settings)
    with history.sessions() as session:
        rows = evaluate(session, Scope.system(), flow, "street", Period(NOW - timedelta(days=30), NOW))
    assert {r["key"] for r in rows} == STREETS
    assert all(r["cases"] > 0 and r["closed"] > 0 for r in rows)
    closed = sum(r["closed"] for r in rows)
    on_time = sum(round(r["on_time_rate"] * r["closed"]) for r in rows)
    assert 0 < on_time < closed
    assert 0 < sum(round(r["rework_rate"] * r["closed"]) for r in rows) < closed


def test_the_case_board_has_open_cases_in_several_stages_some_overdue(history):
    flow = case_flow(history.settings)
    with history.sessions() as session:
        board = [c for c in list_cases(session, Scope.system(), flow, CaseQuery(limit=500))
                 if flow.workflow.states[c.state].open]
        overdue = [c for c in board if c.overdue_at is not None]
        clocked = {c.id: [s.at for s in trail(session, c) if s.action == "case_overdue"] for c in overdue}
    assert len({case_out(c, flow)["stage"] for c in board}) >= 3
    assert overdue and all(c.due_at < NOW and clocked[c.id] == [c.overdue_at] for c in overdue)
    assert any(c.due_at > NOW for c in board)


def test_the_league_ranks_the_streets(history):
    with TestClient(create_app(history.settings, history.engine)) as client:
        table = client.get("/api/public/league", params={"since": (NOW - timedelta(days=30)).isoformat(),
                                                          "until": NOW.isoformat()}).json()
    assert [r["rank"] for r in table] == list(range(1, len(STREETS) + 1))
    assert {r["key"] for r in table} == STREETS
