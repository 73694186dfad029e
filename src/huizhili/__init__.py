"""huizhili (汇治理): a city district's operations platform."""

__version__ = "0.1.0"
