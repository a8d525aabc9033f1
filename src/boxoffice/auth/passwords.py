"""bcrypt hashing, always off the event loop (a 12-round hash takes a quarter of a second)."""

from __future__ import annotations

import asyncio
from functools import cache
from importlib import resources

import bcrypt

# bcrypt only reads the first 72 bytes; longer passwords are refused rather than truncated.
MAX_PASSWORD_BYTES = 72

# Where the service's context keeps its hasher (made once at start-up: bootstrap.prepare_passwords).
PASSWORDS = "passwords"


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of the most common passwords, lower-cased."""
    text = resources.files("boxoffice.auth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def is_common(password: str) -> bool:
    """Whether a password is one of the first an attacker would guess."""
    return password.strip().lower() in common_passwords()


class PasswordHasher:
    """Hashes and checks passwords at a fixed cost; unknown users cost as much as known ones."""

    def __init__(self, rounds: int, dummy_hash: bytes) -> None:
        self.rounds = rounds
        self._dummy_hash = dummy_hash

    @classmethod
    async def create(cls, rounds: int) -> PasswordHasher:
        """A hasher with its dummy hash made at the same cost as real ones."""
        salt = bcrypt.gensalt(rounds)
        dummy = await asyncio.to_thread(bcrypt.hashpw, b"no-such-user-password", salt)
        return cls(rounds, dummy)

    async def hash(self, password: str) -> str:
        encoded = password.encode("utf-8")
        if len(encoded) > MAX_PASSWORD_BYTES:
            raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
        hashed = await asyncio.to_thread(bcrypt.hashpw, encoded, bcrypt.gensalt(self.rounds))
        return hashed.decode("ascii")

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Whether `password` matches `hashed`; with no hash, burn the same time and say no."""
        encoded = password.encode("utf-8", errors="replace")
        target = hashed.encode("ascii") if hashed else self._dummy_hash
        if len(encoded) > MAX_PASSWORD_BYTES:
            # Still spend a full check so an over-long password answers in the usual time.
            await asyncio.to_thread(bcrypt.checkpw, b"x", target)
            return False
        try:
            matches = await asyncio.to_thread(bcrypt.checkpw, encoded, target)
        except ValueError:  # a corrupt stored hash never lets anyone in
            return False
        return matches and hashed is not None
