"""Kill the send step anywhere, rerun it: every intended email is accepted by SendGrid exactly once.

Each trial plans fresh contacts, runs the send step in a subprocess and kills it, either at a
random moment (SIGKILL) or at an injected crash point between claim, build, mark, post and record.
Then SendGrid's events flow in (processed when accepted, delivered, some opens hours later) and the
send step reruns every few simulated hours until nothing is left in flight. The SendGrid stand-in's
log of accepted mail must then hold every planned email once.
"""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from growthlab.campaigns import pipeline
from growthlab.campaigns.sender import SendAborted, SendOptions
from tests.campaigns.conftest import write_simple_campaign
from tests.campaigns.faults import FaultySendGrid
from tests.campaigns.send_worker import start_send

pytestmark = pytest.mark.slow

TRIALS = 20
CONTACTS_PER_TRIAL = 24
BATCH = 6
POINTS = ["claimed", "built", "marked", "posted", "recorded"]


def _run_worker(url, campaign_dir, server, now, crash, rng: random.Random) -> str:
    proc, ready = start_send(url, campaign_dir, server.url, now, BATCH, crash)
    assert ready.wait(60), "the send worker did not start"
    if crash is None:
        time.sleep(rng.uniform(0.0, 0.25))
        proc.kill()
    proc.join(60)
    return "killed" if proc.exitcode in (-signal.SIGKILL, 137) else f"exit {proc.exitcode}"


def _in_flight(url: str, contact_ids: list[str]) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from ops.outbox where contact_id = any(%s) and status in ('ready', 'sending')",
            (contact_ids,),
        ).fetchone()[0]


def test_killing_the_send_step_anywhere_never_sends_twice_and_never_forgets(world, campaign_dir, settings):
    server = FaultySendGrid()
    server.delay = 0.02
    rng = random.Random(20260901)
    write_simple_campaign(campaign_dir, single_step=True)  # every trial's work stays the same size
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    client = pipeline.sendgrid_client(server.url, "SG.crash-test")
    outcomes = []
    try:
        for trial in range(TRIALS):
            now = datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(days=2 * trial)
            contacts = world.bulk(CONTACTS_PER_TRIAL)
            pipeline.plan(world.url, now, "test", campaign_dir)
            pipeline.generate(world.url, now, "test", settings.home, campaign_dir)
            crash = None if trial % 2 == 0 else (POINTS[(trial // 2) % len(POINTS)], rng.randint(1, 4))
            outcomes.append(
                (crash or "random kill", _run_worker(world.url, campaign_dir, server, now, crash, rng))
            )
            for hours in range(0, 30, 4):
                server.emit_events(world.url, now + timedelta(hours=hours))
                try:
                    pipeline.send(
                        world.url,
                        client,
                        now + timedelta(hours=hours),
                        "rerun",
                        SendOptions(batch_size=BATCH),
                        campaign_dir,
                    )
                except SendAborted:
                    pass
                if _in_flight(world.url, contacts) == 0:
                    break
            assert _in_flight(world.url, contacts) == 0, (
                f"trial {trial} ({outcomes[-1]}) left emails in flight"
            )
    finally:
        server.close()
    accepted = server.recipients()
    duplicates = {oid for oid in accepted if accepted.count(oid) > 1}
    assert not duplicates, f"sent twice: {sorted(duplicates)[:10]} after {outcomes}"
    with psycopg.connect(world.url) as conn:
        intended = {str(r[0]) for r in conn.execute("select outbox_id from ops.outbox")}
        statuses = dict(conn.execute("select status, count(*) from ops.outbox group by 1").fetchall())
    assert statuses == {"sent": len(intended)}, statuses
    assert set(accepted) == intended  # the warehouse's record matches what SendGrid accepted
    assert sum(1 for _, how in outcomes if how == "killed") >= TRIALS // 2
    # every recovery path was taken: never posted (released), posted and proven by events
    # (confirmed), marked but never accepted (not_accepted)
    with psycopg.connect(world.url) as conn:
        paths = dict(conn.execute("select status, count(*) from ops.send_batches group by 1").fetchall())
    assert {"released", "confirmed", "not_accepted"} <= set(paths), (paths, outcomes)
