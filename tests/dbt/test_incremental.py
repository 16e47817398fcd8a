"""Incremental builds leave the marts exactly as a full rebuild of the same raw data would.

On a small synthetic raw load (growthlab.transform.synthetic, the benchmark's generator): a full
build, then two incremental builds after new and late events, including the cases that move a
contact's send sequence: a late send dated before the contact's other sends, and a send whose
sent event arrives a build after its other events (it gets a number only then). The incremental
marts must equal a `--full-refresh` rebuild, compared by the benchmark's checksums.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from bench.scenario_dbt_build import CHECKSUMS, PRODUCTION_BUILD, _checksums

pytestmark = pytest.mark.slow

INSERT_EVENT = """
    insert into raw_sendgrid.events (sg_event_id, event, email, event_at, sg_message_id, sg_machine_open,
        gl_campaign, gl_step, gl_variant, gl_angle, gl_contact_id, gl_outbox_id, payload, received_at,
        _synced_at, _batch_id)
    values (%(id)s, %(event)s, %(email)s, %(at)s, %(id)s || '.filter0', false, 'campaign_late', '1', 'a',
        'cost_savings', %(contact)s, %(outbox)s, jsonb_build_object('event', %(event)s::text), now(), now(), 'test')
"""


def _first_sends(url: str, n: int) -> list[tuple[str, str, object]]:
    """n contacts with SendGrid sends: (contact_id, email, their first send's time)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            """select gl_contact_id, min(email), min(event_at) from raw_sendgrid.events
               where event = 'processed' and gl_contact_id is not null
               group by gl_contact_id order by gl_contact_id limit %s""",
            (n,),
        ).fetchall()


def _events(url: str, events: list[dict]) -> None:
    with psycopg.connect(url) as conn:
        for event in events:
            conn.execute(INSERT_EVENT, event)


def _send(url: str, outbox: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select contact_send_number, previous_sent_at, was_delivered from marts.fct_email_sends where send_id = %s",
            ("sg:" + outbox,),
        ).fetchone()


def test_incremental_builds_equal_a_full_refresh_even_when_sequences_move(fresh_db, tmp_path):
    from growthlab.transform.runner import run_dbt
    from growthlab.transform.synthetic import SyntheticSpec, append_new_events, load_synthetic_raw

    url = fresh_db
    spec = SyntheticSpec(contacts=400)
    load_synthetic_raw(url, spec)
    dirs = {"target_path": tmp_path / "target", "log_path": tmp_path / "logs"}
    run_dbt(PRODUCTION_BUILD, url, as_of_date=spec.today, **dirs)
    (a_contact, a_email, a_first), (b_contact, b_email, b_first) = _first_sends(url, 2)

    # Build 1: 1% new events; contact B gets a send dated a day before its first one (every later
    # send of B moves up a number); contact A gets a send whose sent event has not arrived yet.
    append_new_events(url, 0.01, spec.today)
    early_b = b_first - timedelta(days=1)
    early_a = a_first - timedelta(days=2)
    _events(
        url,
        [
            {
                "id": "late-b-p",
                "event": "processed",
                "email": b_email,
                "at": early_b,
                "contact": b_contact,
                "outbox": "late-b",
            },
            {
                "id": "late-b-d",
                "event": "delivered",
                "email": b_email,
                "at": early_b + timedelta(minutes=1),
                "contact": b_contact,
                "outbox": "late-b",
            },
            {
                "id": "late-a-d",
                "event": "delivered",
                "email": a_email,
                "at": early_a + timedelta(minutes=1),
                "contact": a_contact,
                "outbox": "late-a",
            },
        ],
    )
    run_dbt(PRODUCTION_BUILD, url, as_of_date=spec.today + timedelta(days=1), **dirs)
    assert _send(url, "late-b")[:2] == (1, None)
    assert _send(url, "late-a")[0] is None  # no sent event, no number

    # Build 2: A's sent event arrives: the send becomes A's first, and A's other sends move up.
    _events(
        url,
        [
            {
                "id": "late-a-p",
                "event": "processed",
                "email": a_email,
                "at": early_a,
                "contact": a_contact,
                "outbox": "late-a",
            }
        ],
    )
    append_new_events(url, 0.01, spec.today + timedelta(days=1))
    run_dbt(PRODUCTION_BUILD, url, as_of_date=spec.today + timedelta(days=2), **dirs)
    assert _send(url, "late-a")[:2] == (1, None)
    with psycopg.connect(url) as conn:
        numbers = conn.execute(
            """select contact_send_number, previous_sent_at from marts.fct_email_sends
               where contact_id = %s and contact_send_number is not null order by sent_at, send_id""",
            (a_contact,),
        ).fetchall()
    assert [n for n, _ in numbers] == list(range(1, len(numbers) + 1)) and len(numbers) > 2
    assert numbers[1][1] == early_a  # the first send after it now follows it

    incremental = _checksums(url)
    run_dbt([*PRODUCTION_BUILD, "--full-refresh"], url, as_of_date=spec.today + timedelta(days=2), **dirs)
    rebuilt = _checksums(url)
    assert {name for name in CHECKSUMS if incremental[name] != rebuilt[name]} == set()
