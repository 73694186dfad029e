"""The demo's case history: about 200 illustrative cases of the last 45 days, taken along the real workflow at past times.

Without it a new user's case board, case KPIs and the citizens' league would be empty. The
reports are the demo's own illustrative messages (``classifier_training.csv``, not real cases)
placed at the demo's residential compounds or at random points of its streets. Every step goes
through intake (automatic dispatch included) or ``act`` at the moment it would have been taken,
and the case clock ticks at each checkpoint in between, so the trail, the deadlines counted on
the working calendar, the warnings and the escalations are what the platform would have left.
Most cases are closed and evaluated; some were late, reworked, postponed, returned to the
dispatcher or suspended; some are still open at each stage, a few past their time, a few about
to be; a few reports joined a case already open. Seeded: the same history each time, ending now.
"""

import csv
import heapq
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session, sessionmaker

from huizhili.base.assign import areas_at
from huizhili.cases.calendar import Limit
from huizhili.cases.categories import STREET_OFFICE
from huizhili.cases.deadlines import check_deadlines, count
from huizhili.cases.flow import DEMO_TRAINING, CaseFlow, case_flow
from huizhili.cases.handling import Step, act
from huizhili.cases.intake import Report, report_case
from huizhili.config import Settings
from huizhili.departments import street_offices
from huizhili.policy import Principal, Scope
from huizhili.storage.engine import transaction
from huizhili.storage.models import Area, Case, CaseSignal, Department, Parcel, utcnow

SEED = 19
DAYS = 45
REPORTS = 200
"""Reports drawn over the last ``DAYS`` days; a few more repeat an open case's, and two are due within hours."""

REF = "DEMO-"
"""Each demo report's channel reference is ``DEMO-<n>``: how a second load knows the history is there."""

_WEIGHTS = {"市容环境": 14, "道路设施": 10, "积水内涝": 4, "噪声扰民": 14, "违法建筑": 6, "绿化养护": 9, "垃圾分类": 10,
            "物业管理": 14, "交通秩序": 12, "养老服务": 3, "公共安全": 5}
"""How often each category is reported, roughly as a district's hotline hears them."""

_AT_HOME = {"噪声扰民", "违法建筑", "垃圾分类", "物业管理", "养老服务"}
"""Categories reported at a residential compound; the others anywhere in a street."""

_PATROLLED = {"市容环境", "道路设施", "绿化养护", "垃圾分类", "交通秩序", "违法建筑", "公共安全"}
"""What street inspectors find on their rounds (自发现)."""

_URGENT = {"积水内涝", "养老服务", "公共安全"}
"""Categories worked round the clock within minutes, as their stage limits in natural time ask."""

_HANDLED = {"市容环境": "已清理现场并加强巡查。", "道路设施": "已安排养护单位修复。", "积水内涝": "已调派泵车排水，积水已退。",
            "噪声扰民": "已上门劝导，噪声已停止。", "违法建筑": "已责令当事人拆除，现场已恢复。", "绿化养护": "已修剪补种。",
            "垃圾分类": "已督促物业整改，垃圾已清运。", "物业管理": "已约谈物业公司，问题已整改。", "交通秩序": "已清理违停车辆并设置提示。",
            "养老服务": "已联系社区为老服务中心上门服务。", "公共安全": "已排除隐患。"}
"""What the unit reports as done, per category."""

_STALLS = {None: 78, "acceptance": 3, "handling": 11, "verification": 3, "closing": 2, "suspended": 3}
"""Where a case waits days for its next step, if it does (a finished wait makes it late, an unfinished one overdue)."""

HOTLINE = Principal(username="demo-hotline", role="hotline_operator")
CITIZEN = Principal(username="demo-citizen", role="citizen")
COMMANDER = Principal(username="demo-commander", role="district_commander")
"""The demo's people: the 12345 operator who takes calls and calls back, a citizen's app, the district command."""


@dataclass(frozen=True)
class CaseHistory:
    """The demo's cases: how many, how many still open, how many reports joined an open case, whether this load made them."""

    cases: int
    open: int
    linked: int
    loaded: bool


@dataclass(frozen=True)
class _Move:
    """A step of a case's script: when, who takes it (``intake``, ``unit``, ``verifier``, ``dispatcher`` or ``callback``), what."""

    at: datetime
    by: str
    action: str
    step: Step = field(default_factory=Step)


@dataclass(frozen=True)
class _Plan:
    """A report, who brings it, and the steps its case has been taken along by now."""

    report: Report
    reporter: Principal
    moves: list[_Move]


def load_case_history(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> CaseHistory:
    """Make the demo's case history, ending at ``now``, in one transaction; left as it is if already made.

    A trail can be neither changed nor deleted, so a second load does not replace the history
    as the rest of the demo is replaced: it leaves it, and says so (``loaded`` false).

    Raises
    ------
    ConfigurationError
        If the routing table names a unit that is no department.
    """
    now = now or utcnow()
    flow = case_flow(settings)
    with transaction(sessions) as session:
        made = bool(session.scalar(sa.select(sa.func.count()).where(Case.external_ref.like(f"{REF}%"))))
        if not made:
            _play(session, flow, _Drafts(session, flow, random.Random(SEED), now).plans(), now)
        return _counted(session, flow, loaded=not made)


def _counted(session: Session, flow: CaseFlow, *, loaded: bool) -> CaseHistory:
    demo = Case.external_ref.like(f"{REF}%")
    cases = session.scalar(sa.select(sa.func.count()).where(demo)) or 0
    still = session.scalar(sa.select(sa.func.count()).where(demo, Case.state.in_(flow.workflow.open_states()))) or 0
    linked = session.scalar(sa.select(sa.func.count()).where(CaseSignal.external_ref.like(f"{REF}%"),
                                                            CaseSignal.linked_by == "nearby")) or 0
    return CaseHistory(cases, still, linked, loaded)


def _play(session: Session, flow: CaseFlow, plans: list[_Plan], now: datetime) -> None:
    """Take every report and step in time order, the case clock passing each checkpoint as it comes."""
    queue = [(plan.report.received_at or now, index, -1, 0) for index, plan in enumerate(plans)]
    heapq.heapify(queue)
    units = {code: street for code, street in session.execute(sa.select(Department.code, Department.street_code))}
    clock = _Clock(session, flow)
    while queue:
        at, index, position, case_id = heapq.heappop(queue)
        clock.tick(at)
        plan = plans[index]
        if position < 0:
            intake = report_case(session, Scope(plan.reporter), plan.reporter, flow, plan.report, at)
            clock.touched(intake.case)
            if intake.linked:
                continue  # one more report of a case already open: its own script is void
            case_id = intake.case.id
        else:
            move, case = plan.moves[position], session.get_one(Case, case_id)
            if move.action != "file" or case.state == "received":  # else the classifier filed it at intake
                who = _who(move.by, case, units)
                clock.touched(act(session, Scope(who), who, flow, case_id, move.action, move.step, at))
        if position + 1 < len(plan.moves):
            heapq.heappush(queue, (plan.moves[position + 1].at, index, position + 1, case_id))
    clock.tick(now)


class _Clock:
    """The case clock, ticking at each checkpoint as it comes: warnings, overdue flags and escalations at their own time.

    It keeps a time no later than the earliest checkpoint, lowered by every case a step
    touches, so that it asks the database only when a checkpoint may be due.
    """

    def __init__(self, session: Session, flow: CaseFlow) -> None:
        self.session, self.flow = session, flow
        self.earliest = sa.select(sa.func.min(Case.next_check_at)).where(Case.suspended_at.is_(None))
        self.next: datetime | None = None

    def touched(self, case: Case) -> None:
        """A step changed ``case``: its checkpoints may now come first."""
        if case.next_check_at is not None and case.suspended_at is None:
            self.next = min(self.next, case.next_check_at) if self.next else case.next_check_at

    def tick(self, until: datetime) -> None:
        """Pass every checkpoint due by ``until``, each at its own time."""
        while self.next is not None and self.next <= until:
            self.next = self.session.scalar(self.earliest)
            if self.next is not None and self.next <= until:
                check_deadlines(self.session, self.flow, self.next)


def _who(part: str, case: Case, units: dict[str, str | None]) -> Principal:
    """Who takes a part on ``case``: its unit's staff, its street's verifier, the district command or the hotline."""
    if part == "unit":
        department = case.department or ""
        street = units.get(department)
        if street is not None:  # a street office: the street's operators act for it
            return Principal(username=f"demo-{department}", role="street_operator", streets=frozenset({street}))
        return Principal(username=f"demo-{department}", role="department_handler", department=department)
    if part == "verifier" and case.street_code:
        return Principal(username=f"demo-{case.street_code}-核查", role="street_operator", streets=frozenset({case.street_code}))
    return COMMANDER if part in {"dispatcher", "verifier"} else HOTLINE


class _Drafts:
    """The reports of the history and their scripts, drawn from one seeded generator in a fixed order."""

    def __init__(self, session: Session, flow: CaseFlow, rng: random.Random, now: datetime) -> None:
        self.session, self.flow, self.rng, self.now = session, flow, rng, now
        self.zone = ZoneInfo(flow.timezone)
        self.offices = street_offices(session)
        self.streets: dict[str, BaseGeometry] = {code: shape for code, shape in session.execute(
            sa.select(Area.code, Area.geometry).where(Area.level == "street", Area.geometry.is_not(None)).order_by(Area.code))}
        self.parcels: dict[str, list[tuple[float, float]]] = {}
        for street, lon, lat in session.execute(sa.select(Parcel.street_code, Parcel.lon, Parcel.lat)
                                                .where(Parcel.land_use == "residential").order_by(Parcel.id)):
            self.parcels.setdefault(street or "", []).append((lon, lat))
        with DEMO_TRAINING.open(encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
        self.messages: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            self.messages.setdefault(row["category"], []).append((row["title"], row["detail"]))
        self.unused = {category: rng.sample(found, len(found)) for category, found in sorted(self.messages.items())}

    def plans(self) -> list[_Plan]:
        """Every report in order of receipt, numbered ``DEMO-0001`` on."""
        categories = sorted(_WEIGHTS)
        drafts = []
        for _ in range(REPORTS):
            category = self.rng.choices(categories, weights=[_WEIGHTS[c] for c in categories])[0]
            lon, lat = self._place(category)
            patrol = category in _PATROLLED and self.rng.random() < 0.25
            channel = "patrol" if patrol else self.rng.choice(["hotline", "hotline", "open311"])
            drafts.append(self._plan(category, channel, self._message(category), lon, lat, self._received(channel)))
        drafts += self._repeated(drafts) + self._due_soon()
        drafts.sort(key=lambda plan: (plan.report.received_at or self.now))
        return [replace(plan, report=replace(plan.report, external_ref=f"{REF}{number:04d}"))
                for number, plan in enumerate(drafts, 1)]

    def _plan(self, category: str, channel: str, message: tuple[str, str], lon: float, lat: float, received: datetime,
              stall: str | None = None, *, handled: bool = True) -> _Plan:
        """A report as its channel brings it, and its case's steps up to now (up to the handling, if not ``handled``)."""
        street = areas_at(self.session, lon, lat)["street_code"] or ""
        name: str | None = "演示市民"
        phone: str | None = f"13{self.rng.randint(0, 9)}****{self.rng.randint(0, 9999):04d}"  # obviously no one's number
        reporter = HOTLINE
        if channel == "patrol":
            reporter = Principal(username=f"demo-{street}-巡查", role="street_operator", streets=frozenset({street}))
            name = phone = None
        elif channel == "open311":
            reporter, phone = CITIZEN, None
        chosen = None if channel == "open311" and self.rng.random() < 0.4 else category  # the app leaves some to the classifier
        report = Report(channel=channel, title=message[0], description=message[1], lon=lon, lat=lat, category=chosen,
                        reporter_name=name, reporter_phone=phone, received_at=received)
        if stall is None:
            stall = self.rng.choices(list(_STALLS), weights=list(_STALLS.values()))[0]
        moves = self._story(category, channel, received, self.offices.get(street), filed=chosen is not None, stall=stall)
        if not handled:
            moves = moves[:next(i for i, m in enumerate(moves) if m.action == "handle")]
        return _Plan(report, reporter, moves[:next((i for i, m in enumerate(moves) if m.at > self.now), len(moves))])

    def _story(self, category: str, channel: str, received: datetime, office: str | None, *, filed: bool, stall: str | None) -> list[_Move]:
        """What happens to a case from its receipt on, whether or not it has happened yet."""
        spec, rng = self.flow.categories.get(category), self.rng
        story = _Story(self, received, urgent=category in _URGENT)
        if not filed:
            story.then("intake", "file", 5, 40, Step(category=category), anytime=True)
        if office and spec.department != STREET_OFFICE and rng.random() < 0.05:  # not ours: back to the dispatcher
            story.then("unit", "return", 20, 180, Step(reason="经核实不属于本单位职责，请重新派遣。"))
            story.then("dispatcher", "reassign", 15, 90, Step(department=office))
        acceptance = Limit.parse(self.flow.categories.stage_limit(spec, "acceptance") or "4wh")
        if acceptance.counts_working_time:
            story.then("unit", "accept", 10, 150, stalled=stall == "acceptance")
        else:  # on duty round the clock: accepted within the limit, mostly
            minutes = acceptance.length(self.flow.office).total_seconds() / 60
            story.then("unit", "accept", 0.1 * minutes, 1.1 * minutes, stalled=stall == "acceptance", anytime=True)
        story.then("unit", "start", 0, 90)
        late, handling = rng.random() < 0.1, (30, 300) if category in _URGENT else (60, 2880)
        if stall is None and category not in _URGENT and rng.random() < 0.06:
            until = count(self.flow, received, "10wd").due
            story.then("unit", "request_postponement", 60, 300, Step(reason="需协调业主和物业共同施工，申请延期。", until=until))
            story.then("dispatcher", "approve_postponement", 30, 240)
            handling = (5 * 1440, 8 * 1440)
        elif stall == "suspended":
            story.then("dispatcher", "suspend", 60, 600, Step(reason="待相关方协调一致后再处置。"))
            story.then("dispatcher", "resume", 0, 60, stalled=True)
        elif late:
            handling = (5 * 1440, 9 * 1440)
        story.then("unit", "handle", *handling, Step(note=_HANDLED[category]), stalled=stall == "handling")
        reworked = rng.random() < 0.1
        if reworked:
            story.then("verifier", "rework", 60, 480, Step(reason="现场核查问题仍未解决，请返工。"))
            story.then("unit", "handle", 240, 2880, Step(note="已按核查意见重新处置。"))
        story.then("verifier", "verify", 60, 480, stalled=stall == "verification")
        story.then("dispatcher", "close", 20, 240, stalled=stall == "closing")
        if channel != "patrol" and rng.random() < 0.85:  # the callback reached the reporter (a patrol's find has none)
            verdict = rng.choices([1, 2, 3], weights=[3, 4, 3] if late or reworked else [1, 5, 14])[0]
            story.then("callback", "evaluate", 180, 2880, Step(satisfaction=verdict))
        return story.moves

    def _repeated(self, plans: list[_Plan]) -> list[_Plan]:
        """Other people's reports of a few incidents, within hours of the first: the platform links them to its case."""
        linkable = [p for p in plans if p.report.category and self.flow.categories.get(p.report.category).link_window_h > 0]
        again = []
        for first in self.rng.sample(linkable, min(10, len(linkable))):
            category, received = first.report.category or "", first.report.received_at or self.now
            window = self.flow.categories.get(category).link_window_h
            when = received + timedelta(hours=self.rng.uniform(0.5, min(window, 8)))
            if when < self.now and first.report.lon is not None and first.report.lat is not None:
                channel = self.rng.choice(["hotline", "open311"])
                message = (first.report.title, first.report.description)
                again.append(self._plan(category, channel, message, first.report.lon, first.report.lat, when))
        return again

    def _due_soon(self) -> list[_Plan]:
        """Two cases, still being handled, that fall due within the next few hours, where office hours allow any."""
        plans = []
        for category in ("道路设施", "物业管理"):
            limit = self.flow.categories.hotline_limits[self.flow.categories.get(category).hotline_kind]
            received = [self.now - timedelta(minutes=20 * k) for k in range(1, 14 * 72)]  # 14 days back, in 20 minutes
            fitting = [r for r in received if timedelta(hours=1) < count(self.flow, r, limit).due - self.now < timedelta(hours=3)]
            if fitting:
                lon, lat = self._place(category)
                plans.append(self._plan(category, "hotline", self._message(category), lon, lat, self.rng.choice(fitting),
                                        stall="handling", handled=False))  # a stall: never postponed
        return plans

    def _message(self, category: str) -> tuple[str, str]:
        """The next unused message of the category; once all are used, any of them again."""
        unused = self.unused[category]
        return unused.pop() if unused else self.rng.choice(self.messages[category])

    def _place(self, category: str) -> tuple[float, float]:
        """A street at random, then one of its residential compounds (for what is reported at home) or any point of it."""
        street = self.rng.choice(sorted(self.streets))
        if category in _AT_HOME and self.parcels.get(street):
            return self.rng.choice(self.parcels[street])
        shape = self.streets[street]
        west, south, east, north = shape.bounds
        while True:
            lon, lat = self.rng.uniform(west, east), self.rng.uniform(south, north)
            if shapely.contains_xy(shape, lon, lat):
                return lon, lat

    def _received(self, channel: str) -> datetime:
        """When a report came: any hour, mostly by day; a patrol's find within office hours."""
        hours = [1] * 7 + [3, 3] + [6] * 3 + [4, 4] + [6] * 4 + [5] * 4 + [2, 2]
        while True:
            day = (self.now - timedelta(days=self.rng.uniform(0, DAYS))).astimezone(self.zone)
            hour = self.rng.choices(range(24), weights=hours)[0]
            at = day.replace(hour=hour, minute=self.rng.randrange(60), second=self.rng.randrange(60)).astimezone(UTC)
            if channel == "patrol":
                at = self.at_work(at)
            if at < self.now:
                return at

    def at_work(self, moment: datetime) -> datetime:
        """``moment`` if offices are open then, else a little after they next open."""
        local = moment.astimezone(self.zone)
        day = local.date()
        while True:
            if self.flow.calendar.is_working_day(day):
                for opens, closes in self.flow.office.spans:
                    if local < datetime.combine(day, closes, self.zone):
                        start = datetime.combine(day, opens, self.zone)
                        return moment if local >= start else (start + timedelta(minutes=self.rng.uniform(5, 40))).astimezone(UTC)
            day += timedelta(days=1)


class _Story:
    """A case's steps one after another, each some minutes after the last, in office hours unless the case is urgent."""

    def __init__(self, drafts: _Drafts, start: datetime, *, urgent: bool) -> None:
        self.drafts, self.at, self.urgent = drafts, start, urgent
        self.moves: list[_Move] = []

    def then(self, by: str, action: str, low: float, high: float, step: Step | None = None, *, stalled: bool = False,
             anytime: bool = False) -> None:
        """The next step, ``low`` to ``high`` minutes later; days later if the case is ``stalled`` there."""
        rng = self.drafts.rng
        self.at += timedelta(minutes=rng.uniform(low, high), days=rng.uniform(3, 20) if stalled else 0)
        if not (anytime or (self.urgent and not stalled)):
            self.at = self.drafts.at_work(self.at)
        self.moves.append(_Move(self.at, by, action, step or Step()))
