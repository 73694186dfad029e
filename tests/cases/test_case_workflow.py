"""Cases walked through every path of the workflow, with their audit trail, on both backends."""

from datetime import UTC, datetime, timedelta

import pytest
import shapely
import sqlalchemy as sa

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.cases.deadlines import check_deadlines
from huizhili.cases.flow import case_flow
from huizhili.cases.handling import Step, act
from huizhili.cases.intake import Report, report_case
from huizhili.cases.owners import import_owners
from huizhili.cases.reading import public_view, trail
from huizhili.config import Settings
from huizhili.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from huizhili.policy import Principal, Scope
from huizhili.policy.privacy import apply_retention
from huizhili.storage.engine import transaction
from huizhili.storage.models import Case, CaseAction, CaseSignal, Event, OwnershipDispute

MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, an ordinary working Monday
XUJIAHUI = (121.437, 31.192)  # in 徐家汇街道 (310104014)
TIANPING = (121.4473, 31.2065)  # in 天平路街道 (310104003)

COMMANDER = Principal(username="commander", role="district_commander")
HOTLINE = Principal(username="hotline", role="hotline_operator")
BUILDER = Principal(username="builder", role="department_handler", department="建设管理委")
HOUSING = Principal(username="housing", role="department_handler", department="房管局")
GREENER = Principal(username="greener", role="department_handler", department="绿化市容局")
XJH_OPERATOR = Principal(username="xjh", role="street_operator", streets=frozenset({"310104014"}))
TP_OPERATOR = Principal(username="tp", role="street_operator", streets=frozenset({"310104003"}))
GRID = Principal(username="grid", role="grid_officer", grid_cells=frozenset({"310104014G01"}))


@pytest.fixture
def flow(tmp_path):
    return case_flow(Settings(data_dir=tmp_path))


@pytest.fixture
def xuhui(xuhui):
    """The demo with the grid officer's cell around the 徐家汇 position (the demo has no grid)."""
    with transaction(xuhui) as session:
        upsert_areas(session, [AreaSpec(code="310104014G01", name="徐家汇网格01", level="grid", parent_code="310104014",
                                        geometry=shapely.box(121.430, 31.185, 121.445, 31.200))])
    return xuhui


def report(sessions, flow, *, category="积水内涝", at=XUJIAHUI, when=MONDAY, by=HOTLINE, **fields):
    """A hotline report taken in; returns its case's id."""
    with transaction(sessions) as session:
        intake = report_case(session, Scope(by), by, flow, Report(channel=fields.pop("channel", "hotline"),
                             title=fields.pop("title", "漕溪北路下立交积水"), lon=at[0], lat=at[1], category=category,
                             reporter_name="张三", reporter_phone="13812345678", **fields), when)
        return intake.case.id


def step(sessions, flow, case_id, who, action, when=MONDAY, **fields):
    """``who`` takes ``action``; returns the case's state and unit afterwards."""
    with transaction(sessions) as session:
        case = act(session, Scope(who), who, flow, case_id, action, Step(**fields), when)
        return case.state, case.department


def the_trail(sessions, case_id):
    with sessions() as session:
        return [(a.action, a.actor, a.role, a.from_state, a.to_state) for a in trail(session, session.get(Case, case_id))]


def the_case(sessions, case_id):
    with sessions() as session:
        case = session.get(Case, case_id)
        session.expunge(case)
        return case


def test_a_case_goes_round_the_whole_loop_and_its_trail_says_who_did_what(xuhui, flow):
    case_id = report(xuhui, flow)
    assert the_case(xuhui, case_id).department == "建设管理委"
    step(xuhui, flow, case_id, BUILDER, "accept")
    step(xuhui, flow, case_id, BUILDER, "start")
    step(xuhui, flow, case_id, BUILDER, "handle", note="抽水完毕，积水已退")
    step(xuhui, flow, case_id, GRID, "verify")
    step(xuhui, flow, case_id, COMMANDER, "close")
    assert step(xuhui, flow, case_id, HOTLINE, "evaluate", satisfaction=3) == ("evaluated", "建设管理委")
    assert the_trail(xuhui, case_id) == [
        ("receive", "hotline", "hotline_operator", None, "received"),
        ("file", "platform", "system", "received", "filed"),
        ("dispatch", "platform", "system", "filed", "dispatched"),
        ("accept", "builder", "department_handler", "dispatched", "accepted"),
        ("start", "builder", "department_handler", "accepted", "in_progress"),
        ("handle", "builder", "department_handler", "in_progress", "handled"),
        ("verify", "grid", "grid_officer", "handled", "verified"),
        ("close", "commander", "district_commander", "verified", "closed"),
        ("evaluate", "hotline", "hotline_operator", "closed", "evaluated"),
    ]
    case = the_case(xuhui, case_id)
    assert (case.satisfaction, case.closed_at, case.handled_at) == (3, MONDAY, MONDAY)


def test_a_verifier_returns_work_that_is_not_done_and_the_rework_is_counted(xuhui, flow):
    case_id = report(xuhui, flow)
    for action in ("accept", "start"):
        step(xuhui, flow, case_id, BUILDER, action)
    step(xuhui, flow, case_id, BUILDER, "handle", note="已处理")
    assert step(xuhui, flow, case_id, GRID, "rework", reason="现场仍有积水") == ("in_progress", "建设管理委")
    step(xuhui, flow, case_id, BUILDER, "handle", note="再次抽水")
    step(xuhui, flow, case_id, GRID, "verify")
    assert the_case(xuhui, case_id).rework_count == 1
    assert [a[0] for a in the_trail(xuhui, case_id)][-4:] == ["handle", "rework", "handle", "verify"]


def test_a_unit_returns_a_case_to_the_dispatcher_who_sends_it_elsewhere(xuhui, flow):
    case_id = report(xuhui, flow)
    assert step(xuhui, flow, case_id, BUILDER, "return", reason="属绿化养护，非我单位") == ("filed", None)
    with pytest.raises(NotFoundError):  # no longer his department's: he no longer sees it
        step(xuhui, flow, case_id, BUILDER, "accept")
    assert step(xuhui, flow, case_id, COMMANDER, "dispatch", department="绿化市容局") == ("dispatched", "绿化市容局")
    assert step(xuhui, flow, case_id, GREENER, "accept") == ("accepted", "绿化市容局")
    with xuhui() as session:
        returned = session.scalar(sa.select(CaseAction).where(CaseAction.action == "return"))
        assert (returned.note, returned.details) == ("属绿化养护，非我单位", {"returned_by": "建设管理委", "reason": "属绿化养护，非我单位"})


def test_more_time_is_asked_for_approved_within_15_working_days_and_refused_beyond(xuhui, flow):
    case_id = report(xuhui, flow, category="违法建筑", at=XUJIAHUI)
    due = the_case(xuhui, case_id).due_at
    assert due == datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # 5 working days: the next Monday, 10:00
    step(xuhui, flow, case_id, Principal(username="law", role="department_handler", department="城管执法局"), "accept")
    law = Principal(username="law", role="department_handler", department="城管执法局")
    with pytest.raises(ValidationError, match="no later than"):
        step(xuhui, flow, case_id, law, "request_postponement", reason="需要规划部门认定", until=due + timedelta(days=30))
    until = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    step(xuhui, flow, case_id, law, "request_postponement", reason="需要规划部门认定", until=until)
    with pytest.raises(ConflictError, match="already awaits"):
        step(xuhui, flow, case_id, law, "request_postponement", reason="again", until=until)
    with pytest.raises(ForbiddenError):
        step(xuhui, flow, case_id, law, "approve_postponement")
    step(xuhui, flow, case_id, COMMANDER, "approve_postponement")
    case = the_case(xuhui, case_id)
    assert (case.due_at, case.postponement) == (until, None)
    assert {"of": "case", "kind": "overdue", "at": until.isoformat()} in case.checkpoints
    with pytest.raises(ConflictError, match="no postponement"):
        step(xuhui, flow, case_id, COMMANDER, "refuse_postponement", reason="无")


def test_nobody_approves_his_own_postponement(xuhui, flow):
    case_id = report(xuhui, flow, category="市容环境", title="占道经营")  # the street office's: its operator asks and may approve
    step(xuhui, flow, case_id, XJH_OPERATOR, "accept")
    step(xuhui, flow, case_id, XJH_OPERATOR, "request_postponement", reason="等待联合执法",
         until=datetime(2026, 3, 12, 9, 0, tzinfo=UTC))
    with pytest.raises(ForbiddenError, match="asked by you"):
        step(xuhui, flow, case_id, XJH_OPERATOR, "approve_postponement")
    step(xuhui, flow, case_id, COMMANDER, "approve_postponement")
    assert the_case(xuhui, case_id).due_at == datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


def test_a_disputed_case_goes_to_the_fallback_unit_at_once_and_the_settlement_corrects_the_registry(xuhui, flow, tmp_path):
    registry = tmp_path / "owners.csv"
    registry.write_text(f"ref,kind,lon,lat,owner_department\nJG-0001,manhole_cover,{XUJIAHUI[0]},{XUJIAHUI[1]},房管局\n",
                        encoding="utf-8")
    with transaction(xuhui) as session:
        assert import_owners(session, registry) == 1
    case_id = report(xuhui, flow, category="道路设施", title="井盖缺失", asset_ref="JG-0001")
    assert (the_case(xuhui, case_id).department, the_case(xuhui, case_id).routed_by) == ("房管局", "registry")
    # The registry's owner says it is not his: the street office (the category's fallback) has it at once.
    assert step(xuhui, flow, case_id, HOUSING, "dispute", reason="该井盖属市政道路") == ("dispatched", "徐家汇街道")
    with xuhui() as session:
        dispute = session.scalar(sa.select(OwnershipDispute))
        assert (dispute.disputed_by, dispute.fallback, dispute.settled_at) == ("房管局", "徐家汇街道", None)
        assert dispute.settle_by == datetime(2026, 3, 5, 2, 0, tzinfo=UTC)  # 3 working days
    assert step(xuhui, flow, case_id, XJH_OPERATOR, "accept") == ("accepted", "徐家汇街道")  # the street office's staff
    with pytest.raises(ForbiddenError):
        step(xuhui, flow, case_id, GRID, "settle", department="建设管理委")
    step(xuhui, flow, case_id, COMMANDER, "settle", department="建设管理委")
    with xuhui() as session:
        dispute = session.scalar(sa.select(OwnershipDispute))
        assert (dispute.settled_owner, dispute.settled_by) == ("建设管理委", "commander")
    next_case = report(xuhui, flow, category="道路设施", title="井盖松动", asset_ref="JG-0001", when=MONDAY + timedelta(days=5))
    assert the_case(xuhui, next_case).department == "建设管理委"
    assert the_case(xuhui, case_id).department == "徐家汇街道"  # settling does not move the case: no bouncing


def test_a_case_near_a_registered_asset_goes_to_its_owner_and_a_settlement_corrects_that_asset(xuhui, flow, tmp_path):
    registry = tmp_path / "owners.csv"
    registry.write_text(f"ref,kind,lon,lat,owner_department\nLD-7,street_lamp,{XUJIAHUI[0] + 0.0001},{XUJIAHUI[1]},房管局\n",
                        encoding="utf-8")
    with transaction(xuhui) as session:
        import_owners(session, registry)
    case_id = report(xuhui, flow, category="道路设施", title="路灯不亮")  # about 10 m from the lamp
    assert (the_case(xuhui, case_id).department, the_case(xuhui, case_id).asset_ref) == ("房管局", "LD-7")
    step(xuhui, flow, case_id, HOUSING, "dispute", reason="非我单位路灯")
    step(xuhui, flow, case_id, COMMANDER, "settle", department="建设管理委")
    again = report(xuhui, flow, category="道路设施", title="路灯又不亮", when=MONDAY + timedelta(days=30))
    assert the_case(xuhui, again).department == "建设管理委"


def test_a_dispute_left_unsettled_past_its_time_goes_to_the_district_command(xuhui, flow):
    case_id = report(xuhui, flow, category="道路设施", title="路灯不亮")
    step(xuhui, flow, case_id, BUILDER, "dispute", reason="属区管道路以外")
    with transaction(xuhui) as session:
        check_deadlines(session, flow, datetime(2026, 3, 5, 1, 59, tzinfo=UTC))
        assert "dispute_overdue" not in [a.action for a in trail(session, session.get(Case, case_id))]
    with transaction(xuhui) as session:
        check_deadlines(session, flow, datetime(2026, 3, 5, 2, 0, tzinfo=UTC))
    with xuhui() as session:
        assert [a.action for a in trail(session, session.get(Case, case_id))].count("dispute_overdue") == 1
        assert session.scalar(sa.select(OwnershipDispute.escalated_at)) == datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def test_the_clock_warns_at_80_percent_and_escalates_an_overdue_stage(xuhui, flow):
    case_id = report(xuhui, flow)  # flooding: accepted within 30 minutes
    assert the_case(xuhui, case_id).stage_due_at == MONDAY + timedelta(minutes=30)
    with transaction(xuhui) as session:
        assert check_deadlines(session, flow, MONDAY + timedelta(minutes=23)) == 0
    with transaction(xuhui) as session:
        assert check_deadlines(session, flow, MONDAY + timedelta(minutes=24)) == 1
    with transaction(xuhui) as session:
        assert check_deadlines(session, flow, MONDAY + timedelta(minutes=30)) == 1
        assert check_deadlines(session, flow, MONDAY + timedelta(minutes=31)) == 0  # each checkpoint passes once
    with xuhui() as session:
        case = session.get(Case, case_id)
        assert case.escalated_at == MONDAY + timedelta(minutes=30)
        assert case.escalation.startswith("stage past its time limit")
        kinds = session.scalars(sa.select(Event.kind).where(Event.resource == "cases", Event.record_id == case_id)).all()
        assert "case.stage_warning" in kinds and "case.stage_overdue" in kinds


def test_the_whole_case_is_flagged_overdue_past_its_12345_limit(xuhui, flow):
    case_id = report(xuhui, flow, category="噪声扰民", title="夜间施工噪声")
    step(xuhui, flow, case_id, XJH_OPERATOR, "accept")
    due = the_case(xuhui, case_id).due_at
    with transaction(xuhui) as session:
        check_deadlines(session, flow, due)
    case = the_case(xuhui, case_id)
    assert (case.overdue_at, case.warned_at is not None) == (due, True)


def test_a_citizen_who_says_it_is_not_fixed_reopens_the_case_with_the_same_unit(xuhui, flow):
    case_id = report(xuhui, flow)
    for who, action, fields in [(BUILDER, "accept", {}), (BUILDER, "start", {}), (BUILDER, "handle", {"note": "ok"}),
                                (GRID, "verify", {}), (COMMANDER, "close", {})]:
        step(xuhui, flow, case_id, who, action, **fields)
    reopened = MONDAY + timedelta(days=10)
    assert step(xuhui, flow, case_id, HOTLINE, "reopen", reason="市民回访：仍在积水", when=reopened) == ("dispatched", "建设管理委")
    case = the_case(xuhui, case_id)
    assert (case.reopen_count, case.closed_at) == (1, None)
    assert case.due_at == datetime(2026, 3, 19, 2, 0, tzinfo=UTC)  # 5 working days again from the reopening: Thu 10:00 to Thu 10:00
    assert {"of": "case", "kind": "overdue", "at": case.due_at.isoformat()} in case.checkpoints
    assert step(xuhui, flow, case_id, BUILDER, "accept") == ("accepted", "建设管理委")


def test_a_suspended_case_resumes_where_it_was_with_the_working_time_it_had_left(xuhui, flow):
    case_id = report(xuhui, flow, category="违法建筑")  # Monday 10:00, 5 working days: due next Monday 10:00
    friday = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)  # Friday 16:00: an hour of Friday and an hour of Monday are left
    step(xuhui, flow, case_id, COMMANDER, "suspend", reason="等待司法认定", when=friday)
    with transaction(xuhui) as session:
        assert check_deadlines(session, flow, datetime(2026, 3, 20, tzinfo=UTC)) == 0  # its clock stands still
    tuesday = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # Tuesday 09:00
    assert step(xuhui, flow, case_id, COMMANDER, "resume", when=tuesday) == ("dispatched", "城管执法局")
    assert the_case(xuhui, case_id).due_at == datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # Tuesday 11:00: the 2 hours left


def test_merging_moves_every_signal_and_the_public_number_follows(xuhui, flow):
    first = report(xuhui, flow, category="市容环境", title="占道经营")
    second = report(xuhui, flow, category="市容环境", title="流动摊贩", at=TIANPING)
    step(xuhui, flow, second, COMMANDER, "merge", into=first)
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).where(CaseSignal.case_id == first)) == 2
        number = session.get(Case, second).number
        view = public_view(session, flow, number, MONDAY)
        assert (view["merged_into"], view["signals"]) == (session.get(Case, first).number, 2)
    assert the_case(xuhui, second).state == "merged"
    assert [a[0] for a in the_trail(xuhui, first)][-1] == "merged_in"


def test_reports_of_another_incident_split_off_into_a_case_of_their_own(xuhui, flow):
    case_id = report(xuhui, flow, category="市容环境", title="占道经营")
    report(xuhui, flow, category="市容环境", title="另一处：乱堆物")
    with xuhui() as session:
        first, second = session.scalars(sa.select(CaseSignal.id).where(CaseSignal.case_id == case_id).order_by(CaseSignal.id)).all()
    with pytest.raises(ValidationError, match="other than its first"):
        step(xuhui, flow, case_id, COMMANDER, "split", signals=(first,))
    step(xuhui, flow, case_id, COMMANDER, "split", signals=(second,))
    with xuhui() as session:
        new = session.scalar(sa.select(Case).where(Case.id != case_id))
        assert (new.title, new.state, new.department, new.category) == ("另一处：乱堆物", "dispatched", "徐家汇街道", "市容环境")
        assert session.scalars(sa.select(CaseSignal.case_id).order_by(CaseSignal.id)).all() == [case_id, new.id]
        assert [a.action for a in trail(session, new)] == ["split_from", "file", "dispatch"]


def test_an_illegal_step_is_refused_naming_the_allowed_ones(xuhui, flow):
    case_id = report(xuhui, flow)
    with pytest.raises(ConflictError) as refused:
        step(xuhui, flow, case_id, BUILDER, "handle", note="done")
    assert str(refused.value) == ("a case that is dispatched cannot be 'handle'; allowed now: accept, return, reassign, "
                                  "dispute, settle, suspend, escalate, split, merge, note")


def test_steps_are_refused_to_roles_and_units_the_workflow_does_not_name(xuhui, flow):
    case_id = report(xuhui, flow)
    with pytest.raises(ForbiddenError, match="may not 'reassign'"):
        step(xuhui, flow, case_id, GRID, "reassign", department="房管局")
    with pytest.raises(NotFoundError):  # another department's case is not even visible to him
        step(xuhui, flow, case_id, GREENER, "accept")
    with pytest.raises(NotFoundError):  # nor another street's to its operator
        step(xuhui, flow, case_id, TP_OPERATOR, "escalate", reason="x")
    with pytest.raises(ForbiddenError, match="the responsible unit's staff"):
        step(xuhui, flow, case_id, XJH_OPERATOR, "accept")  # 建设管理委's case, not her street office's
    with pytest.raises(ValidationError, match="'escalate' needs reason"):
        step(xuhui, flow, case_id, COMMANDER, "escalate")
    street_case = report(xuhui, flow, category="市容环境", title="乱张贴")
    assert step(xuhui, flow, street_case, XJH_OPERATOR, "accept") == ("accepted", "徐家汇街道")


def test_a_case_that_is_not_filed_ends_with_its_reason(xuhui, flow):
    case_id = report(xuhui, flow, category=None, title="询问")
    assert the_case(xuhui, case_id).state == "received"
    assert step(xuhui, flow, case_id, HOTLINE, "reject", reason="重复来电，已在办理") == ("not_filed", None)
    assert the_case(xuhui, case_id).closed_at == MONDAY


def test_filing_by_hand_dispatches_by_the_routing_table(xuhui, flow):
    case_id = report(xuhui, flow, category=None, title="树枝折断")
    assert step(xuhui, flow, case_id, HOTLINE, "file", category="绿化养护") == ("dispatched", "绿化市容局")
    with pytest.raises(ValidationError, match="unknown category"):
        step(xuhui, flow, report(xuhui, flow, category=None, title="x"), HOTLINE, "file", category="不存在")


def test_the_trail_cannot_be_rewritten_or_deleted(xuhui, flow):
    case_id = report(xuhui, flow)
    for statement in (sa.update(CaseAction).values(actor="someone else"), sa.delete(CaseAction)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), transaction(xuhui) as session:
            session.execute(statement)
    assert len(the_trail(xuhui, case_id)) == 3


def test_reporters_of_a_case_closed_past_its_retention_are_erased_and_the_case_stays(xuhui, flow):
    case_id = report(xuhui, flow)
    report(xuhui, flow, title="又一位市民来电")  # linked: a second reporter
    for who, action, fields in [(BUILDER, "accept", {}), (BUILDER, "start", {}), (BUILDER, "handle", {"note": "ok"}),
                                (COMMANDER, "verify", {}), (COMMANDER, "close", {})]:
        step(xuhui, flow, case_id, who, action, **fields)
    settings = Settings(retention_closed_case_days=730)
    with transaction(xuhui) as session:
        early = {o.resource: o.records for o in apply_retention(session, settings, now=MONDAY + timedelta(days=729))}
        assert (early["cases"], early["case_signals"]) == (0, 0)
        late = {o.resource: o.records for o in apply_retention(session, settings, now=MONDAY + timedelta(days=731))}
        assert (late["cases"], late["case_signals"]) == (1, 2)
    with xuhui() as session:
        case = session.get(Case, case_id)
        assert (case.reporter_name, case.reporter_phone, case.description, case.state, case.title) == (
            None, None, "", "closed", "漕溪北路下立交积水")
        erased = session.execute(sa.select(CaseSignal.reporter_phone, CaseSignal.text).where(CaseSignal.case_id == case_id)).all()
        assert [tuple(row) for row in erased] == [(None, ""), (None, "")]
