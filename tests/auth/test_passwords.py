"""Production hashes cost 12 bcrypt rounds (the tests run at 4 to stay quick)."""

import pytest

from boxoffice.auth.passwords import PasswordHasher
from boxoffice.settings import Settings


async def test_a_hash_made_with_default_settings_uses_12_rounds(monkeypatch):
    monkeypatch.delenv("BCRYPT_ROUNDS", raising=False)
    settings = Settings(_env_file=None)
    hasher = await PasswordHasher.create(settings.bcrypt_rounds)
    hashed = await hasher.hash("secret123")
    assert hashed.startswith("$2b$12$")
    assert await hasher.verify("secret123", hashed)
    assert not await hasher.verify("secret124", hashed)


async def test_a_password_over_72_bytes_is_never_hashed():
    hasher = await PasswordHasher.create(4)
    with pytest.raises(ValueError, match="72 bytes"):
        await hasher.hash("a" * 73)


async def test_a_corrupt_stored_hash_lets_nobody_in():
    hasher = await PasswordHasher.create(4)
    assert not await hasher.verify("anything", "not-a-bcrypt-hash")
