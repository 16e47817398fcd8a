"""SendGrid Event Webhook: signature verification (known-answer vector), durable spool, dedup load."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from growthlab.sources.sendgrid_events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureCheck,
    create_app,
    load_spooled_events,
    public_key_from_environment,
)
from growthlab.warehouse.db import connect

VECTOR_PATH = (
    Path(__file__).resolve().parents[1] / "reference" / "sendgrid" / "signed_event_webhook_vector.json"
)  # copied from ../shared/reference
EXAMPLES_PATH = VECTOR_PATH.parent / "event_webhook_examples.json"
AS_OF = datetime(2026, 8, 31, tzinfo=UTC)


@pytest.fixture(scope="module")
def vector() -> dict:
    return json.loads(VECTOR_PATH.read_text())


class Signer:
    """Signs webhook bodies the way SendGrid does (ECDSA P-256 over timestamp + body)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, at: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if at is None else at)
        sig = self.key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(sig).decode(), TIMESTAMP_HEADER: ts}


def event(i: int, kind: str = "delivered", **extra) -> dict:
    return {
        "email": f"person{i}@firm.example",
        "timestamp": int(datetime(2026, 8, 30, 12, tzinfo=UTC).timestamp()) + i,
        "event": kind,
        "sg_event_id": f"ev-{i}",
        "sg_message_id": f"msg{i}.filter0001",
        "gl_campaign": "heat-pump-q3",
        "gl_step": "1",
        "gl_variant": "b",
        "gl_angle": "cost_savings",
        "gl_contact_id": str(5000 + i),
        "gl_outbox_id": str(900 + i),
        **extra,
    }


def spool_rows(url) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(
            "select event_count, times_received, loaded_at is null from raw_sendgrid.webhook_batches order by 1"
        ).fetchall()


def test_known_answer_vector_verifies_only_within_tolerance(fresh_db, vector):
    signed_at = int(vector["timestamp"])
    headers = {SIGNATURE_HEADER: vector["signature"], TIMESTAMP_HEADER: vector["timestamp"]}
    body = vector["payload"].encode()
    fresh = SignatureCheck(vector["public_key"], tolerance_s=600, clock=lambda: signed_at + 30)
    with TestClient(create_app(fresh_db, fresh)) as client:
        ok = client.post("/sendgrid/events", content=body, headers=headers)
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"stored": 1, "duplicate": False}
        again = client.post("/sendgrid/events", content=body, headers=headers)
        assert again.json() == {"stored": 1, "duplicate": True}
    assert spool_rows(fresh_db) == [(1, 2, True)], "a redelivered batch is stored once"

    stale = SignatureCheck(vector["public_key"], tolerance_s=600)  # the real clock: years later
    with TestClient(create_app(fresh_db, stale)) as client:
        refused = client.post("/sendgrid/events", content=body, headers=headers)
        assert refused.status_code == 403 and "stale" in refused.json()["error"]


@pytest.mark.parametrize(
    "bad", ["other_public_key", "other_signature", "other_payload", "other_timestamp", "none"]
)
def test_bad_signatures_get_403_and_store_nothing(warehouse_url, vector, bad):
    reject = vector["must_reject"]
    key = reject["other_public_key"] if bad == "other_public_key" else vector["public_key"]
    headers = {
        SIGNATURE_HEADER: reject["other_signature"] if bad == "other_signature" else vector["signature"],
        TIMESTAMP_HEADER: reject["other_timestamp"] if bad == "other_timestamp" else vector["timestamp"],
    }
    if bad == "none":
        headers = {}
    body = (reject["other_payload"] if bad == "other_payload" else vector["payload"]).encode()
    check = SignatureCheck(key, clock=lambda: int(vector["timestamp"]))
    with TestClient(create_app(warehouse_url, check)) as client:
        response = client.post("/sendgrid/events", content=body, headers=headers)
    assert response.status_code == 403, response.text
    with connect(warehouse_url) as conn:
        stored = conn.execute(
            "select count(*) from raw_sendgrid.webhook_batches where body_sha256 = %s",
            (hashlib.sha256(body).hexdigest(),),
        ).fetchone()[0]
    assert stored == 0


def test_spooled_events_load_deduplicated_with_custom_args(fresh_db):
    signer = Signer()
    batch1 = [event(i) for i in range(30)] + [event(1, "open", sg_machine_open=True, sg_event_id="ev-open-1")]
    batch2 = [event(i) for i in range(25, 40)]  # overlaps: ev-25..29 are redeliveries
    examples = json.loads(EXAMPLES_PATH.read_text())
    with TestClient(create_app(fresh_db, SignatureCheck(signer.public_key))) as client:
        for body in (json.dumps(batch1).encode(), json.dumps(batch2).encode(), json.dumps(examples).encode()):
            assert (
                client.post("/sendgrid/events", content=body, headers=signer.headers(body)).status_code == 200
            )

    first = load_spooled_events(fresh_db, as_of=AS_OF)
    c = first.batch.counts
    assert first.spooled_batches == 3
    assert c.rows_in == 31 + 15 + len(examples)
    assert c.rows_in == c.rows_loaded + c.rows_quarantined
    with connect(fresh_db) as conn:
        n = conn.execute("select count(*) from raw_sendgrid.events where sg_event_id like 'ev-%'").fetchone()[
            0
        ]
        assert n == 41  # 40 distinct deliveries + 1 open, redeliveries merged
        row = conn.execute(
            """select event, email, event_at, gl_campaign, gl_step, gl_variant, gl_angle, gl_contact_id,
                      gl_outbox_id, sg_machine_open from raw_sendgrid.events where sg_event_id = 'ev-open-1'"""
        ).fetchone()
        assert row == ("open", "person1@firm.example", datetime(2026, 8, 30, 12, 0, 1, tzinfo=UTC),
                       "heat-pump-q3", "1", "b", "cost_savings", "5001", "901", True)  # fmt: skip
        # SendGrid's own examples are from 2017: older events are fine, every type is known.
        assert (
            conn.execute(
                "select count(*) from raw_sendgrid.events where email = 'alex@example.com'"
            ).fetchone()[0]
            >= 10
        )
        assert (
            conn.execute(
                "select count(*) from raw_sendgrid.webhook_batches where loaded_at is null"
            ).fetchone()[0]
            == 0
        )
        total = conn.execute("select count(*) from raw_sendgrid.events").fetchone()[0]

    rerun = load_spooled_events(fresh_db, as_of=AS_OF)
    assert (rerun.spooled_batches, rerun.batch.counts.rows_in) == (0, 0)
    # The same events arriving again in a new batch change nothing either.
    body = json.dumps([*batch2, {"not": "an event"}, "junk"]).encode()
    with TestClient(create_app(fresh_db, SignatureCheck(signer.public_key))) as client:
        assert client.post("/sendgrid/events", content=body, headers=signer.headers(body)).status_code == 200
    again = load_spooled_events(fresh_db, as_of=AS_OF)
    assert (again.batch.counts.rows_inserted, again.batch.counts.rows_updated) == (0, 0)
    assert again.batch.counts.rows_quarantined == 2
    with connect(fresh_db) as conn:
        assert conn.execute("select count(*) from raw_sendgrid.events").fetchone()[0] == total
        rules = conn.execute(
            "select rule from quarantine.rows where table_name = 'raw_sendgrid.events' order by 1"
        ).fetchall()
        assert [r[0] for r in rules] == ["parse.event", "sg_event_id_not_null"]


def test_unknown_event_types_are_quarantined_not_loaded(fresh_db):
    signer = Signer()
    events = [event(i) for i in range(50)] + [event(99, "teleported")]
    body = json.dumps(events).encode()
    with TestClient(create_app(fresh_db, SignatureCheck(signer.public_key))) as client:
        client.post("/sendgrid/events", content=body, headers=signer.headers(body))
    loaded = load_spooled_events(fresh_db, as_of=AS_OF)
    assert (loaded.batch.counts.rows_loaded, loaded.batch.counts.rows_quarantined) == (50, 1)
    with connect(fresh_db) as conn:
        assert conn.execute("select rule, row_ref, payload->>'event' from quarantine.rows").fetchall() == [
            ("event_type", "ev-99", "teleported")
        ]


def test_public_key_comes_from_env_or_the_sendgrid_connection(monkeypatch):
    monkeypatch.delenv("GROWTHLAB_SENDGRID_WEBHOOK_PUBLIC_KEY", raising=False)
    conn = json.dumps({"conn_type": "http", "extra": json.dumps({"webhook_public_key": "KEY1"})})
    assert public_key_from_environment(conn) == "KEY1"
    monkeypatch.setenv("GROWTHLAB_SENDGRID_WEBHOOK_PUBLIC_KEY", "KEY2")
    assert public_key_from_environment(conn) == "KEY2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_growthlab_receiver_serve_runs_as_its_own_process(fresh_db, settings):
    """The command docker-compose and the demo start: a uvicorn process answering signed posts."""
    signer = Signer()
    port = _free_port()
    env = {
        **os.environ,
        "GROWTHLAB_WAREHOUSE_URL": fresh_db,
        "GROWTHLAB_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key,
    }
    log = settings.home / "logs" / "receiver-test.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "growthlab.cli", "receiver", "serve", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        body = json.dumps([event(1)]).encode()
        response = httpx.post(
            f"{base}/sendgrid/events", content=body, headers=signer.headers(body), timeout=5
        )
        assert response.status_code == 200, log.read_text()[-2000:]
        forged = httpx.post(
            f"{base}/sendgrid/events", content=body, headers=signer.headers(b"other"), timeout=5
        )
        assert forged.status_code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert spool_rows(fresh_db) == [(1, 1, True)], "the 200 came after the batch was committed"
