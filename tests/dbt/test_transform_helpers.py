"""The dbt helpers that need no database: profile from a URL, the as-of date, errors, the CLI, the manifest key."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from growthlab.config import ConfigError
from growthlab.transform import cli, cosmos_build
from growthlab.transform.manifest import manifest_path, project_hash
from growthlab.transform.profile import PASSWORD_VAR, dbt_env
from growthlab.transform.runner import DbtFailed, DbtInvocation, NodeResult
from growthlab.transform.vars import as_of_date_str, as_of_env

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


def test_profile_env_comes_from_the_url_and_keeps_the_password_in_a_secret_variable():
    env = dbt_env("postgresql://growthlab:s%40cret@db.internal:6543/warehouse")
    assert env["GROWTHLAB_DBT_HOST"] == "db.internal"
    assert env["GROWTHLAB_DBT_PORT"] == "6543"
    assert env["GROWTHLAB_DBT_USER"] == "growthlab"
    assert env["GROWTHLAB_DBT_DBNAME"] == "warehouse"
    assert env[PASSWORD_VAR] == "s@cret"  # dbt scrubs DBT_ENV_SECRET_* values from its logs
    assert "s@cret" not in {v for k, v in env.items() if k != PASSWORD_VAR}
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"


def test_a_url_without_a_database_is_refused_without_showing_the_password():
    with pytest.raises(ConfigError) as err:
        dbt_env("postgresql://growthlab:hunter2@db.internal:5432")
    assert "hunter2" not in str(err.value) and "must name a host and a database" in str(err.value)


def test_as_of_date_accepts_dates_and_refuses_anything_else():
    assert as_of_date_str("2026-08-31T09:00:00+00:00") == "2026-08-31"
    assert as_of_env(None) == {}
    assert as_of_env("2026-09-01") == {"GROWTHLAB_AS_OF_DATE": "2026-09-01"}
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        as_of_date_str("'; drop table marts.lead_features; --")


def test_a_failed_build_names_the_failed_node_and_what_it_stopped(tmp_path):
    invocation = DbtInvocation(
        args=["build"],
        returncode=1,
        seconds=3.0,
        target_path=tmp_path,
        log_path=tmp_path / "dbt.log",
        results=[
            NodeResult("model.growthlab.dim_contacts", "success", 1.0),
            NodeResult(
                "test.growthlab.accepted_values_dim_contacts_seniority.1", "fail", 0.2, "Got 1 result", 1
            ),
            NodeResult("model.growthlab.lead_features", "skipped", 0.0),
        ],
    )
    message = str(DbtFailed(invocation))
    assert "accepted_values_dim_contacts_seniority" in message
    assert "skipped because of them: lead_features" in message
    assert str(tmp_path / "dbt.log") in message


def test_growthlab_dbt_passes_every_argument_through():
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["dbt", "--version"]).rest == ["--version"]
    assert parser.parse_args(["dbt", "build", "-s", "marts.leads", "--vars", "{a: 1}"]).rest == [
        "build",
        "-s",
        "marts.leads",
        "--vars",
        "{a: 1}",
    ]


def test_an_unknown_execution_mode_is_refused(monkeypatch):
    monkeypatch.setenv("GROWTHLAB_DBT_EXECUTION_MODE", "kubernetes")
    with pytest.raises(cosmos_build.CosmosConfigError, match="watcher"):
        cosmos_build.execution_mode_name()


def test_the_manifest_key_follows_the_project_files_and_nothing_else(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    before = project_hash(project)
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text("{}")  # build output: same manifest
    assert project_hash(project) == before
    model = project / "models" / "marts" / "leads" / "dim_contacts.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    assert project_hash(project) != before
    assert manifest_path(project, tmp_path / "m").name == f"manifest-{project_hash(project)[:20]}.json"
