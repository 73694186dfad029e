"""The policy layer: who may do what, and which records they may see.

Every endpoint names one permission (:func:`require`), and every query of records goes through
a :class:`Scope` (:func:`scope_for`), so a scoped user's lists, maps, counts and exports are
filtered by area and department the same way everywhere. Personal fields are masked or, for
those who need them, shown and logged (:mod:`huizhili.policy.privacy`).
"""

from huizhili.policy.principal import ANONYMOUS, Principal
from huizhili.policy.rules import PERMISSIONS, ROLE_PERMISSIONS, Scope, may, require, scope_for

__all__ = ["ANONYMOUS", "PERMISSIONS", "ROLE_PERMISSIONS", "Principal", "Scope", "may", "require", "scope_for"]
