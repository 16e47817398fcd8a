"""`python -m bench [SCENARIO ...]`: run benchmark scenarios, one JSON line each.

A scenario is a module `bench/scenario_<name>.py` with `run(args) -> dict`. Its result names what
was measured, the baseline measured in the same run and their ratio (`ratio`), and a `goal` when the
issue that asked for it set one. Results are also appended to .growthlab/bench/results.jsonl.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

from growthlab.config import apply_telemetry_off, get_settings


def scenarios() -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        m.name.removeprefix("scenario_")
        for m in pkgutil.iter_modules([str(folder)])
        if m.name.startswith("scenario_")
    )


def main(argv: list[str] | None = None) -> int:
    apply_telemetry_off()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"scenarios to run (default all): {', '.join(scenarios())}")
    parser.add_argument(
        "--scale",
        default=os.environ.get("GROWTHLAB_BENCH_SCALE", "full"),
        choices=["smoke", "full"],
        help="smoke: tiny sizes to check the scenario runs",
    )
    args = parser.parse_args(argv)
    names = args.names or scenarios()
    unknown = set(names) - set(scenarios())
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; known: {', '.join(scenarios())}")
    settings = get_settings()
    from growthlab.warehouse.cli import up

    print(up(settings), file=sys.stderr, flush=True)  # scenarios work in throwaway databases on it
    out_dir = settings.home / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in names:
        module = importlib.import_module(f"bench.scenario_{name}")
        started = time.time()
        try:
            result = module.run(args)
            result = {
                "scenario": name,
                "scale": args.scale,
                **result,
                "wall_seconds": round(time.time() - started, 2),
            }
        except Exception as exc:  # a scenario's failure is reported, the others still run
            failed += 1
            result = {
                "scenario": name,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=5),
            }
        line = json.dumps(result, default=str)
        print(line, flush=True)
        with open(out_dir / "results.jsonl", "a") as fh:
            fh.write(line + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
