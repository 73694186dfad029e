"""What the programme tests share: a housing-repair programme of the housing bureau (房管局) in the Xuhui demo."""

from sqlalchemy.orm import Session, sessionmaker

from huizhili.policy import Scope
from huizhili.programmes.records import ProgrammeSpec, write_programmes
from huizhili.storage.engine import transaction

XUJIAHUI, TIANPING = "310104014", "310104003"
"""徐家汇街道 and 天平路街道."""


def with_housing(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Add programme XH-HR, housing repair (住房修缮) run by the housing bureau, to the database of ``sessions``."""
    with transaction(sessions) as session:
        assert write_programmes(session, Scope.system(), [ProgrammeSpec("XH-HR", "housing_repair", "住房修缮", "Housing repair",
                                                                        owner_department="房管局")]) == [None]
    return sessions
