"""Where the dbt project, its profile and the dbt executable are."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from growthlab.config import PROJECT_ROOT, get_settings

PROFILE_NAME = "growthlab"
TARGET_NAME = "warehouse"
# The schema dbt falls back to; every model folder sets its own (staging, intermediate, marts).
DEFAULT_SCHEMA = "staging"
DEFAULT_THREADS = 4


def project_dir() -> Path:
    """The dbt project folder (`dbt_project/` of the checkout, or of GROWTHLAB_PROJECT_DIR)."""
    try:
        return get_settings().dbt_project_dir
    except Exception:  # settings are broken: the checkout's folder still is the project
        return PROJECT_ROOT / "dbt_project"


def dbt_executable() -> str:
    """GROWTHLAB_DBT_EXECUTABLE, else the dbt next to this Python (the project virtualenv)."""
    configured = os.environ.get("GROWTHLAB_DBT_EXECUTABLE", "").strip()
    if configured:
        return configured
    return str(Path(sys.prefix) / "bin" / "dbt")
