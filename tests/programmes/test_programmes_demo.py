"""The demo's programmes: the district's goals, illustrative projects on real streets, loaded twice without doubling."""

import sqlalchemy as sa

from huizhili.programmes.demo import ProgrammesDemo, load_programmes_demo
from huizhili.storage.engine import transaction
from huizhili.storage.models import Programme, Project, ProjectProgress, Target


def test_the_demo_loads_its_programmes_once_however_often_it_runs(xuhui):
    with transaction(xuhui) as session:
        first = load_programmes_demo(session)
    with transaction(xuhui) as session:
        again = load_programmes_demo(session)
    assert first == ProgrammesDemo(programmes=8, projects=30, progress=14, targets=8)
    assert again == ProgrammesDemo(programmes=8, projects=30, progress=0, targets=8)
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ProjectProgress)) == 14
        goals = dict(session.execute(sa.select(Target.code, Target.goal)).all())
        assert (goals["XH-T-LXJG"], goals["XH-T-JGDL"], goals["XH-T-JKX-KM"], goals["XH-T-JKX-ROADS"], goals["XH-T-PARK-300"],
                goals["XH-T-SSXM"]) == (1000, 52, 58.8, 63, 0.98, 48)
        assert session.scalar(sa.select(sa.func.count()).select_from(Programme)) == 8
        unplaced = session.scalar(sa.select(sa.func.count()).select_from(Project).where(Project.street_code.is_(None)))
        roads = session.scalars(sa.select(Project.quantities).join(Programme).where(Programme.code == "XH-JKX")).all()
    assert unplaced == 0, "every project lies in a street"
    assert all(road["km"] > 0 for road in roads), "a road's km comes from its walk ways"
