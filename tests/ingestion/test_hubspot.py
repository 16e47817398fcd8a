"""HubSpot ingestion against the sandbox's stand-in HubSpot, through the real hubspot-api-client.

One isolated tiny world for the module (sandbox_factory): a fault-free reference sync, then the
same sync under injected faults, through the DAG twice, killed mid-load, incrementally, with a
malformed record and with a wrong token. Tests that change the world run last.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from growthlab.airflow_env import postgres_connection
from growthlab.sources import hubspot
from growthlab.sources.hubspot import sync_all, sync_object
from growthlab.sources.hubspot_api import HubSpotError, RetryPolicy, client_from_connection
from growthlab.warehouse.db import connect
from growthlab.warehouse.migrate import apply_migrations

AS_OF = datetime(2026, 8, 31, 12, 0, tzinfo=UTC)
OBJECTS = ("owners", "companies", "contacts", "deals", "meetings", "emails")
FAST = RetryPolicy(max_attempts=10, base_s=0.05, cap_s=1.0)


@pytest.fixture(scope="module")
def hub(sandbox_factory):
    return sandbox_factory(seed=4, size=300)


def api_for(hub, token: str | None = None):
    return client_from_connection(hub.hubspot_url, token or hub.hubspot_token, retry=FAST)


def _new_db(pg_state, template: str | None = None) -> str:
    name = f"t_hs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_state.url("postgres", "postgres"), autocommit=True) as conn:
        if template:  # a template must have no other sessions
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                (template,),
            )
        tmpl = f' template "{template}"' if template else ""
        conn.execute(f'create database "{name}" owner growthlab{tmpl}')
    url = pg_state.url(name)
    if template is None:
        apply_migrations(url, pg_state.analyst_role)
    return url


@pytest.fixture(scope="module")
def reference(pg_state, hub) -> str:
    """A warehouse synced once, fault-free, at AS_OF."""
    url = _new_db(pg_state)
    sync_all(url, api_for(hub), as_of=AS_OF)
    return url


@pytest.fixture
def copy_of_reference(pg_state, reference) -> str:
    return _new_db(pg_state, template=reference.rsplit("/", 1)[1].split("?")[0])


def fingerprint(url: str) -> dict[str, set]:
    """What a sync produced, without its bookkeeping (_synced_at, _batch_id)."""
    out = {}
    with connect(url) as conn:
        for name in OBJECTS:
            out[name] = set(
                conn.execute(f"select id, md5(payload::text), archived from raw_hubspot.{name}").fetchall()
            )
        out["associations"] = set(
            conn.execute(
                "select from_type, from_id, to_type, to_id, association_type_id, removed from raw_hubspot.associations"
            ).fetchall()
        )
        out["email_events"] = set(
            conn.execute("select id, md5(payload::text) from raw_hubspot.email_events").fetchall()
        )
    return out


def unbalanced_or_failed(url: str) -> list:
    with connect(url) as conn:
        return conn.execute(
            """select object, status, rows_in, rows_loaded, rows_quarantined from ops.ingest_batches
               where source = 'hubspot' and (status = 'running' or
                     (status = 'succeeded' and rows_in <> rows_loaded + rows_quarantined))"""
        ).fetchall()


def portal_counts(hub) -> dict[str, int]:
    with psycopg.connect(hub.database_url) as conn:
        counts = {n: conn.execute(f"select count(*) from hubspot.{n}").fetchone()[0] for n in OBJECTS}
        start, end = (
            int((AS_OF - hubspot.EMAIL_EVENTS_HISTORY).timestamp() * 1000),
            int(AS_OF.timestamp() * 1000),
        )
        counts["email_events"] = conn.execute(
            "select count(*) from hubspot.email_events where created between %s and %s", (start, end)
        ).fetchone()[0]
    return counts


def test_a_full_sync_holds_every_record_of_the_portal(hub, reference):
    fp = fingerprint(reference)
    expected = portal_counts(hub)
    assert {n: len(fp[n]) for n in (*OBJECTS, "email_events")} == expected
    assert expected["contacts"] == 300 and expected["email_events"] > 300
    assert len(fp["associations"]) > expected["contacts"]
    assert unbalanced_or_failed(reference) == []
    with connect(reference) as conn:
        states = dict(
            conn.execute("select object, watermark from ops.sync_state where source = 'hubspot'").fetchall()
        )
        assert set(states) == {*OBJECTS, "email_events"} and all(w <= AS_OF for w in states.values())
        assert conn.execute("select count(*) from quarantine.rows").fetchone()[0] == 0
        # payload is the record as received; properties are HubSpot's strings
        email, payload_id = conn.execute(
            "select properties->>'email', payload->>'id' from raw_hubspot.contacts where id = payload->>'id' limit 1"
        ).fetchone()
        assert "@" in email and payload_id


def test_faults_change_nothing_in_the_result(pg_state, hub, reference):
    url = _new_db(pg_state)
    api = api_for(hub)
    with hub.faults(burst_429=3, error_5xx=0.1, drop=0.1, slow=0.1, slow_seconds=0.3, seed=11):
        sync_all(url, api, as_of=AS_OF)
    stats = api.stats
    assert stats.rate_limited >= 3 and stats.server_errors > 0 and stats.dropped > 0, stats.as_dict()
    assert stats.requests > stats.calls
    assert fingerprint(url) == fingerprint(reference)
    assert unbalanced_or_failed(url) == []


@pytest.mark.airflow
def test_the_dag_twice_for_one_interval_adds_nothing_the_second_time(
    dag_runner, pg_state, hub, reference, monkeypatch
):
    url = _new_db(pg_state)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(url))
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT",
        json.dumps({"conn_type": "http", "host": hub.hubspot_url, "password": hub.hubspot_token}),
    )
    first = dag_runner.run("hubspot_ingest", AS_OF)
    assert first.ok
    after_first = fingerprint(url)
    second = dag_runner.run("hubspot_ingest", AS_OF)
    assert second.ok
    assert fingerprint(url) == after_first
    for name in (*OBJECTS, "associations"):
        assert after_first[name] == fingerprint(reference)[name], name
    with connect(url) as conn:
        new_rows = conn.execute(
            "select coalesce(sum(rows_inserted + rows_updated), 0) from ops.ingest_batches where run_id = %s",
            (second.run_id,),
        ).fetchone()[0]
        assert new_rows == 0
        modes = conn.execute(
            "select distinct details->>'mode' from ops.ingest_batches where run_id = %s and details ? 'mode'",
            (second.run_id,),
        ).fetchall()
        assert ("incremental",) in modes  # the second run searched from the watermark
    assert unbalanced_or_failed(url) == []


def test_killed_mid_load_then_rerun_leaves_no_gap_and_no_duplicate(pg_state, hub, reference, settings):
    url = _new_db(pg_state)
    env = {
        **os.environ,
        "GROWTHLAB_WAREHOUSE_URL": url,
        "AIRFLOW_CONN_HUBSPOT": json.dumps(
            {"conn_type": "http", "host": hub.hubspot_url, "password": hub.hubspot_token}
        ),
    }
    log = settings.home / "logs" / "hubspot-kill-test.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "growthlab.cli", "ingest", "hubspot", "--as-of", AS_OF.isoformat()],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    # Kill it at a random moment once it is loading (landing, auditing, publishing or between).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with connect(url) as conn:
            started = conn.execute("select count(*) from ops.ingest_batches").fetchone()[0]
        if started:
            break
        time.sleep(0.05)
    time.sleep(random.Random(7).uniform(0.5, 6.0))
    assert proc.poll() is None, "the sync finished before it could be killed: " + log.read_text()[-500:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with connect(url) as conn:
        assert (
            conn.execute("select count(*) from ops.ingest_batches where status = 'running'").fetchone()[0]
            >= 1
        )
    sync_all(url, api_for(hub), as_of=AS_OF)
    assert fingerprint(url) == fingerprint(reference)
    with connect(url) as conn:
        interrupted = conn.execute(
            "select count(*) from ops.ingest_batches where error like 'interrupted%%'"
        ).fetchone()[0]
        assert interrupted >= 1
        leftovers = sum(
            conn.execute(f"select count(*) from landing.raw_hubspot__{t}").fetchone()[0]
            for t in (*OBJECTS, "associations")
        )
        assert leftovers == 0
    assert unbalanced_or_failed(url) == []


def test_search_windows_over_the_cap_are_split_and_complete(hub, reference, copy_of_reference, monkeypatch):
    url = copy_of_reference
    with connect(url) as conn:
        conn.execute("truncate raw_hubspot.contacts")
        conn.execute(
            "update ops.sync_state set watermark = '2020-01-01' where source = 'hubspot' and object = 'contacts'"
        )
        conn.commit()
    monkeypatch.setattr(hubspot, "SEARCH_CAP", 100)
    result = sync_object(url, api_for(hub), "contacts", as_of=AS_OF, with_associations=False)
    assert result.batch.details["mode"] == "incremental"
    assert result.batch.details.get("windows_split", 0) >= 2
    assert fingerprint(url)["contacts"] == fingerprint(reference)["contacts"]


def test_a_wrong_token_fails_with_hubspots_message(hub, copy_of_reference):
    with pytest.raises(HubSpotError, match="401: Authentication credentials not found"):
        sync_object(copy_of_reference, api_for(hub, token="pat-na1-wrong"), "companies", as_of=AS_OF)
    with connect(copy_of_reference) as conn:
        status, error = conn.execute(
            "select status, error from ops.ingest_batches where object = 'companies' order by started_at desc limit 1"
        ).fetchone()
    assert status == "failed" and "Authentication credentials not found" in error


def test_a_malformed_record_is_quarantined_and_the_rest_loads(hub, copy_of_reference):
    url = copy_of_reference
    before = fingerprint(url)["contacts"]
    with hub.faults(malformed=True):
        result = sync_object(
            url, api_for(hub), "contacts", as_of=AS_OF, full_refresh=True, with_associations=False
        )
    counts = result.batch.counts
    assert (counts.rows_in, counts.rows_quarantined) == (300, 1)
    with connect(url) as conn:
        rules = {
            r[0]
            for r in conn.execute(
                "select rule from quarantine.rows where batch_id = %s", (result.batch.batch_id,)
            )
        }
        (ref,) = {
            r[0]
            for r in conn.execute(
                "select row_ref from quarantine.rows where batch_id = %s", (result.batch.batch_id,)
            )
        }
    assert {"email_format", "createdate_timestamp"} <= rules, rules
    # the record keeps its last good version in raw; nothing else changed
    assert fingerprint(url)["contacts"] == before
    assert ref in {r[0] for r in before}


def test_incremental_sync_brings_changes_and_keeps_archived_records(hub, copy_of_reference):
    """Changes the world: runs last."""
    url = copy_of_reference
    client = hub.hubspot_client()
    with connect(url) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "select id from raw_hubspot.contacts where not archived order by id limit 2"
            )
        ]
    changed, gone = ids
    client.crm.contacts.basic_api.update(changed, {"properties": {"jobtitle": "Head of Decarbonisation"}})
    client.crm.contacts.basic_api.archive(gone)
    later = AS_OF + timedelta(hours=1)
    result = sync_object(url, api_for(hub), "contacts", as_of=max(later, hub.clock() + timedelta(minutes=1)),
                         with_associations=False)  # fmt: skip
    assert result.batch.details["mode"] == "incremental"
    assert changed in result.ids and result.batch.counts.rows_updated >= 2
    with connect(url) as conn:
        title = conn.execute(
            "select properties->>'jobtitle' from raw_hubspot.contacts where id = %s", (changed,)
        ).fetchone()
        archived = conn.execute(
            "select archived, archived_at is not null from raw_hubspot.contacts where id = %s", (gone,)
        ).fetchone()
        total = conn.execute("select count(*) from raw_hubspot.contacts").fetchone()[0]
    assert title == ("Head of Decarbonisation",)
    assert archived == (True, True)
    assert total == 300, "an archived record is marked, not lost"
