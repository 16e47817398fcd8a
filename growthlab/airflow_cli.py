"""`growthlab airflow ARGS...`: the Airflow CLI with the project's settings and connections."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


def airflow_executable() -> str:
    candidate = Path(sys.prefix) / "bin" / "airflow"
    return str(candidate) if candidate.exists() else (shutil.which("airflow") or "airflow")


def exec_airflow(args: list[str]) -> int:
    from growthlab import airflow_env

    airflow_env.apply()
    exe = airflow_executable()
    os.execv(exe, [exe, *args])
    return 0  # pragma: no cover - execv does not return


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "airflow",
        help="run the Airflow CLI with growthlab's settings, e.g. `growthlab airflow dags list`",
        add_help=False,
    )
    p.set_defaults(func=lambda args: exec_airflow(args.rest))
    p.add_argument("rest", nargs=argparse.REMAINDER)
