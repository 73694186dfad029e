"""Which passwords people may not choose, after NIST SP 800-63B (memorised secrets).

Length alone let ``aaaaaaaaaa`` and the username itself through. NIST asks instead for a
minimum length and a check against values an attacker tries first: the username, words of
the service's own context, repetitive or sequential strings, and passwords known to be common.
It also asks for no other composition rules (no forced digits or symbols), so there are none.
"""

import unicodedata
from functools import cache
from itertools import pairwise
from pathlib import Path

MIN_LENGTH = 10
"""Characters a password needs at the least."""

CONTEXT_WORDS = ("huizhili", "汇治理", "xuhui", "徐汇", "shanghai", "上海")
"""The platform's and the district's names: the first words a guesser tries against this service."""

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt")
"""The most common passwords of at least :data:`MIN_LENGTH` characters; source in ``SOURCES.md``."""

KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
"""Rows of a QWERTY keyboard, left to right: ``1234567890`` ends in 0 there, not in the alphabet's order."""


def refusal_reason(password: str, username: str) -> str | None:
    """Why ``password`` may not be used by ``username``, or None when it may.

    The reason names the rule broken, never the password, so it can be shown and logged.

    Parameters
    ----------
    password
        The password asked for.
    username
        The account's username; a password containing it is refused (case-insensitive).

    Returns
    -------
    str or None
        One sentence naming the rule, or None for an acceptable password.
    """
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    text, name = _fold(password), _fold(username)
    # Shorter names (the API needs three characters) would refuse passwords by chance.
    if len(name) >= 3 and name in text:
        return "password must not contain the username"
    if any(_fold(word) in text for word in CONTEXT_WORDS):
        return "password must not contain the name of the platform or the district"
    if _is_repetitive_or_sequential(text):
        return "password must not be repetitive or sequential (one repeated pattern, a run of letters or digits, a keyboard row)"
    if text in _common_passwords():
        return "password is one of the most commonly used passwords; choose another"
    return None


def _fold(text: str) -> str:
    """``text`` compared without case or width (full-width ``ＸＵＨＵＩ`` is ``xuhui``)."""
    return unicodedata.normalize("NFKC", text).casefold()


def _is_repetitive_or_sequential(text: str) -> bool:
    """A unit repeated (``abababab``), one constant step (``abcdefghij``, ``9876543210``) or a keyboard row run."""
    if any(text == (text[:size] * (len(text) // size + 1))[: len(text)] for size in range(1, len(text) // 2 + 1)):
        return True
    steps = {ord(b) - ord(a) for a, b in pairwise(text)}
    if len(steps) == 1:
        return True
    return any(text in row * (len(text) // len(row) + 2) or text in row[::-1] * (len(text) // len(row) + 2) for row in KEYBOARD_ROWS)


@cache
def _common_passwords() -> frozenset[str]:
    """The shipped list, folded like the passwords it is compared with; read once per process."""
    return frozenset(_fold(line) for line in COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines() if line)
