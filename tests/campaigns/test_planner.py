"""Planning: who is enrolled, what is scheduled when, and that planning twice adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from growthlab.campaigns import pipeline
from growthlab.campaigns.compliance import email_sha256
from tests.campaigns.conftest import write_simple_campaign

NOW = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def _outbox(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select contact_id, step_id, variant_id, status, scheduled_at from ops.outbox order by contact_id"
        ).fetchall()


def test_audience_consent_and_suppression_decide_who_is_enrolled(world, campaign_dir):
    write_simple_campaign(campaign_dir, min_score=30)
    expected = {
        world.contact(country="United States"),  # legitimate interest
        world.contact(country="Germany", consent="granted"),
        world.contact(country="Japan", consent="unknown"),
    }
    excluded = {
        world.contact(country="Germany", consent="unknown"): "EU without consent",
        world.contact(country="United Kingdom"): "UK without consent",
        world.contact(country="United States", consent="denied"): "denied",
        world.contact(country="United States", optout=True): "hs_email_optout",
        world.contact(score=10): "below min_score",
        world.contact(lifecycle_stage="customer"): "customer",
        world.contact(email=None): "no address",
        world.contact(email="gone@unsub.example"): "suppressed",
        world.contact(country=None, consent="unknown", requires_consent=None): "country unknown",
        world.contact(created_at=NOW + timedelta(days=3)): "created after now",
    }
    with psycopg.connect(world.url) as conn:
        conn.execute(
            "insert into ops.suppression (email_sha256, reason, source, suppressed_at) values (%s, 'unsubscribe', 't', %s)",
            (email_sha256("Gone@Unsub.example "), NOW),
        )
        conn.execute("update marts.dim_companies set country = null where company_id = 'co9'")
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    result = pipeline.plan(world.url, NOW, "test", campaign_dir)
    assert result["campaigns"][0]["enrolled"] == len(expected)
    rows = _outbox(world.url)
    assert {r[0] for r in rows} == expected, {
        c: why for c, why in excluded.items() if c in {r[0] for r in rows}
    }
    assert all(r[1] == "intro" and r[3] == "planned" and r[4] == NOW for r in rows)
    assert {r[2] for r in rows} <= {"savings", "emissions"}


def test_planning_twice_for_the_same_interval_adds_nothing(world, campaign_dir):
    write_simple_campaign(campaign_dir)
    for _ in range(5):
        world.contact()
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    pipeline.plan(world.url, NOW, "test", campaign_dir)
    first = _outbox(world.url)
    again = pipeline.plan(world.url, NOW, "test", campaign_dir)
    assert again["campaigns"][0]["enrolled"] == 0
    assert _outbox(world.url) == first
    with psycopg.connect(world.url) as conn:
        assert conn.execute("select count(*) from ops.campaign_enrollments").fetchone()[0] == 5


def test_daily_caps_and_sending_window_in_local_time(world, campaign_dir):
    path = write_simple_campaign(campaign_dir, daily_cap=3, max_new=100)
    path.write_text(
        path.read_text().replace(
            'window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59"}',
            'window: {days: [tue, wed, thu], start: "09:00", end: "11:00"}',
        )
    )
    tokyo = [world.contact(timezone="Asia/Tokyo", country="Japan") for _ in range(2)]
    ny = [world.contact(timezone="America/New_York") for _ in range(4)]
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    # Tue 2026-09-01 10:00 UTC = 19:00 Tokyo (window over) = 06:00 New York (window not yet open)
    pipeline.plan(world.url, NOW, "test", campaign_dir)
    rows = {r[0]: r[4] for r in _outbox(world.url)}
    # the cap counts emails by the UTC day they are scheduled for: 3 New York mails fill Tuesday,
    # the Tokyo mails go on Wednesday, the fourth New Yorker waits for a later run
    assert set(rows) == {*tokyo, *ny[:3]}
    for contact, when in rows.items():
        if contact in tokyo:  # Wed 09:00 Tokyo
            assert when == datetime(2026, 9, 2, 0, 0, tzinfo=UTC)
        else:  # Tue 09:00 New York (EDT, UTC-4)
            assert contact in ny and when == datetime(2026, 9, 1, 13, 0, tzinfo=UTC)
    # the next day's run enrolls more, within that day's cap
    pipeline.plan(world.url, NOW + timedelta(days=1), "test", campaign_dir)
    days: dict = {}
    for _, _, _, _, when in _outbox(world.url):
        days[when.date()] = days.get(when.date(), 0) + 1
    assert max(days.values()) <= 3 and sum(days.values()) == 6


def test_the_optimisers_weights_in_force_at_now_pick_the_variants(world, campaign_dir):
    write_simple_campaign(campaign_dir)
    for _ in range(12):
        world.contact()
    with psycopg.connect(world.url) as conn:
        # the columns campaigns read (docs/architecture.md); the optimisation area owns the table
        conn.execute(
            "create table ops.campaign_settings (campaign_id text, step_id text, variant_id text, weight float8,"
            " valid_from timestamptz, set_by text)"
        )
        conn.execute(
            "insert into ops.campaign_settings values ('test_seq', 'intro', 'savings', 0, %s, 'optimiser'),"
            " ('test_seq', 'intro', 'savings', 5, %s, 'optimiser')",
            (NOW - timedelta(days=1), NOW + timedelta(days=1)),  # the later row is not in force yet
        )
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    pipeline.plan(world.url, NOW, "test", campaign_dir)
    assert {r[2] for r in _outbox(world.url)} == {"emissions"}


def test_planning_before_the_marts_exist_says_what_to_do(fresh_db, campaign_dir):
    write_simple_campaign(campaign_dir)
    pipeline.load_campaigns(fresh_db, "test", campaign_dir)
    with pytest.raises(pipeline.MartsMissing, match="Run the warehouse_build DAG"):
        pipeline.plan(fresh_db, NOW, "test", campaign_dir)
