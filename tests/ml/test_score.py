"""Scoring against the warehouse: every active contact, reasons only where needed, idempotent."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pandas as pd
import psycopg
import pytest

from ml.additive import compile_additive
from ml.data import FeaturesUnavailable
from ml.drift import raise_drift_alerts
from ml.score import score_contacts
from ml.synthetic import write_lead_features
from tests.fixtures.ml import ML_TODAY


@pytest.fixture
def scored_db(fresh_db, ml_world, ml_trained, ml_settings_sqlite):
    write_lead_features(fresh_db, ml_world.features[ml_world.features["as_of_date"] == ML_TODAY])
    first = score_contacts(fresh_db, ml_settings_sqlite, ml_trained.bundle, "1", now=ML_TODAY)
    return fresh_db, first


def _scores(url):
    with psycopg.connect(url) as conn:
        return {
            row[0]: row[1:]
            for row in conn.execute(
                "select contact_id, probability, grade, reasons, model_version, scored_at, as_of_date from ml.lead_scores"
            )
        }


def test_every_active_contact_gets_a_score_grade_and_three_reasons(scored_db, ml_world, ml_trained):
    url, result = scored_db
    active = ml_world.features[ml_world.features["as_of_date"] == ML_TODAY]
    scores = _scores(url)
    assert result.as_of_date == ML_TODAY
    assert set(scores) == set(active["contact_id"]) and result.rows_scored == len(active)
    assert result.rows_reasoned == len(active) and result.history_rows == len(active)
    features = set(ml_trained.bundle.features)
    for probability, grade, reasons, version, _, as_of in scores.values():
        assert 0 < probability < 1 and grade in "ABCD" and version == "1" and as_of == ML_TODAY
        assert len(reasons) == 3
        assert {r["feature"] for r in reasons} <= features
        magnitudes = [abs(r["contribution"]) for r in reasons]
        assert magnitudes == sorted(magnitudes, reverse=True) and all(r["text"] for r in reasons)
    # reasons are plain words about real values
    some = next(iter(scores.values()))[2]
    print("\nexample reasons:", json.dumps(some, indent=1))
    # scores equal what the model (LightGBM itself) predicts for those rows, whichever form computed them
    bundle = ml_trained.bundle
    stumps = [n for n in ("engagement", "fit", "main") if compile_additive(getattr(bundle, n)) is not None]
    assert result.additive == stumps
    print(f"boosters computed in additive form: {result.additive or 'none'}")
    expected = bundle.predict_frame(active.reset_index(drop=True))
    by_id = dict(zip(active["contact_id"], expected["probability"], strict=True))
    assert all(abs(scores[c][0] - p) < 1e-9 for c, p in by_id.items())
    with psycopg.connect(url) as conn:
        monitoring = dict(
            conn.execute(
                "select subject, value from ml.monitoring where as_of_date = %s", (ML_TODAY,)
            ).fetchall()
        )
        assert set(monitoring) == features | {"__score__"}
        assert conn.execute("select count(*) from ml.scoring_runs").fetchone()[0] == 1


def test_rerun_writes_nothing_and_a_day_older_keeps_its_reasons(scored_db, ml_trained, ml_settings_sqlite):
    url, _first = scored_db
    before = _scores(url)
    again = score_contacts(url, ml_settings_sqlite, ml_trained.bundle, "1", now=ML_TODAY)
    assert (again.rows_written, again.rows_reasoned, again.history_rows, again.rows_removed) == (0, 0, 0, 0)
    assert again.rows_predicted == 0  # same model, same inputs: the stored outputs stand
    assert _scores(url) == before

    with psycopg.connect(url) as conn:
        # one more day in the CRM, inside the same bucket (91-180 days): exact inputs change, reasons do not
        aged = [
            r[0]
            for r in conn.execute(
                "update marts.lead_features set days_since_created = days_since_created + 1 "
                "where as_of_date = %s and days_since_created between 100 and 170 returning contact_id",
                (ML_TODAY,),
            )
        ]
    assert len(aged) > 100
    result = score_contacts(url, ml_settings_sqlite, ml_trained.bundle, "1", now=ML_TODAY)
    assert result.rows_written == len(aged) == result.rows_predicted
    assert result.rows_reasoned == 0
    after = _scores(url)
    assert all(after[c][2] == before[c][2] for c in aged)  # the same reasons, kept
    assert all(after[c][4] > before[c][4] for c in aged)  # a new scored_at: the score was rewritten


def test_changed_features_and_a_new_model_recompute_reasons_where_needed(
    scored_db, ml_world, ml_trained, ml_settings_sqlite
):
    url, first = scored_db
    ids = sorted(_scores(url))
    opened = ids[:40]  # they opened and clicked: their 90-day click count is the new fact
    with psycopg.connect(url) as conn:
        conn.execute(
            "update marts.lead_features set human_opens_30d = human_opens_30d + 6, human_opens_90d = human_opens_90d + 6, "
            "clicks_30d = clicks_30d + 6, clicks_90d = clicks_90d + 6 where as_of_date = %s and contact_id = any(%s)",
            (ML_TODAY, opened),
        )
    changed = score_contacts(url, ml_settings_sqlite, ml_trained.bundle, "1", now=ML_TODAY)
    assert (changed.rows_written, changed.rows_reasoned) == (len(opened), len(opened))
    assert changed.rows_predicted == len(opened) and changed.history_rows == len(opened)
    # predicted or kept, every stored score is what the model gives for the row as it is now
    with psycopg.connect(url) as conn:
        current = conn.execute("select probability, grade from ml.lead_scores order by contact_id").fetchall()
    rows = ml_world.features[ml_world.features["as_of_date"] == ML_TODAY].sort_values("contact_id")
    rows = rows.reset_index(drop=True)
    opened_rows = rows["contact_id"].isin(opened)
    rows.loc[opened_rows, ["human_opens_30d", "human_opens_90d", "clicks_30d", "clicks_90d"]] += 6
    expected = ml_trained.bundle.predict_frame(rows)
    assert [g for _, g in current] == list(expected["grade"])
    assert all(abs(p - e) < 1e-12 for (p, _), e in zip(current, expected["probability"], strict=True))
    with psycopg.connect(url) as conn:
        texts = [
            r["text"]
            for (reasons,) in conn.execute(
                "select reasons from ml.lead_scores where contact_id = any(%s)", (opened,)
            ).fetchall()
            for r in reasons
        ]
    assert sum(t.startswith("Clicked ") for t in texts) >= len(opened) // 2  # most now cite the clicks

    new_model = score_contacts(url, ml_settings_sqlite, ml_trained.bundle, "2", now=ML_TODAY)
    assert new_model.rows_reasoned == first.rows_scored == new_model.rows_written == new_model.rows_predicted
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(distinct model_version) from ml.lead_scores").fetchone()[0] == 1
        assert conn.execute("select count(*) from ml.lead_score_history").fetchone()[0] == (
            first.rows_scored + len(opened) + first.rows_scored
        )


def test_contacts_that_leave_the_population_are_removed_on_the_next_date(
    scored_db, ml_world, ml_trained, ml_settings_sqlite
):
    url, first = scored_db
    ids = sorted(_scores(url))
    with psycopg.connect(url) as conn:
        # tomorrow's build: everybody one day older, ten contacts converted (no row any more)
        conn.execute(
            "insert into marts.lead_features select contact_id, as_of_date + 1, company_id, cleantech_segment, "
            "country_region, revenue_band, funding_stage, sbti_status, seniority, job_function, lead_source, employees, "
            "annual_revenue, company_age_years, emissions_intensity, renewable_share, esg_disclosure_score, "
            "certification_count, has_b_corp, has_iso_14001, days_since_created + 1, emails_delivered_30d, "
            "emails_delivered_90d, human_opens_30d, human_opens_90d, machine_opens_90d, clicks_30d, clicks_90d, "
            "replies_90d, linkedin_connected, linkedin_messages_90d, linkedin_replies_90d, meetings_90d, "
            "meetings_completed_90d, days_since_last_engagement + 1, unsubscribed, bounced, null, null "
            "from marts.lead_features where as_of_date = %s and not contact_id = any(%s)",
            (ML_TODAY, ids[:10]),
        )
        # and two new contacts (never scored: they go straight into the tables, the rest is merged)
        conn.execute(
            "insert into marts.lead_features select 'new-' || contact_id, as_of_date, "
            + ", ".join(c for c in _lead_feature_columns(conn)[2:])
            + " from marts.lead_features where as_of_date = %s and contact_id = any(%s)",
            (ML_TODAY + timedelta(days=1), ids[10:12]),
        )
    tomorrow = ML_TODAY + timedelta(days=1)
    result = score_contacts(url, ml_settings_sqlite, ml_trained.bundle, "1", now=tomorrow)
    assert result.as_of_date == tomorrow and result.rows_removed == 10
    scores = _scores(url)
    assert not set(ids[:10]) & set(scores) and len(scores) == first.rows_scored - 10 + 2
    assert result.rows_written == len(scores)  # the as-of date moved for everyone
    assert result.rows_reasoned < len(scores) / 2  # but most day counters stayed in their bucket
    newcomers = [f"new-{c}" for c in ids[10:12]]
    for c in newcomers:  # scored like anyone else: same inputs as the contact they copy, same score
        assert scores[c][0] == scores[c[4:]][0] and len(scores[c][2]) == 3 and scores[c][5] == tomorrow
    with psycopg.connect(url) as conn:
        history = conn.execute(
            "select contact_id, count(*) from ml.lead_score_history where contact_id = any(%s) group by 1",
            (newcomers,),
        ).fetchall()
    assert sorted(history) == [(c, 1) for c in sorted(newcomers)]


def _lead_feature_columns(conn) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'lead_features' order by ordinal_position"
        )
    ]


def test_several_rows_of_one_contact_fail_the_run_and_change_nothing(
    fresh_db, ml_world, ml_trained, ml_settings_sqlite
):
    rows = ml_world.features[ml_world.features["as_of_date"] == ML_TODAY]
    write_lead_features(fresh_db, pd.concat([rows, rows.head(1)]))  # one contact twice
    with pytest.raises(FeaturesUnavailable, match="several rows per contact") as failure:
        score_contacts(fresh_db, ml_settings_sqlite, ml_trained.bundle, "1", now=ML_TODAY)
    assert rows["contact_id"].iloc[0] in str(failure.value)
    with psycopg.connect(fresh_db) as conn:
        for table in ("ml.lead_scores", "ml.lead_score_history", "ml.scoring_runs"):
            assert conn.execute(f"select count(*) from {table}").fetchone()[0] == 0, table


def test_drift_above_the_threshold_raises_one_alert(scored_db, ml_trained, ml_settings_sqlite):
    url, _first = scored_db
    assert raise_drift_alerts(url, ML_TODAY, "1", ml_settings_sqlite.psi_alert) == []
    with psycopg.connect(url) as conn:
        conn.execute(
            "update marts.lead_features set emails_delivered_90d = 40 where as_of_date = %s", (ML_TODAY,)
        )
    settings = dataclasses.replace(ml_settings_sqlite)
    score_contacts(url, settings, ml_trained.bundle, "1", now=ML_TODAY)
    drifted = raise_drift_alerts(url, ML_TODAY, "1", settings.psi_alert)
    assert drifted and drifted[0][0] == "emails_delivered_90d" and drifted[0][1] > 1.0
    raise_drift_alerts(url, ML_TODAY, "1", settings.psi_alert)  # a retry does not alert twice
    with psycopg.connect(url) as conn:
        alerts = conn.execute("select severity, message from ops.alerts where source = 'ml.drift'").fetchall()
    assert len(alerts) == 1 and alerts[0][0] == "warning" and "emails_delivered_90d" in alerts[0][1]
