"""A campaign over simulated weeks on the sandbox, through the real clients and the real loop:

HubSpot ingestion (real hubspot-api-client against the stand-in) -> `dbt build` -> plan, generate,
send (real sendgrid client against the stand-in SendGrid) -> the world reacts (`advance`) -> its
signed Event Webhook posts to the real receiver -> spool loaded into raw_sendgrid.events; replies
come back through HubSpot ingestion -> the next day's plan. At the end `dbt build` again, and the
stand-in's own records are the judge: what it accepted, what its events said, who replied, who
may not be emailed.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import psycopg
import pytest

from growthlab.campaigns import pipeline
from growthlab.campaigns.followup import hubspot_client
from growthlab.campaigns.sender import SendOptions

pytestmark = pytest.mark.slow

DAYS = 10
CAMPAIGN = """\
id: e2e_decarb
name: End-to-end decarbonisation sequence
status: active
sender:
  from_email: mara.jensen@heliogrid.example
  from_name: Mara Jensen
  reply_to: mara.jensen@heliogrid.example
  postal_address: HelioGrid Analytics GmbH, Torstrasse 49, 10119 Berlin, Germany
links:
  cta: https://heliogrid.example/demo
audience:
  include_unscored: true
  exclude:
    contacted_within_days: 7
  max_new_per_day: 25
schedule:
  start: 2020-01-01
  window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
  daily_cap: 60
follow_up:
  fast_track_days: 1
steps:
  - id: intro
    variants:
      - {id: savings, angle: cost_savings, template: decarb_platform/intro_savings.j2}
      - {id: emissions, angle: emissions_reduction, template: decarb_platform/intro_emissions.j2}
  - id: bump
    after: intro
    wait_days: 3
    when: no_open
    variants:
      - {id: short_bump, angle: cost_savings, template: decarb_platform/bump.j2}
  - id: case_study
    after: intro
    wait_days: 4
    when: opened_no_click
    variants:
      - {id: peer_story, angle: case_study, template: decarb_platform/case_study.j2}
  - id: book_call
    after: intro
    wait_days: 3
    when: clicked_no_reply
    variants:
      - {id: call_offer, angle: case_study, template: decarb_platform/book_call.j2}
"""


def _database(pg_state) -> tuple[str, str]:
    from growthlab.warehouse.migrate import apply_migrations

    name = f"e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_state.url("postgres", "postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}" owner growthlab')
    url = pg_state.url(name)
    apply_migrations(url, None)
    return name, url


def _hubspot_api(world):
    from growthlab.sources.hubspot_api import client_from_connection

    # the isolated world has no rate limits: no need to pace like production
    return client_from_connection(
        world.hubspot_url, world.hubspot_token, limit=10_000, interval_s=1.0, search_per_s=1_000
    )


def _ingest_crm(url: str, world, now: datetime) -> None:
    """The part of hubspot_ingest the audience needs: owners, companies, contacts and their associations
    (the year of email history is left out: it changes nothing here and costs most of the time)."""
    from growthlab.sources.hubspot import sync_object

    api = _hubspot_api(world)
    for name in ("owners", "companies", "contacts"):
        sync_object(url, api, name, as_of=now, run_id="e2e")


def _ingest_replies(url: str, world, now: datetime) -> None:
    """The part of hubspot_ingest the campaigns read day to day: one-to-one emails (replies) and their
    contact associations."""
    from growthlab.sources.hubspot import sync_object

    sync_object(url, _hubspot_api(world), "emails", as_of=now, run_id="e2e")


def _deliver_events(url: str, world, now: datetime) -> None:
    """The stand-in's signed webhook batches, posted to the real receiver app, then the spool loaded."""
    from starlette.testclient import TestClient

    from growthlab.sandbox import store
    from growthlab.sandbox.sendgrid.webhook import batch_pending, configure_webhook, deliver_due, get_settings
    from growthlab.sources.sendgrid_events import SignatureCheck, create_app, load_spooled_events

    configure_webhook(world.database_url, url="http://receiver.test/sendgrid/events")
    with (
        TestClient(create_app(url, SignatureCheck(world.webhook_public_key))) as client,
        store.open_db(world.database_url, autocommit=True) as conn,
    ):
        batch_pending(conn, get_settings(conn))
        report = deliver_due(conn, force=True, limit=100_000, client=client)
    assert report.failed == 0, report.as_dict()
    load_spooled_events(url, as_of=now, run_id="e2e")


def _dbt_build(url: str, as_of, tmp_path, *models: str) -> None:
    """`dbt build` of the models (and everything upstream), seeds and models only (dbt's own data
    tests run in tests/dbt)."""
    from growthlab.transform.runner import run_dbt

    select = ["--select", *[f"+{m}" for m in models], "--resource-type", "seed", "--resource-type", "model"]
    run_dbt(
        ["build", *select], url, as_of_date=as_of, target_path=tmp_path / "target", log_path=tmp_path / "logs"
    )


def test_a_campaign_over_simulated_weeks_on_the_sandbox(pg_state, sandbox_factory, tmp_path, settings):
    from growthlab.sandbox.advance import advance

    world = sandbox_factory(seed=7, size=250, rate_limits=False)
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "templates").symlink_to(settings.project_root / "campaigns" / "templates")
    (folder / "e2e_decarb.yaml").write_text(CAMPAIGN)
    name, url = _database(pg_state)
    try:
        start = world.clock()
        contacts = _crm_snapshot(world)  # what the pipeline knows (later opt-outs come as SendGrid events)
        _ingest_crm(url, world, start)
        _dbt_build(url, start.date(), tmp_path, "dim_contacts", "dim_companies")
        client = pipeline.sendgrid_client(world.sendgrid_url, world.sendgrid_api_key)
        hubspot = hubspot_client(world.hubspot_url, world.hubspot_token)
        pipeline.load_campaigns(url, "e2e", folder)
        for _ in range(DAYS):
            now = world.clock() + timedelta(hours=6)  # the day's run, early morning UTC
            pipeline.plan(url, now, "e2e", folder)
            pipeline.generate(url, now, "e2e", settings.home, folder)
            # a daily run hands SendGrid the next 24 hours of mail, each with send_at in its window
            pipeline.send(url, client, now, "e2e", SendOptions(ahead=timedelta(hours=24)), folder)
            advance(world.database_url, 1, deliver=False)  # the world reacts; webhooks go below
            _deliver_events(url, world, world.clock())
            _ingest_replies(url, world, world.clock())
            pipeline.reconcile(url, world.clock(), "e2e", hubspot)
        _dbt_build(url, world.clock().date(), tmp_path, "email_campaign_performance")
        _judge(url, world, contacts)
    finally:
        with psycopg.connect(pg_state.url("postgres", "postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def _crm_snapshot(world) -> dict[str, dict]:
    """Consent, opt-out and country of every contact as HubSpot holds them (the stand-in's own tables)."""
    from psycopg.rows import dict_row

    from growthlab.sandbox import store

    with store.open_db(world.database_url, autocommit=True) as sb, sb.cursor(row_factory=dict_row) as cur:
        return {
            str(r["id"]): r
            for r in cur.execute(
                "select id, marketing_consent, coalesce(hs_email_optout, false) as optout, country"
                " from hubspot.contacts"
            )
        }


def _judge(url: str, world, contacts: dict[str, dict]) -> None:
    from psycopg.rows import dict_row

    from growthlab.sandbox import store

    accepted = [m for m in world.accepted_mails() if m["custom_args"].get("gl_campaign") == "e2e_decarb"]
    with store.open_db(world.database_url, autocommit=True) as sb, sb.cursor(row_factory=dict_row) as cur:
        events = cur.execute(
            "select m.custom_args ->> 'gl_outbox_id' as outbox_id, e.event, e.occurred_at,"
            " coalesce((e.payload ->> 'sg_machine_open')::boolean, false) as machine"
            " from sendgrid.events e join sendgrid.messages m on m.id = e.message_id"
            " where m.custom_args ->> 'gl_campaign' = 'e2e_decarb'"
        ).fetchall()
        suppressions = {
            r["email"].lower(): r["created_at"]
            for r in cur.execute(
                "select email, min(created_at) as created_at from sendgrid.suppressions group by 1"
            )
        }
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        outbox = {
            str(r["outbox_id"]): r
            for r in cur.execute(
                "select outbox_id, contact_id, enrollment_id, step_id, variant_id, status, sent_at, planned_at,"
                " replied_at from ops.outbox where campaign_id = 'e2e_decarb'"
            )
        }
        mart = cur.execute(
            "select step, variant, sum(sends) as sends, sum(delivered) as delivered, sum(human_opened) as opened,"
            " sum(clicked) as clicked from marts.email_campaign_performance"
            " where source = 'sendgrid' and campaign_id = 'e2e_decarb' group by 1, 2"
        ).fetchall()
        stops = Counter(
            r["stopped_reason"] for r in cur.execute("select stopped_reason from ops.campaign_enrollments")
        )
        opportunities = cur.execute("select count(*) as n from ops.followup_opportunities").fetchone()["n"]
        task_ids = [
            r["hubspot_task_id"]
            for r in cur.execute(
                "select hubspot_task_id from ops.followup_opportunities where status = 'created'"
            )
        ]

    # 1. Exactly once: every email SendGrid accepted is one sent outbox row, and vice versa.
    ids = [m["custom_args"]["gl_outbox_id"] for m in accepted]
    assert len(ids) == len(set(ids)), "an email was accepted twice"
    sent = {oid for oid, r in outbox.items() if r["status"] == "sent"}
    assert set(ids) == sent and len(sent) > 100, (len(ids), len(sent))

    # 2. The performance mart matches the stand-in's record of what it accepted and reported.
    truth: dict[tuple, Counter] = defaultdict(Counter)
    step_number = {"intro": 1, "bump": 2, "case_study": 3, "book_call": 4}
    for m in accepted:
        truth[(int(m["custom_args"]["gl_step"]), m["custom_args"]["gl_variant"])]["sends"] += 1
    seen: dict[str, set] = defaultdict(set)
    for e in events:
        if e["event"] == "delivered" or (e["event"] in ("open", "click")):
            seen["delivered"].add(e["outbox_id"])
        if (e["event"] == "open" and not e["machine"]) or e["event"] == "click":
            seen["opened"].add(e["outbox_id"])
        if e["event"] == "click":
            seen["clicked"].add(e["outbox_id"])
    for kind in ("delivered", "opened", "clicked"):
        for oid in seen[kind]:
            r = outbox[oid]
            truth[(step_number[r["step_id"]], r["variant_id"])][kind] += 1
    got = {
        (r["step"], r["variant"]): Counter(
            {k: int(r[k]) for k in ("sends", "delivered", "opened", "clicked")}
        )
        for r in mart
    }
    assert got == {
        k: Counter({c: v[c] for c in ("sends", "delivered", "opened", "clicked")}) for k, v in truth.items()
    }
    assert {k[0] for k in truth} >= {1, 2}, "follow-ups were sent"

    # 3. Follow-ups fired on the right condition, judged on the stand-in's events of the intro email.
    first_touch: dict[int, str] = {}
    for oid, r in outbox.items():
        if r["step_id"] == "intro":
            first_touch[r["enrollment_id"]] = oid
    opened_by: dict[str, datetime] = {}
    clicked_by: dict[str, datetime] = {}
    for e in events:
        if e["event"] == "click":
            clicked_by[e["outbox_id"]] = min(
                e["occurred_at"], clicked_by.get(e["outbox_id"], e["occurred_at"])
            )
        if (e["event"] == "open" and not e["machine"]) or e["event"] == "click":
            opened_by[e["outbox_id"]] = min(e["occurred_at"], opened_by.get(e["outbox_id"], e["occurred_at"]))
    checked = Counter()
    for r in outbox.values():
        if r["step_id"] == "intro" or r["status"] != "sent":
            continue
        intro = first_touch[r["enrollment_id"]]
        decided = r["planned_at"]
        opened = intro in opened_by and opened_by[intro] <= decided
        clicked = intro in clicked_by and clicked_by[intro] <= decided
        expected = {"bump": not opened, "case_study": opened and not clicked, "book_call": clicked}[
            r["step_id"]
        ]
        # the pipeline sees events a day later at most (delivered by the next day's run)
        late = intro in opened_by and decided - timedelta(days=1) < opened_by[intro] <= decided
        assert expected or late, (r, opened_by.get(intro), clicked_by.get(intro))
        checked[r["step_id"]] += 1
    assert checked["bump"] > 0

    # 4. Every email carried its unsubscribe header and categories. Nobody who may not be emailed
    #    was: consent rule, opt-out, and the stand-in's suppressions.
    assert all(m["headers"].get("List-Unsubscribe", "").startswith("<mailto:") for m in accepted)
    assert all(m["categories"] == ["growthlab", "e2e_decarb"] for m in accepted)
    eu = {
        "United Kingdom",
        "Ireland",
        "Germany",
        "France",
        "Netherlands",
        "Denmark",
        "Sweden",
        "Norway",
        "Spain",
        "Italy",
        "Switzerland",
        "Austria",
    }
    for m in accepted:
        c = contacts[m["custom_args"]["gl_contact_id"]]
        assert not c["optout"], m
        assert c["marketing_consent"] != "denied", m
        if c["country"] in eu:
            assert c["marketing_consent"] == "granted", m
        suppressed_at = suppressions.get(m["to_email"].lower())
        assert suppressed_at is None or suppressed_at > m["accepted_at"], (m, suppressed_at)

    # 5. Replies stopped sequences and became opportunities for the owners.
    assert stops["replied"] > 0 and opportunities >= stops["replied"]
    assert len(task_ids) == opportunities  # every reply is a task for its owner in HubSpot
    with store.open_db(world.database_url, autocommit=True) as sb:
        in_hubspot = sb.execute(
            "select count(*) from hubspot.tasks where id::text = any(%s)", (task_ids,)
        ).fetchone()
    assert in_hubspot == (opportunities,)
    for r in outbox.values():
        if r["replied_at"] is None:
            continue
        later = [
            o
            for o in outbox.values()
            if o["contact_id"] == r["contact_id"] and o["planned_at"] > r["replied_at"] + timedelta(days=1)
        ]
        assert not later, (r, later)
