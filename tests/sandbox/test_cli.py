"""`growthlab sandbox ...` as a user runs it: a detached server process, sandbox.json, the clock, the truth."""

from __future__ import annotations

import json
import stat

import httpx
import pandas as pd
import pytest

from growthlab.cli import main
from tests.fixtures.sandbox import new_database


@pytest.fixture
def cli(pg_state, tmp_path, monkeypatch, capsys):
    """Run `growthlab sandbox ...` (in-process; `up` still starts the detached server process)."""
    url, drop = new_database(pg_state, "sandbox_cli")
    home = tmp_path / "home"
    monkeypatch.setenv("GROWTHLAB_HOME", str(home))
    monkeypatch.setenv("GROWTHLAB_SANDBOX_DATABASE_URL", url)
    monkeypatch.setenv("GROWTHLAB_LINKEDIN_INBOX", str(tmp_path / "inbox"))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["sandbox", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    run.home = home  # type: ignore[attr-defined]
    run.inbox = tmp_path / "inbox"  # type: ignore[attr-defined]
    yield run
    run("down")
    drop()


def test_up_status_advance_truth_faults_down(cli, tmp_path):
    code, out, _ = cli("status")
    assert code == 3 and json.loads(out)["running"] is False
    code, out, _ = cli("up", "--seed", "9", "--size", "300")
    assert code == 0 and "generating the 300 world" in out
    doc_path = cli.home / "sandbox.json"
    doc = json.loads(doc_path.read_text())
    assert stat.S_IMODE(doc_path.stat().st_mode) == 0o600
    assert set(doc) == {"seed", "size", "today", "hubspot", "sendgrid", "linkedin", "database_url_env"}
    assert doc["seed"] == 9 and doc["size"] == "300" and doc["today"] == "2026-08-31"
    assert set(doc["hubspot"]) == {"url", "token", "readonly_token"}
    assert set(doc["sendgrid"]) == {"url", "api_key", "webhook_public_key"}
    assert set(doc["linkedin"]) == {"inbox", "adapter_url", "token"}
    headers = {"Authorization": f"Bearer {doc['hubspot']['token']}"}
    assert httpx.get(f"{doc['hubspot']['url']}/crm/v3/objects/contacts", headers=headers).status_code == 200
    assert any(cli.inbox.iterdir())
    # Idempotent: same world, same server process, same URLs.
    code, out, _ = cli("up", "--seed", "9", "--size", "300")
    assert "already running" in out and "generating" not in out
    assert json.loads(doc_path.read_text())["hubspot"]["url"] == doc["hubspot"]["url"]
    code, out, _ = cli("status")
    status = json.loads(out)
    assert code == 0 and status["running"] and status["world"]["contacts"] == 300
    code, out, _ = cli("advance", "--days", "2")
    assert json.loads(out)["clock"] == "2026-09-02"
    assert json.loads(doc_path.read_text())["today"] == "2026-09-02"
    target = tmp_path / "truth.csv"
    code, out, _ = cli("truth", "--out", str(target))
    assert "oracle AUC" in out
    truth = pd.read_csv(target)
    assert list(truth.columns) == ["contact_id", "email", "propensity", "converted"] and len(truth) > 100
    cli("faults", "burst_429=1")
    assert httpx.get(f"{doc['hubspot']['url']}/crm/v3/objects/deals", headers=headers).status_code == 429
    assert httpx.get(f"{doc['hubspot']['url']}/crm/v3/objects/deals", headers=headers).status_code == 200
    code, _, err = cli("faults", "nonsense=1")
    assert code == 2 and "unknown fault setting" in err
    code, out, _ = cli("down")
    assert "stopped" in out and not doc_path.exists()
    assert cli("status")[0] == 3


def test_up_says_what_to_do_when_the_warehouse_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GROWTHLAB_SANDBOX_DATABASE_URL", raising=False)
    monkeypatch.setenv("GROWTHLAB_HOME", str(tmp_path / "nowhere"))
    assert main(["sandbox", "up"]) == 2
    assert "growthlab warehouse up" in capsys.readouterr().err
