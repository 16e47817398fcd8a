"""`growthlab mlflow-ui`: the MLflow UI on the project's tracking database."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from growthlab.config import get_settings


def _cmd(args: argparse.Namespace) -> int:
    from growthlab import airflow_env

    settings = get_settings()
    env = airflow_env.apply(settings)
    settings.mlflow_artifacts_dir.mkdir(parents=True, exist_ok=True)
    exe = str(Path(sys.prefix) / "bin" / "mlflow")
    argv = [
        exe,
        "server",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--backend-store-uri",
        env["MLFLOW_TRACKING_URI"],
        "--default-artifact-root",
        settings.mlflow_artifacts_dir.as_uri(),
    ]
    print(f"MLflow UI on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    os.execv(exe, argv)
    return 0  # pragma: no cover


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("mlflow-ui", help="the MLflow UI on the project's tracking database")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(func=_cmd)
