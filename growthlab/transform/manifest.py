"""The dbt manifest Airflow renders `warehouse_build` from, cached by the project's content hash.

Cosmos can list the project with `dbt ls` at every DAG parse and cache the result in an Airflow
Variable. That cache lives in the metadata database, so a parse without one (the DAG-integrity
tests, `airflow dags list` before `db migrate`) fails, and a cold parse pays `dbt ls`. Instead
the DAG reads a manifest (`LoadMode.DBT_MANIFEST`) that `dbt parse` wrote for exactly the
project's current files: a file named by the sha256 of every project file, written atomically,
so a changed model means a new manifest and an unchanged project costs a hash and a JSON read.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
from pathlib import Path

from growthlab.config import TELEMETRY_OFF
from growthlab.transform.project import dbt_executable, project_dir

log = logging.getLogger(__name__)

# What dbt reads: everything else (target/, logs/, docs output) does not change the manifest.
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml")
PROJECT_DIRS = ("models", "macros", "seeds", "tests", "snapshots", "analyses")
KEEP = 3


class ManifestError(RuntimeError):
    pass


def project_hash(project: Path | None = None) -> str:
    """sha256 over the relative path and content of every file dbt reads."""
    project = Path(project or project_dir())
    digest = hashlib.sha256()
    paths = [project / name for name in PROJECT_FILES if (project / name).is_file()]
    for folder in PROJECT_DIRS:
        if (project / folder).is_dir():
            paths.extend(p for p in (project / folder).rglob("*") if p.is_file())
    for path in sorted(paths):
        digest.update(path.relative_to(project).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def cache_dir(project: Path | None = None) -> Path:
    """GROWTHLAB_DBT_MANIFEST_DIR, else `<project>/target/manifests` (ignored by git)."""
    configured = os.environ.get("GROWTHLAB_DBT_MANIFEST_DIR", "").strip()
    return Path(configured) if configured else Path(project or project_dir()) / "target" / "manifests"


def ensure_manifest(project: Path | None = None, directory: Path | None = None) -> Path:
    """The manifest of the project as it is now; runs `dbt parse` (no database needed) if missing."""
    project = Path(project or project_dir())
    directory = Path(directory or cache_dir(project))
    target = directory / f"manifest-{project_hash(project)[:20]}.json"
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dbt-parse-", dir=directory) as tmp:
        env = os.environ.copy()
        env.update(TELEMETRY_OFF)
        # `dbt parse` needs a profile to exist, never a connection: placeholders are enough.
        env.update(
            {
                "DBT_PROFILES_DIR": str(project),
                "GROWTHLAB_DBT_HOST": env.get("GROWTHLAB_DBT_HOST", "localhost"),
                "GROWTHLAB_DBT_USER": env.get("GROWTHLAB_DBT_USER", "growthlab"),
                "GROWTHLAB_DBT_DBNAME": env.get("GROWTHLAB_DBT_DBNAME", "warehouse"),
                "DBT_ENV_SECRET_GROWTHLAB_PASSWORD": env.get("DBT_ENV_SECRET_GROWTHLAB_PASSWORD", "unused"),
                "DBT_TARGET_PATH": tmp,
                "DBT_LOG_PATH": tmp,
            }
        )
        env.pop("GROWTHLAB_AS_OF_DATE", None)
        proc = subprocess.run(
            [dbt_executable(), "parse", "--no-partial-parse", "--project-dir", str(project)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        produced = Path(tmp) / "manifest.json"
        if proc.returncode != 0 or not produced.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise ManifestError(
                f"`dbt parse` of {project} failed (exit {proc.returncode}); fix the project "
                f"(`growthlab dbt parse` shows the same error):\n{tail}"
            )
        os.replace(produced, target)
    log.info("dbt manifest written: %s", target)
    _prune(directory, keep=target)
    return target


def _prune(directory: Path, keep: Path) -> None:
    manifests = sorted(directory.glob("manifest-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in manifests if m != keep][KEEP - 1 :]:
        old.unlink(missing_ok=True)
