"""The staff console's cookie-signing key, kept under ``IVR_STATE_DIR``.

Made once (random, 0600) on the first start and reused, so staff stay logged in across restarts
and the README's first command needs no secret to be set by hand; an operator rotates it by
deleting the file (every session then ends).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE = "console-session.key"
KEY_BYTES = 48  # 64 url-safe characters: well past the console's 32-character minimum


def console_key(state_dir: Path) -> str:
    path = Path(state_dir) / KEY_FILE
    if path.exists():
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key)
    return key
