"""evaluate-csv: any CSV of historical leads, the pipeline against a default LightGBM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from growthlab.cli import main
from ml.csv_eval import CsvError, evaluate_csv, leakage_for, prepare, render

BANK = (
    Path(__file__).resolve().parents[1] / "reference" / "datasets" / "bank-additional.csv"
)  # copied from ../shared/reference


def test_bank_pipeline_matches_or_beats_default_lightgbm_without_the_leak():
    result = evaluate_csv(BANK, "y", drop=["duration"], folds=5, seed=42)
    text = render(result)
    print("\n" + text)
    ours, base = result.pipeline.summary(), result.baseline.summary()
    assert result.table.delimiter == ";" and len(result.table.y) == 4119 and int(result.table.y.sum()) == 451
    assert "duration" not in result.table.numeric and result.table.dropped == ["duration"]
    assert ours["roc_auc_mean"] >= base["roc_auc_mean"]
    assert ours["pr_auc_mean"] >= base["pr_auc_mean"] - 0.01
    assert ours["ece_mean"] < base["ece_mean"]  # calibrated, unlike the default
    assert "ROC AUC" in text and "±" in text and "leakage report" in text
    assert not any(f.verdict != "ok" for f in result.leakage.findings)


def test_bank_duration_is_reported_as_leaking_when_kept():
    table = prepare(BANK, "y")
    assert "duration" in table.numeric
    report = leakage_for(table, threshold=0.98)
    flagged = {f.feature: f for f in report.flagged}
    assert list(flagged) == ["duration"]
    assert (
        flagged["duration"].verdict == "suspect"
        and flagged["duration"].single_auc > flagged["duration"].others_auc
    )
    assert report.lines()[0].startswith("duration: SUSPECTED LEAK")


def test_messy_csv_is_typed_and_missing_values_are_recognised(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["Lead ID;Employees;Revenue;Segment;Region;Notes;Converted"]
    missing = ["", "NA", "N/A", "null", "None", "unknown", "?", "-", "#N/A", "nan"]
    for i in range(300):
        employees = str(int(rng.integers(5, 5000))) if i % 7 else missing[i % len(missing)]
        revenue = f"{rng.uniform(1, 90):.1f}".replace(".", ",") if i % 5 else missing[(i // 5) % len(missing)]
        segment = ["solar", "wind", "storage", "Unknown"][i % 4]
        target = ["Yes", "no", "TRUE", "false", "1", "0"][i % 6]
        lines.append(f"L{i:05d};{employees};{revenue};{segment};EU;free text {i};{target}")
    path = tmp_path / "leads.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = prepare(path, "converted")  # the target name is matched case-insensitively
    assert table.delimiter == ";"
    assert table.numeric == ["Employees", "Revenue"]  # decimal commas read as numbers
    assert table.categorical == ["Segment"]
    assert table.frame["Revenue"].dtype == np.float64 and table.frame["Revenue"].notna().sum() == 240
    assert table.frame["Employees"].isna().sum() == 300 - 257
    assert table.frame["Segment"].isna().sum() == 75  # "Unknown" is missing, whatever its case
    assert set(table.ignored) == {"Lead ID", "Region", "Notes"}  # identifier, constant, free text
    assert table.y.tolist()[:6] == [1, 0, 1, 0, 1, 0]


def test_errors_name_the_column_and_the_fix(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("a,b,stage\n1,p,open\n2,q,won\n3,p,lost\n", encoding="utf-8")
    with pytest.raises(CsvError, match=r"no target column 'converted'; columns are: a, b, stage"):
        prepare(path, "converted")
    with pytest.raises(CsvError, match=r"target column 'b' must be binary .* found 'p', 'q'"):
        prepare(path, "b")
    single = tmp_path / "single.csv"
    single.write_text("a,won\n1,yes\n2,yes\n3,\n", encoding="utf-8")
    with pytest.raises(CsvError, match="single class"):
        prepare(single, "won")


def test_cli_reports_a_bad_target_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "leads.csv"
    path.write_text("a,b,stage\n1,x,open\n2,y,won\n", encoding="utf-8")
    assert main(["model", "evaluate-csv", str(path), "--target", "stage"]) == 2
    err = capsys.readouterr().err
    assert "target column 'stage' must be binary" in err and "Traceback" not in err
