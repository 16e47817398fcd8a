"""`growthlab dbt ARGS...`: dbt on the project, connected to the configured warehouse.

Every argument goes to dbt untouched: `growthlab dbt build`, `growthlab dbt build --select
marts.leads --vars '{as_of_date: 2026-08-31}'`, `growthlab dbt docs generate`. The connection comes
from the embedded warehouse (or GROWTHLAB_WAREHOUSE_URL) as the pipeline role.
"""

from __future__ import annotations

import argparse
import os

from growthlab.config import get_settings


def exec_dbt(args: list[str]) -> int:
    from growthlab.transform.profile import dbt_env
    from growthlab.transform.project import dbt_executable, project_dir
    from growthlab.warehouse.db import resolve_urls

    env = os.environ.copy()
    env.update(dbt_env(resolve_urls(get_settings()).warehouse))
    exe = dbt_executable()
    os.chdir(project_dir())
    os.execve(exe, [exe, *args], env)
    return 0  # pragma: no cover - execve does not return


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dbt",
        help="run dbt on dbt_project/ against the warehouse, e.g. `growthlab dbt build`",
        add_help=False,
        # No option prefix: `--version`, `-s x` and the rest are dbt's, passed through untouched.
        prefix_chars="\0",
    )
    p.set_defaults(func=lambda args: exec_dbt(args.rest))
    p.add_argument("rest", nargs=argparse.REMAINDER)
