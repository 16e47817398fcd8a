"""`growthlab model oracle`: ml.lead_scores against a sandbox truth file."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import psycopg
import pytest

from ml.oracle import TruthFileError, champion_vs_oracle

AS_OF = date(2026, 8, 31)


def _truth(tmp_path, n: int = 400, seed: int = 7):
    rng = np.random.default_rng(seed)
    propensity = rng.beta(1, 8, n)
    frame = pd.DataFrame(
        {
            "contact_id": [str(1000 + i) for i in range(n)],
            "email": [f"c{i}@example.com" for i in range(n)],
            "propensity": propensity.round(6),
            "converted": (rng.random(n) < propensity).astype(int),
        }
    )
    path = tmp_path / "truth.csv"
    frame.to_csv(path, index=False)
    return frame, path


def _write_scores(url: str, ids, probabilities, as_of: date = AS_OF, version: str = "3") -> None:
    with psycopg.connect(url) as conn:
        conn.execute("delete from ml.lead_scores")
        with conn.cursor().copy(
            "copy ml.lead_scores (contact_id, probability, fit_score, engagement_score, grade, model_version,"
            " features_hash, reasons_hash, as_of_date, scored_at) from stdin"
        ) as copy:
            for cid, p in zip(ids, probabilities, strict=True):
                copy.write_row((cid, float(p), 50, 50, "C", version, 0, 0, as_of, "2026-08-31T06:00:00Z"))


def test_perfect_scores_match_the_oracle_and_noise_lowers_the_ratio(fresh_db, tmp_path):
    truth, path = _truth(tmp_path)
    _write_scores(fresh_db, truth["contact_id"], truth["propensity"])
    perfect = champion_vs_oracle(fresh_db, path, AS_OF)
    assert perfect.contacts == len(truth) and perfect.unscored == 0
    assert perfect.ratio == pytest.approx(1.0) and perfect.expected_ratio == pytest.approx(1.0)
    assert perfect.model_version == "3"

    rng = np.random.default_rng(1)
    noisy = np.clip(truth["propensity"] + rng.normal(0, 0.15, len(truth)), 0, 1)
    _write_scores(fresh_db, truth["contact_id"], noisy)
    worse = champion_vs_oracle(fresh_db, path, AS_OF)
    assert worse.expected_ratio < 0.95
    assert "vs oracle on 400 open contacts" in worse.summary()


def test_unscored_contacts_are_counted_and_old_scores_ignored(fresh_db, tmp_path):
    truth, path = _truth(tmp_path)
    half = truth.iloc[: len(truth) // 2]
    _write_scores(fresh_db, half["contact_id"], half["propensity"])
    result = champion_vs_oracle(fresh_db, path, AS_OF)
    assert (result.contacts, result.unscored) == (len(half), len(truth) - len(half))
    with pytest.raises(TruthFileError, match="run the lead_scoring DAG first"):
        champion_vs_oracle(fresh_db, path, date(2026, 9, 7))


def test_a_wrong_truth_file_is_named(fresh_db, tmp_path):
    with pytest.raises(TruthFileError, match=r"no such file.*growthlab sandbox truth"):
        champion_vs_oracle(fresh_db, tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("contact_id,score\n1,0.5\n")
    with pytest.raises(TruthFileError, match=r"bad.csv: missing column\(s\) propensity, converted"):
        champion_vs_oracle(fresh_db, bad)
