"""The `growthlab` command. Each domain registers its own sub-commands from its `cli` module."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from growthlab.config import ConfigError, apply_telemetry_off

# Domain modules with a `register(subparsers)` function, in the order `--help` lists them.
COMMAND_MODULES = [
    "growthlab.warehouse.cli",
    "growthlab.airflow_cli",
    "growthlab.mlflow_cli",
    "growthlab.transform.cli",
    "growthlab.sources.cli",
    "growthlab.sandbox.cli",
    "ml.cli",
    "growthlab.campaigns.cli",
    "growthlab.reports.cli",
    "growthlab.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="growthlab",
        description="growthlab: the growth pipeline of a clean-tech B2B company.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    apply_telemetry_off()
    argv = sys.argv[1:] if argv is None else argv
    # `growthlab airflow ...` hands every remaining argument to Airflow untouched.
    if argv[:1] == ["airflow"]:
        from growthlab.airflow_cli import exec_airflow

        return exec_airflow(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ConfigError, RuntimeError, OSError) as exc:
        # Our errors say what to do; a traceback would bury that.
        if args.verbose:
            raise
        print(f"growthlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
