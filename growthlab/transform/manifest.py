"""The dbt manifest Airflow renders `warehouse_build` from, cached by the project's content hash.

Cosmos can list the project with `dbt ls` at every DAG parse and cache the result in an Airflow
Variable. That cache lives in the metadata database, so a parse without one (the DAG-integrity
tests, `airflow dags list` before `db migrate`) fails, and a cold parse pays `dbt ls`. Instead
the DAG reads a manifest (`LoadMode.DBT_MANIFEST`) that `dbt parse` wrote for exactly the
project's current files: a file named by the sha256 of every project file, written atomically,
so a changed model means a new manifest and an unchanged project costs a hash and a JSON read.

`dbt parse` takes 10-30 s, close to Airflow's 30 s DAG import timeout, so a DAG parse never waits
for it when any manifest exists: it renders from the newest one and regenerates the current one in
a detached process (`manifest_for_dag`). Build it ahead, like any deploy artifact, with
`python -m growthlab.transform.manifest` (the demo and CI do).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
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


def manifest_path(project: Path | None = None, directory: Path | None = None) -> Path:
    """Where the manifest of the project as it is now lives (it may not exist yet)."""
    project = Path(project or project_dir())
    directory = Path(directory or cache_dir(project))
    return directory / f"manifest-{project_hash(project)[:20]}.json"


def manifest_for_dag(project: Path | None = None, directory: Path | None = None) -> Path:
    """The current manifest if built; else the newest older one, while a detached process builds the
    current one (a DAG parse must not wait for `dbt parse`); with none at all, build it now."""
    project = Path(project or project_dir())
    target = manifest_path(project, directory)
    if target.is_file():
        return target
    older = sorted(target.parent.glob("manifest-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not older:
        return ensure_manifest(project, directory)
    lock = target.with_suffix(".building")
    if not lock.exists() or time.time() - lock.stat().st_mtime > 300:
        lock.touch()
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "growthlab.transform.manifest",
                "--project",
                str(project),
                "--dir",
                str(target.parent),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    log.warning(
        "dbt project changed: rendering from the previous manifest %s while %s is built "
        "(build it ahead with `python -m growthlab.transform.manifest`)",
        older[0].name,
        target.name,
    )
    return older[0]


def ensure_manifest(project: Path | None = None, directory: Path | None = None) -> Path:
    """The manifest of the project as it is now; runs `dbt parse` (no database needed) if missing."""
    project = Path(project or project_dir())
    target = manifest_path(project, directory)
    directory = target.parent
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
    target.with_suffix(".building").unlink(missing_ok=True)
    log.info("dbt manifest written: %s", target)
    _prune(directory, keep=target)
    return target


def _prune(directory: Path, keep: Path) -> None:
    manifests = sorted(directory.glob("manifest-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in manifests if m != keep][KEEP - 1 :]:
        old.unlink(missing_ok=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="build the dbt manifest warehouse_build renders from")
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--dir", type=Path, default=None)
    cli = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(ensure_manifest(cli.project, cli.dir))
