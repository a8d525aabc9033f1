"""Embedded mode's token signing key: made at first start, kept in the data folder (0600).

A key written in the source would be every install's key, so anyone could sign an admin
token for anyone's system. Each data folder gets its own random key instead, created once
and read back on every later start; SECRET_KEY, when set, wins (and distributed mode
requires it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import structlog

log = structlog.get_logger("boxoffice.auth")

KEY_FILE = "secret_key"
KEY_BYTES = 48  # 64 URL-safe characters: well over HS256's 256 bits
MIN_KEY_CHARS = 32


class SigningKeyError(RuntimeError):
    """The data folder's signing key could not be made or read."""


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create_key(data_dir: Path) -> str:
    """The data folder's key, made (owner-only) if it has none yet."""
    path = key_path(data_dir)
    try:
        if path.exists():
            return _read(path)
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(KEY_BYTES)
        # Written whole under a private name, then linked into place: a reader never sees half
        # a key, and when two processes start at once the first link wins and both use it.
        draft = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, key.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(draft, path)
        except FileExistsError:
            return _read(path)
        finally:
            draft.unlink()
        log.info("signing_key_created", path=str(path))
        return key
    except OSError as exc:
        raise SigningKeyError(f"cannot make or read the signing key {path}: {exc}") from exc


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # Someone widened it (a copy, an archive): the key is the install's admin access.
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
        log.warning("signing_key_permissions_tightened", path=str(path), was=oct(mode))
    key = path.read_text().strip()
    if len(key) < MIN_KEY_CHARS:
        # A half-written or emptied file: refuse rather than sign with a guessable key.
        raise SigningKeyError(
            f"the signing key {path} is shorter than {MIN_KEY_CHARS} characters: delete it to "
            "make a new one (every token issued so far stops working), or set SECRET_KEY"
        )
    return key
