"""Allow ``python -m huizhili``."""

from huizhili.cli import main

main()
