"""Where the zoo's own files live (``ZOO_CONFIG_DIR`` points the config tree elsewhere, e.g. in tests)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = Path(os.environ.get("ZOO_CONFIG_DIR", REPO_ROOT / "configs"))
