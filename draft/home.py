"""Draft's home and draftd's state folder: where the user's own Draft state lives.

Draft's home (`draft home`) holds the user's config and pack repositories: `DRAFT_HOME`
when set, else the user data folder (`~/.local/share/draft` on Linux). draftd's state
(blobs, app records, history, `draftd.json`, a generated token) is `DRAFTD_STATE` when
set, else `<home>/draftd`; draftd, the client that finds and starts it, and `draft home`
all ask `draftd_state()`.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "DRAFT_HOME"
STATE_ENV = "DRAFTD_STATE"


def home() -> Path:
    explicit = os.environ.get(HOME_ENV)
    return Path(explicit) if explicit else Path(platformdirs.user_data_dir("draft"))


def draftd_state() -> Path:
    """draftd's state folder: `DRAFTD_STATE`, else the `draftd` folder in Draft's home."""
    explicit = os.environ.get(STATE_ENV)
    return Path(explicit) if explicit else home() / "draftd"
