"""Secrets at rest: Fernet encryption with rotation (the first key encrypts, all decrypt).

Keys come from ``LOOPWRIGHT_SECRET_KEYS`` (comma-separated, newest first) or, on the embedded
default, from ``<data_dir>/secret.key``, created on first start with mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from loopwright.errors import LoopwrightError
from loopwright.settings import Settings

KEY_FILE = "secret.key"


class SecretKeyMismatch(LoopwrightError):
    code = "secret_key_mismatch"
    status = 500


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyMismatch(
                "a stored secret cannot be decrypted with the configured keys"
            ) from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretKeyMismatch("a stored secret cannot be decrypted for rotation") from exc


def load_secret_box(settings: Settings) -> SecretBox:
    if settings.secret_keys is not None:
        keys = [k.strip() for k in settings.secret_keys.get_secret_value().split(",") if k.strip()]
        return SecretBox(keys)
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        _write_new_key(path)
    return SecretBox([path.read_text().strip()])


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode())
