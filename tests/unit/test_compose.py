"""docker-compose.yaml stays consistent with the code (no Docker engine runs here to try it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
]


def test_official_layout_services(compose):
    services = set(compose["services"])
    assert {"postgres", "redis", "mlflow", *AIRFLOW_SERVICES} <= services


def test_airflow_services_share_env_and_mount_project_folders(compose):
    for name in AIRFLOW_SERVICES:
        svc = compose["services"][name]
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
        for folder in ("dags", "plugins", "dbt_project", "ml", "expectations"):
            assert mounts.get(f"/opt/airflow/{folder}") == f"./{folder}", f"{name} does not mount {folder}"
            assert (ROOT / folder).is_dir()
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


def test_connections_used_by_dags_are_defined(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    defined = {k.removeprefix("AIRFLOW_CONN_").lower() for k in env if k.startswith("AIRFLOW_CONN_")}
    used = set()
    for path in [*(ROOT / "dags").glob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        used |= set(re.findall(r"""(?:conn_id|_url|client)\(\s*["']([a-z_]+)["']""", path.read_text()))
        used |= set(re.findall(r"""conn_id(?:\s*:\s*str)?\s*=\s*["']([a-z_]+)["']""", path.read_text()))
    assert used, "no connection ids found in dags/ or plugins/"
    assert used <= defined, f"connections used but not defined in compose: {used - defined}"
    for key in defined:
        json.loads(env[f"AIRFLOW_CONN_{key.upper()}"].replace("${POSTGRES_PASSWORD:-growthlab}", "x"))


def test_mlflow_server_uses_the_same_postgres(compose):
    cmd = compose["services"]["mlflow"]["command"]
    assert "@postgres/mlflow" in cmd
    init = (ROOT / "docker" / "postgres-init.sql").read_text()
    assert "create database mlflow" in init and "create database airflow" in init


def test_image_is_built_from_the_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile
    airflow_pin = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert airflow_pin and f"apache/airflow:{airflow_pin.group(1)}" in dockerfile


def test_growthlab_commands_in_compose_exist(compose):
    from growthlab.cli import build_parser

    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    for name, svc in compose["services"].items():
        text = json.dumps(svc.get("command", ""))
        for sub in re.findall(r"growthlab ([a-z-]+)", text):
            assert sub in commands, f"service {name} runs `growthlab {sub}`, which does not exist"
