"""Renewal programmes, their projects and progress, and the district's targets with their status.

A programme (零星旧改, 架空线入地, 邻里汇 …) has projects placed on the map and area-coded like
every record, so the policy layer scopes them by street; progress reports are append-only; a
target is a goal with a deadline, summed from projects or computed live by the platform
(:mod:`huizhili.programmes.targets`). Only the interfaces import this package.
"""
