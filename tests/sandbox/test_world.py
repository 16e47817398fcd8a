"""The simulated world: deterministic from (seed, size), and a truth the pipeline can be measured against."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from growthlab.sandbox import store
from growthlab.sandbox.generate import generate_world, world_spec
from growthlab.sandbox.truth import auc, expected_auc, truth_frame
from tests.fixtures.sandbox import new_database

DIGEST_TABLES = [
    "hubspot.companies",
    "hubspot.contacts",
    "hubspot.deals",
    "hubspot.meetings",
    "hubspot.emails",
    "hubspot.email_events",
    "linkedin.invitations",
    "linkedin.connections",
    "world.contacts",
]


def _digests(url: str) -> dict[str, tuple[int, str]]:
    out = {}
    with store.open_db(url) as conn:
        for table in DIGEST_TABLES:
            count, digest = conn.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {table} t"
            ).fetchone()
            out[table] = (count, digest)
    return out


@pytest.fixture(scope="module")
def three_worlds(pg_state):
    """Seed 7 twice and seed 8 once, 400 contacts each."""
    urls = []
    for seed in (7, 7, 8):
        url, drop = new_database(pg_state, "sbw")
        generate_world(url, world_spec(seed, 400))
        urls.append((url, drop))
    yield [u for u, _ in urls]
    for _, drop in urls:
        drop()


def test_same_seed_gives_the_same_world_and_another_seed_another(three_worlds):
    a, b, c = (_digests(u) for u in three_worlds)
    assert a == b
    assert a["hubspot.contacts"][0] == 400
    assert all(count > 0 for count, _ in a.values()), a
    differing = [t for t in DIGEST_TABLES if a[t][1] != c[t][1]]
    assert set(differing) == set(DIGEST_TABLES)


def test_world_has_a_year_of_plausible_history(sandbox):
    with store.open_db(sandbox.database_url) as conn:
        first, last = conn.execute(
            "select min(to_timestamp(created / 1000.0)), max(to_timestamp(created / 1000.0)) from hubspot.email_events "
            "where id < 3000000000000"  # what generation wrote (advance adds late opens from 3e12 on)
        ).fetchone()
        generated_at = datetime.fromisoformat(store.get_meta(conn, "world")["today"]).replace(tzinfo=UTC)
        assert (generated_at - first).days in range(360, 367)
        assert last <= generated_at
        types = dict(conn.execute("select type, count(*) from hubspot.email_events group by 1").fetchall())
        machine, human = conn.execute(
            "select count(*) filter (where filtered), count(*) filter (where not filtered) "
            "from hubspot.email_events where type = 'OPEN'"
        ).fetchone()
        consent_violations = conn.execute(
            """select count(*) from hubspot.email_events e join hubspot.contacts c on c.id = e.contact_id
               where e.type = 'SENT' and c.country in ('Germany', 'France', 'United Kingdom')
                 and c.marketing_consent <> 'granted'"""
        ).fetchone()[0]
        opportunities = conn.execute(
            """select count(*) from hubspot.contacts c
               where c.hs_lifecyclestage_opportunity_date is not null
                 and not exists (select 1 from hubspot.associations a where a.from_type = 'contacts'
                                 and a.from_id = c.id and a.to_type = 'deals')"""
        ).fetchone()[0]
    for kind in ("SENT", "DELIVERED", "OPEN", "CLICK", "BOUNCE", "STATUSCHANGE"):
        assert types.get(kind, 0) > 0, types
    # Apple Mail Privacy Protection: a large share of opens are machine opens.
    assert 0.25 < machine / (machine + human) < 0.8
    assert consent_violations == 0
    # Every opportunity has its deal.
    assert opportunities == 0


def test_truth_is_one_row_per_open_contact_with_a_learnable_propensity(sandbox):
    frame = sandbox.truth()
    # Contacts the pipeline creates through the API are not simulated people: the truth covers the world's.
    with store.open_db(sandbox.database_url) as conn:
        open_contacts = conn.execute(
            "select count(*) from hubspot.contacts c join world.contacts w on w.contact_id = c.id, world.clock k "
            "where c.created_at <= k.now and (c.hs_lifecyclestage_opportunity_date is null "
            "or c.hs_lifecyclestage_opportunity_date > k.now)"
        ).fetchone()[0]
    assert list(frame.columns) == ["contact_id", "email", "propensity", "converted"]
    assert len(frame) == open_contacts
    assert frame["contact_id"].is_unique
    assert frame["propensity"].between(0, 1, inclusive="neither").all()
    rate = frame["converted"].mean()
    assert 0.03 < rate < 0.2
    # The propensity ranks the outcomes far better than chance.
    assert auc(frame["converted"].to_numpy(), frame["propensity"].to_numpy()) > 0.65


def test_auc_matches_its_definition():
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.9])
    pairs = [(p, n) for p in scores[labels == 1] for n in scores[labels == 0]]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert auc(labels, scores) == pytest.approx(expected)


def test_expected_auc_is_the_mean_auc_over_outcomes_drawn_from_the_propensity():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.6, 12)
    scores = np.round(p + rng.normal(0, 0.1, 12), 1)  # noisy, with ties
    num = sum(
        p[i] * (1 - p[j]) * (1.0 if scores[i] > scores[j] else 0.5 if scores[i] == scores[j] else 0.0)
        for i in range(12)
        for j in range(12)
        if i != j
    )
    den = sum(p[i] * (1 - p[j]) for i in range(12) for j in range(12) if i != j)
    assert expected_auc(p, scores) == pytest.approx(num / den)
    draws = [auc(y, scores) for y in (rng.random((4000, 12)) < p) if 0 < y.sum() < 12]
    assert expected_auc(p, scores) == pytest.approx(np.mean(draws), abs=0.02)


def test_truth_is_stable_at_the_same_clock(sandbox):
    with store.open_db(sandbox.database_url) as conn:
        first = truth_frame(conn)
        second = truth_frame(conn)
    assert first.equals(second)
