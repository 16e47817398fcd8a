"""`growthlab model train|score|promote|rollback|status|evaluate-csv|oracle`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime


def _today() -> date:
    return datetime.now(UTC).date()


def _as_of(value: str | None) -> date:
    if value is None:
        return _today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--as-of {value!r} is not a date like 2026-08-31") from None


def _warehouse() -> str:
    from growthlab.warehouse.db import resolve_urls

    return resolve_urls().warehouse


def _train(args: argparse.Namespace) -> int:
    from ml.config import ml_settings
    from ml.retrain import run_gate_for, run_training

    settings = ml_settings()
    url = _warehouse()
    now = _as_of(args.as_of)
    result = run_training(url, now, settings, actor="cli:model train", force=args.force)
    m = result.metrics
    print(
        f"{settings.model_name} v{result.version}{' (already trained on this data)' if result.reused else ''}: "
        f"holdout {result.holdout_date} ROC AUC {m.get('holdout_roc_auc', float('nan')):.4f}, "
        f"PR AUC {m.get('holdout_pr_auc', float('nan')):.4f}, ECE {m.get('holdout_ece', float('nan')):.4f}"
    )
    if result.excluded_features:
        print(f"excluded by the leakage check: {', '.join(result.excluded_features)}")
    if not args.no_gate:
        decision = run_gate_for(url, result.version, settings, actor="cli:model train")
        print(f"gate: {decision.decision} - {decision.reason}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from ml.config import ml_settings
    from ml.score import run_scoring

    settings = ml_settings()
    url = _warehouse()
    result = run_scoring(url, settings, _as_of(args.as_of) if args.as_of else None)
    print(
        f"scored {result.rows_scored:,} contacts at {result.as_of_date} with v{result.model_version}: "
        f"{result.rows_written:,} written, {result.rows_reasoned:,} new reasons, {result.rows_removed:,} removed; "
        f"grades {result.grades}; max PSI {result.max_psi:.3f} in {result.seconds:.1f}s"
    )
    from ml.drift import raise_drift_alerts

    drifted = raise_drift_alerts(url, result.as_of_date, result.model_version, settings.psi_alert)
    if drifted:
        print(f"drift above PSI {settings.psi_alert}: {', '.join(f'{s} {v:.2f}' for s, v in drifted)}")
    if args.push:
        from growthlab import airflow_env
        from growthlab.config import get_settings
        from growthlab.warehouse.db import resolve_urls
        from ml.hubspot_push import make_api, push_changed_scores

        conn = json.loads(airflow_env.connections(get_settings(), resolve_urls())["AIRFLOW_CONN_HUBSPOT"])
        if not conn.get("password"):
            print("no HubSpot token (GROWTHLAB_HUBSPOT_TOKEN, or `growthlab sandbox up`): not pushing")
            return 2
        api = make_api(conn["host"], conn["password"], settings.hubspot_requests_per_10s)
        pushed = push_changed_scores(url, api, settings.hubspot_batch_size, actor="cli:model score")
        print(f"HubSpot: {pushed.pushed:,} contacts updated in {pushed.calls} calls, {pushed.failed} refused")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from ml.config import ml_settings
    from ml.registry import promote, rollback

    settings = ml_settings()
    action = promote if args.model_command == "promote" else rollback
    previous = action(settings, str(args.version), _warehouse(), reason=args.reason or "")
    verb = "promoted" if args.model_command == "promote" else "rolled back"
    print(
        f"{settings.model_name} v{args.version} {verb} to champion (was v{previous or 'none'}); recorded in ops.audit_log"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from growthlab.warehouse.db import connect
    from ml.config import ml_settings
    from ml.registry import versions

    settings = ml_settings()
    rows = versions(settings)
    latest_run, drift = None, []
    try:
        with connect(_warehouse()) as conn:
            latest_run = conn.execute(
                "select as_of_date, model_version, finished_at, rows_scored, rows_written, rows_reasoned "
                "from ml.scoring_runs order by finished_at desc limit 1"
            ).fetchone()
            if latest_run:
                drift = conn.execute(
                    "select subject, value from ml.monitoring where as_of_date = %s and model_version = %s "
                    "and metric = 'psi' order by value desc nulls last limit 5",
                    (latest_run[0], latest_run[1]),
                ).fetchall()
    except Exception as exc:  # status must work without a warehouse too
        print(f"(warehouse not reachable: {exc})", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "model": settings.model_name,
                    "versions": rows,
                    "latest_scoring_run": None
                    if latest_run is None
                    else dict(
                        zip(
                            (
                                "as_of_date",
                                "model_version",
                                "finished_at",
                                "rows_scored",
                                "rows_written",
                                "rows_reasoned",
                            ),
                            latest_run,
                            strict=True,
                        )
                    ),
                    "top_psi": drift,
                },
                default=str,
                indent=2,
            )
        )
        return 0
    if not rows:
        print(f"no version of {settings.model_name} is registered yet: `growthlab model train`")
    else:
        print(f"{settings.model_name}: {len(rows)} version(s)")
        print(f"  {'version':>7}  {'aliases':<20} {'as of':<10} {'ROC AUC':>8} {'ECE':>7}  gate")
        for row in rows:
            auc = f"{float(row['holdout_roc_auc']):.4f}" if row["holdout_roc_auc"] else ""
            ece = f"{float(row['holdout_ece']):.4f}" if row["holdout_ece"] else ""
            print(
                f"  {row['version']:>7}  {','.join(row['aliases']) or '-':<20} {row['as_of']:<10} {auc:>8} {ece:>7}  "
                f"{row['gate'] or '-'}"
            )
    if latest_run:
        as_of, version, finished, scored, written, reasoned = latest_run
        print(
            f"latest scoring: {scored:,} contacts at {as_of} with v{version} ({written:,} written, "
            f"{reasoned:,} new reasons), finished {finished:%Y-%m-%d %H:%M}"
        )
        if drift:
            print("  largest PSI: " + ", ".join(f"{s} {v:.3f}" for s, v in drift if v is not None))
    return 0


def _evaluate_csv(args: argparse.Namespace) -> int:
    from ml.config import ml_settings
    from ml.csv_eval import CsvError, evaluate_csv, render

    settings = ml_settings()
    drop = [c for part in (args.drop or []) for c in part.split(",") if c.strip()]
    try:
        result = evaluate_csv(
            args.path,
            args.target,
            drop=drop,
            folds=args.folds,
            seed=args.seed,
            leakage_threshold=settings.leakage_auc,
            calibration=settings.calibration,
        )
    except CsvError as exc:
        print(f"growthlab model evaluate-csv: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), indent=2, default=str) if args.json else render(result))
    return 0


def _oracle(args: argparse.Namespace) -> int:
    from ml.oracle import TruthFileError, champion_vs_oracle

    try:
        result = champion_vs_oracle(_warehouse(), args.truth, _as_of(args.as_of) if args.as_of else None)
    except TruthFileError as exc:
        print(f"growthlab model oracle: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), indent=2) if args.json else result.summary())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "model", help="lead scoring: train, score, promote, rollback, status, evaluate-csv, oracle"
    )
    sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    t = sub.add_parser("train", help="train on marts.lead_features, log to MLflow, register, run the gate")
    t.add_argument("--as-of", help="training date (default today): only labels complete by then are used")
    t.add_argument(
        "--force", action="store_true", help="train even if this date and data were trained already"
    )
    t.add_argument("--no-gate", action="store_true", help="register as challenger without running the gate")
    t.set_defaults(func=_train)

    s = sub.add_parser("score", help="score every active contact with the champion")
    s.add_argument("--as-of", help="score the newest as-of date at or before this date (default: newest)")
    s.add_argument("--push", action="store_true", help="then push changed scores to HubSpot")
    s.set_defaults(func=_score)

    for name, text in (
        ("promote", "make VERSION the champion (audited)"),
        ("rollback", "make an earlier champion VERSION the champion again (audited)"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument("version", type=int, help="registered version number")
        c.add_argument("--reason", help="why (recorded in ops.audit_log)")
        c.set_defaults(func=_promote)

    st = sub.add_parser(
        "status", help="registered versions, aliases, gate decisions, latest scoring and drift"
    )
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_status)

    e = sub.add_parser(
        "evaluate-csv",
        help="cross-validate the scoring pipeline on a CSV of historical leads vs a default LightGBM",
    )
    e.add_argument("path", help="CSV file (delimiter detected)")
    e.add_argument("--target", required=True, help="binary target column (yes/no, true/false, 1/0)")
    e.add_argument("--drop", action="append", help="columns to leave out, comma-separated (repeatable)")
    e.add_argument("--folds", type=int, default=5, help="stratified folds (default 5)")
    e.add_argument("--seed", type=int, default=42)
    e.add_argument("--json", action="store_true", help="machine-readable output")
    e.set_defaults(func=_evaluate_csv)

    o = sub.add_parser(
        "oracle", help="compare ml.lead_scores with the sandbox truth (`growthlab sandbox truth --out FILE`)"
    )
    o.add_argument("truth", help="truth CSV written by `growthlab sandbox truth` before the scores' date")
    o.add_argument("--as-of", help="only scores of this as-of date or later")
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=_oracle)
