"""Passwords (Argon2id), opaque bearer secrets (SHA-256 at rest) and Mosquitto password hashes."""

import base64
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MOSQUITTO_ITERATIONS = 101
"""PBKDF2 rounds of ``mosquitto_passwd``'s ``$7$`` format (its own default)."""


def hash_password(password: str) -> str:
    """An Argon2id hash (salted, memory-hard) of ``password``."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False for a malformed hash."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret() -> str:
    """A fresh 256-bit secret, URL-safe, for tokens, API keys and device passwords."""
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    """What is stored of an opaque secret: its SHA-256, so a database leak yields no usable tokens."""
    return hashlib.sha256(secret.encode()).hexdigest()


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """The ``$7$`` PBKDF2-SHA512 hash that Mosquitto's ``password_file`` expects."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return f"$7${MOSQUITTO_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
