"""Run DAGs through Airflow itself (`dag.test()`), in this process, for the demo and the tests.

`dag.test()` creates a real DagRun in the metadata database and runs every task through the task
SDK, so the runs appear in the Airflow UI (`make airflow`) exactly like scheduled ones. Airflow's
own output goes to a log file; callers get one `RunResult` per run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)


class DagRunFailed(RuntimeError):
    pass


@dataclass
class RunResult:
    dag_id: str
    logical_date: datetime
    state: str
    seconds: float
    failed_tasks: list[str] = field(default_factory=list)
    run_id: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "success"


def ensure_metadata_db(log_file: Path | None = None) -> None:
    """`airflow db migrate` (fast when already current). Needs the Airflow env applied."""
    from growthlab.airflow_cli import airflow_executable

    with _output_to(log_file) as out:
        proc = subprocess.run(
            [airflow_executable(), "db", "migrate"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            check=False,
        )
    if proc.returncode != 0:
        raise DagRunFailed(
            f"`airflow db migrate` failed (exit {proc.returncode}); see {log_file or 'the output above'}"
        )


@contextlib.contextmanager
def _output_to(log_file: Path | None) -> Iterator:
    if log_file is None:
        yield None
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a") as fh:
        yield fh


@contextlib.contextmanager
def redirect_fds(log_file: Path | None) -> Iterator[None]:
    """Send everything written to fd 1 and 2 (Airflow's structlog output included) to log_file."""
    if log_file is None:
        yield
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_file, "a") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class DagRunner:
    """Loads the DAG folder once and runs DAGs with `dag.test()`."""

    def __init__(self, dags_folder: Path, log_file: Path | None = None) -> None:
        self.dags_folder = Path(dags_folder)
        self.log_file = log_file
        self._bag = None

    @property
    def bag(self):
        if self._bag is None:
            with redirect_fds(self.log_file):
                from airflow.dag_processing.dagbag import DagBag

                bag = DagBag(dag_folder=str(self.dags_folder))
            if bag.import_errors:
                details = "\n".join(
                    f"  {path}: {err.strip().splitlines()[-1]}" for path, err in bag.import_errors.items()
                )
                raise DagRunFailed(f"DAG files failed to import:\n{details}")
            self._bag = bag
        return self._bag

    def dag_ids(self) -> list[str]:
        return sorted(self.bag.dag_ids)

    def run(
        self, dag_id: str, logical_date: datetime, conf: dict | None = None, raise_on_failure: bool = True
    ) -> RunResult:
        dag = self.bag.get_dag(dag_id)
        if dag is None:
            raise DagRunFailed(f"no DAG {dag_id!r} in {self.dags_folder}; known: {', '.join(self.dag_ids())}")
        started = time.monotonic()
        with redirect_fds(self.log_file):
            dagrun = dag.test(logical_date=logical_date, run_conf=conf)
        seconds = time.monotonic() - started
        state = str(getattr(dagrun.state, "value", dagrun.state))
        result = RunResult(
            dag_id, logical_date, state, seconds, _failed_tasks(dag_id, dagrun.run_id), dagrun.run_id
        )
        if raise_on_failure and not result.ok:
            raise DagRunFailed(
                f"DAG {dag_id} at {logical_date:%Y-%m-%d %H:%M} ended {state}; failed tasks: "
                f"{', '.join(result.failed_tasks) or 'none recorded'}. Task logs: {self.log_file}"
            )
        return result


def _failed_tasks(dag_id: str, run_id: str) -> list[str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance.task_id, TaskInstance.state)
            .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .all()
        )
    return sorted(
        task
        for task, state in rows
        if str(state)
        in {"failed", "upstream_failed", "TaskInstanceState.FAILED", "TaskInstanceState.UPSTREAM_FAILED"}
    )
