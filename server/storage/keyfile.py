"""The workspace key file: created once with 0600 permissions, read at every start."""

import os
from pathlib import Path

from privacy.crypto import Keyring, keyring_from_json, keyring_to_json, new_keyring


def load_or_create(path: Path) -> Keyring:
    """Read the keyring at `path`, creating it (mode 0600, atomically) when missing."""
    if path.exists():
        return keyring_from_json(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    keyring = new_keyring()
    write(path, keyring)
    return keyring


def write(path: Path, keyring: Keyring) -> None:
    """Replace the key file atomically so a crash never leaves half a keyring."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keyring_to_json(keyring))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
