"""Run dbt against a warehouse URL in a subprocess and read what it did from run_results.json.

Used by `growthlab dbt`, the tests and the benchmark. Airflow runs dbt through Cosmos instead.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from growthlab.transform.profile import dbt_env
from growthlab.transform.project import dbt_executable, project_dir
from growthlab.transform.vars import as_of_env, vars_arg

log = logging.getLogger(__name__)

FAILED_STATUSES = {"error", "fail", "runtime error"}


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str
    execution_time: float
    message: str | None = None
    failures: int | None = None
    relation_name: str | None = None

    @property
    def resource_type(self) -> str:
        return self.unique_id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.unique_id.rsplit(".", 1)[-1]

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass
class DbtInvocation:
    args: list[str]
    returncode: int
    seconds: float
    target_path: Path
    log_path: Path
    results: list[NodeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def by_status(self, *statuses: str) -> list[NodeResult]:
        return [r for r in self.results if r.status in statuses]

    @property
    def failed(self) -> list[NodeResult]:
        return [r for r in self.results if r.failed]

    def slowest(self, n: int = 10, resource_type: str | None = "model") -> list[NodeResult]:
        rows = [r for r in self.results if resource_type is None or r.resource_type == resource_type]
        return sorted(rows, key=lambda r: r.execution_time, reverse=True)[:n]

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"dbt {' '.join(self.args[:1])}: {parts or 'no nodes'} in {self.seconds:.1f}s"


class DbtFailed(RuntimeError):
    """dbt exited non-zero. The message names the failed nodes and where the log is."""

    def __init__(self, invocation: DbtInvocation) -> None:
        self.invocation = invocation
        failed = invocation.failed
        skipped = invocation.by_status("skipped")
        if failed:
            named = "; ".join(
                f"{r.unique_id} ({r.status}: {(r.message or '').strip()[:300]})" for r in failed
            )
            what = f"failed: {named}"
        else:
            what = "no node failed in run_results.json (a parse or connection error?)"
        if skipped:
            what += f"; skipped because of them: {', '.join(r.name for r in skipped[:20])}"
            if len(skipped) > 20:
                what += f" and {len(skipped) - 20} more"
        super().__init__(
            f"dbt {' '.join(invocation.args)} exited {invocation.returncode}: {what}. Log: {invocation.log_path}"
        )


def read_run_results(target_path: Path) -> list[NodeResult]:
    path = target_path / "run_results.json"
    if not path.is_file():
        return []
    data: dict[str, Any] = json.loads(path.read_text())
    return [
        NodeResult(
            unique_id=r["unique_id"],
            status=str(r.get("status")),
            execution_time=float(r.get("execution_time") or 0.0),
            message=r.get("message"),
            failures=r.get("failures"),
            relation_name=r.get("relation_name"),
        )
        for r in data.get("results", [])
    ]


def run_dbt(
    args: Sequence[str],
    url: str,
    *,
    vars: dict[str, Any] | None = None,
    as_of_date: date | datetime | str | None = None,
    target_path: Path | None = None,
    log_path: Path | None = None,
    threads: int | None = None,
    check: bool = True,
    extra_env: dict[str, str] | None = None,
) -> DbtInvocation:
    """Run `dbt ARGS` against the database at `url`; raise DbtFailed (naming nodes) if `check`.

    as_of_date: the build's "today" for lead_features (default: the data's last day).
    target_path / log_path default to the project's `target/` and `logs/`; give separate ones to
    run builds side by side (each keeps its own partial-parse state).
    """
    target = Path(target_path) if target_path else project_dir() / "target"
    logs = Path(log_path) if log_path else project_dir() / "logs"
    env = os.environ.copy()
    env.update(dbt_env(url, **({"threads": threads} if threads else {})))
    env.update({"DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(logs)})
    env.pop("GROWTHLAB_AS_OF_DATE", None)  # only the caller decides the build's date
    env.update(as_of_env(as_of_date))
    env.update(extra_env or {})
    full_args = [*args, *vars_arg(vars or {})]
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)  # never read a previous invocation's results
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log.info("dbt %s (target %s)", " ".join(args), target)
    with open(logs / "growthlab-dbt-stdout.log", "a") as out:
        proc = subprocess.run(
            [dbt_executable(), *full_args],
            cwd=project_dir(),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    invocation = DbtInvocation(
        args=list(full_args),
        returncode=proc.returncode,
        seconds=time.monotonic() - started,
        target_path=target,
        log_path=logs / "dbt.log",
        results=read_run_results(target),
    )
    log.info("%s", invocation.summary())
    if check and not invocation.ok:
        raise DbtFailed(invocation)
    return invocation
