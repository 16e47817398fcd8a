"""The leakage check flags label-derived features, not identifiers or honest predictors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.leakage import check_leakage


def test_label_derived_feature_is_excluded_unless_allowed():
    rng = np.random.default_rng(3)
    n = 4000
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(signal - 2)))).astype(int)
    frame = pd.DataFrame(
        {
            "honest": signal + rng.normal(scale=1.0, size=n),
            "leaky": y * 5 + rng.normal(scale=0.3, size=n),  # e.g. a window reaching past the as-of date
            "contact_ref": [f"id{i}" for i in range(n)],  # unique per row: memorisable, not predictive
            "segment": rng.choice(["a", "b", "c"], n),
        }
    )
    features = list(frame.columns)
    report = check_leakage(frame, y, features, {"contact_ref", "segment"}, threshold=0.98)
    by_name = {f.feature: f for f in report.findings}
    assert by_name["leaky"].verdict == "leak" and by_name["leaky"].excluded
    assert report.excluded == ["leaky"]
    assert by_name["contact_ref"].verdict == "ok" and abs(by_name["contact_ref"].single_auc - 0.5) < 0.05
    assert by_name["honest"].verdict == "ok"
    assert any("leaky: LEAK" in line for line in report.lines())

    allowed = check_leakage(frame, y, features, {"contact_ref", "segment"}, threshold=0.98, allow={"leaky"})
    assert allowed.excluded == [] and [f.feature for f in allowed.flagged] == ["leaky"]


def test_a_feature_that_beats_all_others_together_is_suspect():
    rng = np.random.default_rng(4)
    n = 3000
    y = (rng.random(n) < 0.15).astype(int)
    frame = pd.DataFrame(
        {
            "after_the_fact": y * 1.5 + rng.normal(size=n),  # strong, not perfect
            "weak": y * 0.2 + rng.normal(size=n),
        }
    )
    report = check_leakage(frame, y, ["after_the_fact", "weak"], set(), others_auc=lambda subset: 0.55)
    finding = {f.feature: f for f in report.findings}["after_the_fact"]
    assert finding.verdict == "suspect" and not finding.excluded
    assert "SUSPECTED LEAK" in report.lines()[0]
