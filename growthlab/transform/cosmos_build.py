"""How Airflow runs the dbt project: the Cosmos configuration of `dags/warehouse_build.py`.

* Profile: Cosmos's `PostgresUserPasswordProfileMapping` of the Airflow `warehouse` connection
  (the password travels as an environment variable, never in a file or a log).
* Rendering: `LoadMode.DBT_MANIFEST` from a manifest cached by the project's content hash
  (growthlab.transform.manifest): a parse costs a hash and a JSON read, needs no database, and a
  changed project gets a fresh manifest. One task per model and seed, ephemeral models as empty
  tasks. A failing test fails its model's test task and everything downstream is
  `upstream_failed`, never built on bad data.
* Execution: `GROWTHLAB_DBT_EXECUTION_MODE` chooses between Cosmos's modes; the default is the one
  the measurements in docs/architecture.md ("dbt") found fastest. `watcher`: one `dbt build` for
  the whole group, each model's task watches its node finish; `local`: one dbt invocation per
  task, in process (dbtRunner); `local_subprocess`: the same as a subprocess.
* As-of date: the DAG run's date, as GROWTHLAB_AS_OF_DATE (growthlab.transform.vars).
* Unit tests: excluded (`resource_type:unit_test`); CI runs them, production builds run the data
  tests only.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from growthlab.transform.project import DEFAULT_SCHEMA, PROFILE_NAME, TARGET_NAME, dbt_executable, project_dir
from growthlab.transform.vars import AS_OF_DATE_ENV, AS_OF_DATE_TEMPLATE

PROJECT_NAME = "growthlab"
# One quick retry for dbt tasks: a failing data test fails again, so waiting minutes (the DAG
# default) only delays the alert; a dropped connection is over in seconds. On retry the watcher's
# producer skips (never a second full build) and each failed model's task re-runs its own node.
DBT_DEFAULT_ARGS = {
    "owner": "growthlab",
    "retries": 1,
    "retry_delay": timedelta(seconds=15),
    "retry_exponential_backoff": False,
}

MODES = ("watcher", "local", "local_subprocess")
PRODUCTION_EXCLUDE = ["resource_type:unit_test"]
DEFAULT_MODE = "watcher"
THREADS = 4


class CosmosConfigError(ValueError):
    pass


def execution_mode_name() -> str:
    mode = os.environ.get("GROWTHLAB_DBT_EXECUTION_MODE", DEFAULT_MODE).strip() or DEFAULT_MODE
    if mode not in MODES:
        raise CosmosConfigError(
            f"GROWTHLAB_DBT_EXECUTION_MODE={mode!r} is not one of {', '.join(MODES)}; unset it for {DEFAULT_MODE}"
        )
    return mode


def profile_config(conn_id: str = "warehouse"):
    from cosmos import ProfileConfig
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    class CurrentConnectionMapping(PostgresUserPasswordProfileMapping):
        """Reads the connection whenever a task builds its profile.

        Cosmos keeps the first connection it read on the mapping object, which lives as long as the
        parsed DAG: a process that parses once and runs many times (`dag.test()` in the demo and the
        tests) would keep building against the first warehouse it saw.
        """

        @property
        def conn(self):
            from airflow.sdk import BaseHook

            return BaseHook.get_connection(self.conn_id)

    return ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=TARGET_NAME,
        profile_mapping=CurrentConnectionMapping(
            conn_id=conn_id, profile_args={"schema": DEFAULT_SCHEMA, "threads": THREADS}
        ),
    )


def project_config():
    from cosmos import ProjectConfig

    from growthlab.transform.manifest import manifest_for_dag

    # No packages to install: the project depends on nothing it would have to download.
    return ProjectConfig(
        manifest_path=manifest_for_dag(),
        project_name=PROJECT_NAME,
        install_dbt_deps=False,
        partial_parse=True,
    )


def execution_config(mode: str | None = None):
    from cosmos import ExecutionConfig
    from cosmos.constants import ExecutionMode, InvocationMode

    mode = mode or execution_mode_name()
    invocation = InvocationMode.SUBPROCESS if mode == "local_subprocess" else InvocationMode.DBT_RUNNER
    return ExecutionConfig(
        execution_mode=ExecutionMode.WATCHER if mode == "watcher" else ExecutionMode.LOCAL,
        invocation_mode=invocation,
        dbt_executable_path=dbt_executable(),
        dbt_project_path=project_dir(),
    )


def render_config(mode: str | None = None):
    from cosmos import RenderConfig
    from cosmos.constants import LoadMode, TestBehavior

    mode = mode or execution_mode_name()
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        # watcher: the single `dbt build` runs every test; each model's test task watches its results.
        # local: a model and its tests are one `dbt build --select` per task.
        test_behavior=TestBehavior.AFTER_EACH if mode == "watcher" else TestBehavior.BUILD,
        # The DAG emits one `marts` Asset after the whole build; per-model Assets would name the
        # database host and change with every environment.
        emit_datasets=False,
        # dbt's unit tests check the SQL logic on fixed inputs: they belong to CI (`make test`
        # runs them), not to every production build of the same code (dbt's own guidance). Cosmos
        # passes the exclusion to the watcher's `dbt build` and to each local-mode build.
        exclude=PRODUCTION_EXCLUDE,
    )


def operator_args() -> dict[str, Any]:
    return {
        "env": {AS_OF_DATE_ENV: AS_OF_DATE_TEMPLATE},
        "install_deps": False,
        "emit_datasets": False,
    }


def task_group_kwargs(mode: str | None = None) -> dict[str, Any]:
    """Everything `cosmos.DbtTaskGroup` needs besides `group_id`."""
    return {
        "project_config": project_config(),
        "profile_config": profile_config(),
        "execution_config": execution_config(mode),
        "render_config": render_config(mode),
        "operator_args": operator_args(),
    }


def run_watcher_producer_first(group) -> int:
    """Make the watcher's model tasks wait for its `dbt build` to finish (any outcome).

    Cosmos starts a DbtTaskGroup's model tasks next to the producer and lets them poll its XComs
    (only `DbtDag` gets the producer wired upstream). A serial runner (`dag.test()`, which the demo
    and the tests use) would then start a model task first and wait for a producer that never
    runs. With the producer upstream of the group's root tasks (trigger rule `all_done`, so a
    failed build still lets every model task report its own node's outcome), each model task
    finds its result at once. The cost: the UI shows per-model states when the build ends, not
    while it runs. Returns the number of root tasks wired; no-op outside watcher mode.
    """
    from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID

    tasks = _group_tasks(group)
    by_suffix = {task.task_id.rsplit(".", 1)[-1]: task for task in tasks}
    producer = by_suffix.get(PRODUCER_WATCHER_TASK_ID)
    if producer is None:
        return 0
    internal = {PRODUCER_WATCHER_TASK_ID, PRODUCER_WATCHER_DONE_TASK_ID}
    group_ids = {task.task_id for task in tasks}
    wired = 0
    for task in tasks:
        if task.task_id.rsplit(".", 1)[-1] in internal or task.upstream_task_ids & group_ids:
            continue
        producer >> task
        task.trigger_rule = "all_done"
        wired += 1
    return wired


def _group_tasks(group) -> list:
    out = []
    for child in group.children.values():
        if hasattr(child, "children"):
            out.extend(_group_tasks(child))
        else:
            out.append(child)
    return out
