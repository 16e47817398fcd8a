"""`growthlab report`: write the HTML performance report and print its path and a summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from growthlab.config import get_settings


def _cmd(args: argparse.Namespace) -> int:
    from growthlab.reports.report import write_report
    from growthlab.warehouse.db import resolve_urls

    settings = get_settings()
    out = Path(args.out_dir) if args.out_dir else settings.reports_dir
    report = write_report(resolve_urls(settings).warehouse, out, include_history=args.include_history)
    print(f"report: {report.path}")
    for line in report.summary:
        print(f"  {line}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="write the HTML performance report (funnel, variants, score deciles)"
    )
    p.add_argument("--out-dir", help="folder for the report (default: $GROWTHLAB_HOME/reports)")
    p.add_argument(
        "--include-history", action="store_true", help="also count the CRM's HubSpot marketing email history"
    )
    p.set_defaults(func=_cmd)
