"""Password hashes: argon2id from argon2-cffi, with its current recommended parameters."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from loyalty_plugin.domain.errors import ValidationError

#: argon2-cffi's defaults are RFC 9106's recommendation for argon2id; when a later version
#: raises them, hashes made with the old ones are replaced at the next sign-in.
_HASHER = PasswordHasher()
MIN_LENGTH = 10
MAX_LENGTH = 1024
#: Verified against when the account does not exist, so both cases take as long.
_DUMMY = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    """The argon2id hash of a password that meets the length rules."""
    check_password(password)
    return _HASHER.hash(password)


def check_password(password: str) -> None:
    """:class:`ValidationError` (field ``password``) if the password is too short or long."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(
            f"choose a password of at least {MIN_LENGTH} characters", field="password"
        )
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"a password has at most {MAX_LENGTH} characters", field="password")


def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``stored``, and a new hash when the parameters changed."""
    try:
        _HASHER.verify(stored or _DUMMY, password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, _HASHER.hash(password) if _HASHER.check_needs_rehash(stored) else None
