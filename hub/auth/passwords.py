"""Passwords of people: argon2id hashes, a length rule, and reading one from a file or a prompt.

Client secrets are random 256-bit strings (`hub/auth/clients.py`); people choose passwords,
so theirs get argon2id at the library's full cost and a minimum length.
"""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher

from hub.auth.clients import verify_secret

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


class PasswordError(ValueError):
    """A password that cannot be used; the message says what to choose instead."""


def check_password(password: str) -> str:
    """The password itself when it is long enough; PasswordError otherwise."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise PasswordError("a password may not start or end with white space")
    return password


def hash_password(hasher: PasswordHasher, password: str) -> str:
    return hasher.hash(check_password(password))


def password_matches(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    """Constant-time argon2id check; a missing hash costs the same and fails."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    return verify_secret(hasher, password_hash, password)


def read_password_file(path: Path) -> str:
    """The first line of a file (no trailing newline): `--password-file`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PasswordError(f"cannot read {path}: {error.strerror}") from None
    lines = text.splitlines()
    return lines[0] if lines else ""
