"""A per-checkout secret key for demos and tests, kept out of version control."""

from __future__ import annotations

import secrets
from pathlib import Path


def local_secret_key(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    tmp.write_text(key)
    tmp.chmod(0o600)
    tmp.replace(path)
    return path.read_text().strip()
