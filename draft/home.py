"""Draft's home: the user's own Draft state — config, pack repositories, draftd's state.

`DRAFT_HOME` when set, else the user data folder (`~/.local/share/draft` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "DRAFT_HOME"


def home() -> Path:
    explicit = os.environ.get(HOME_ENV)
    return Path(explicit) if explicit else Path(platformdirs.user_data_dir("draft"))
