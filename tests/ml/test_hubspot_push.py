"""Scores reach HubSpot (the sandbox) through the real client: batches of <= 100, only changes."""

from __future__ import annotations

import json

import psycopg
import pytest

from ml.hubspot_push import changed_rows, make_api, push_changed_scores

MISSING_ID = "999999999999"  # a contact HubSpot does not know (deleted, merged)


def _reasons(i: int) -> str:
    return json.dumps(
        [
            {
                "feature": "human_opens_30d",
                "value": i % 5,
                "contribution": 0.4,
                "text": f"Opened {i % 5} emails",
            },
            {"feature": "has_b_corp", "value": 0, "contribution": -0.1, "text": "Company is not a B Corp"},
        ]
    )


@pytest.fixture
def scores_for_sandbox(sandbox, fresh_db):
    with psycopg.connect(sandbox.database_url) as conn:
        ids = [
            str(r[0])
            for r in conn.execute(
                "select id from hubspot.contacts where not archived order by id limit 250"
            ).fetchall()
        ]
    assert len(ids) == 250
    with psycopg.connect(fresh_db) as conn:
        conn.cursor().executemany(
            "insert into ml.lead_scores (contact_id, probability, fit_score, engagement_score, grade, reasons, "
            "model_version, features_hash, reasons_hash, as_of_date, scored_at) "
            "values (%s, %s, 50, 50, %s, %s, '3', 0, 0, '2026-08-31', now())",
            [(cid, (i % 97) / 100, "ABCD"[i % 4], _reasons(i)) for i, cid in enumerate([*ids, MISSING_ID])],
        )
    return ids


def _sandbox_props(sandbox, ids):
    with psycopg.connect(sandbox.database_url) as conn:
        rows = conn.execute(
            "select id::text, growthlab_score, growthlab_grade, growthlab_reasons, growthlab_model_version "
            "from hubspot.contacts where id = any(%s::bigint[])",
            (ids,),
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_push_sends_changed_scores_only_in_batches_of_at_most_100(sandbox, fresh_db, scores_for_sandbox):
    ids = scores_for_sandbox
    api = make_api(sandbox.hubspot_url, sandbox.hubspot_token)
    first = push_changed_scores(fresh_db, api)
    assert (first.candidates, first.pushed, first.failed) == (251, 250, 1)
    assert first.calls == 3  # 100 + 100 + 51: the unknown contact is refused inside its batch
    pushed = _sandbox_props(sandbox, ids)
    score, grade, reasons, version = pushed[ids[7]]
    assert (score, grade, version) == (7.0, "D", "3")
    assert reasons == "+ Opened 2 emails; - Company is not a B Corp"
    with psycopg.connect(fresh_db) as conn:
        alert = conn.execute("select message from ops.alerts where source = 'ml.hubspot_push'").fetchone()[0]
        error = conn.execute(
            "select last_error, pushed_at from ml.hubspot_push_state where contact_id = %s", (MISSING_ID,)
        ).fetchone()
    assert MISSING_ID in alert and error[0] and error[1] is None

    # Mark every contact in HubSpot, change 7 scores, push again: only those 7 (and the refused one) go out.
    with psycopg.connect(sandbox.database_url) as conn:
        conn.execute(
            "update hubspot.contacts set growthlab_model_version = 'mark' where id = any(%s::bigint[])",
            (ids,),
        )
    changed = ids[100:107]
    with psycopg.connect(fresh_db) as conn:
        conn.execute(
            "update ml.lead_scores set probability = 0.99, grade = 'A' where contact_id = any(%s)", (changed,)
        )
        # a change below one point of score is not a change HubSpot shows
        conn.execute(
            "update ml.lead_scores set probability = probability + 0.001 where contact_id = %s", (ids[0],)
        )
    assert sorted(r.contact_id for r in changed_rows(fresh_db)) == sorted([*changed, MISSING_ID])
    second = push_changed_scores(fresh_db, api, ensure_properties=False)
    assert (second.candidates, second.pushed, second.failed, second.calls) == (8, 7, 1, 1)
    after = _sandbox_props(sandbox, ids)
    assert {cid for cid, props in after.items() if props[3] != "mark"} == set(changed)
    assert all(after[c][:2] == (99.0, "A") for c in changed)

    third = push_changed_scores(fresh_db, api, ensure_properties=False)
    assert (third.pushed, third.candidates) == (0, 1)  # only the refused contact, retried


def test_push_refuses_batches_larger_than_hubspot_allows(sandbox):
    api = make_api(sandbox.hubspot_url, sandbox.hubspot_token)
    with pytest.raises(ValueError, match="at most 100"):
        api.batch_update_contacts([{"id": str(i), "properties": {}} for i in range(101)])
