"""Loader throughput: API records -> rows in a Postgres table, against two baselines in the same run.

* growthlab loader (growthlab.warehouse.loader): records mapped to tuples, serialised column-wise
  to COPY text, copied and merged on the key. Measured three ways: an initial load into an empty
  table (COPY straight into the target), the merge path (COPY into staging + MERGE, forced), and a
  second load of the same records (everything unchanged: nothing is written).
* pandas `DataFrame(records).to_sql` through SQLAlchemy + psycopg 3 (DataFrame build included).
* `psql \\copy` of the same rows from a CSV file written beforehand (file writing not timed).

Goal (issue 4): >= 5x to_sql and >= 0.5x psql \\copy. Six columns: id (pk), email, lifecycle stage,
updated_at, archived, properties (jsonb).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from growthlab.warehouse.db import resolve_urls, with_database
from growthlab.warehouse.loader import Column, Target, load_rows

DDL = """create table {t} (id text primary key, email text, lifecyclestage text, updated_at timestamptz,
         archived boolean, properties jsonb)"""
COLUMNS = (
    Column("id", "text"),
    Column("email", "text"),
    Column("lifecyclestage", "text"),
    Column("updated_at", "timestamptz"),
    Column("archived", "boolean"),
    Column("properties", "jsonb"),
)
STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")


def records(n: int) -> list[dict]:
    """HubSpot-shaped contact records, as the API client hands them over."""
    out = []
    for i in range(n):
        cid = str(1_000_000 + i)
        out.append(
            {
                "id": cid,
                "properties": {
                    "email": f"person{i}@firm{i % 997}.example",
                    "firstname": "Zoë" if i % 50 == 0 else "Ada",
                    "lastname": 'O"Neil\tjr' if i % 1000 == 0 else "Lovelace",
                    "lifecyclestage": STAGES[i % len(STAGES)],
                    "hs_object_id": cid,
                },
                "createdAt": "2026-01-05T10:00:00.000Z",
                "updatedAt": f"2026-03-{1 + i % 28:02d}T09:15:{i % 60:02d}.000Z",
                "archived": i % 97 == 0,
            }
        )
    return out


def to_row(r: dict) -> tuple:
    p = r["properties"]
    return (r["id"], p.get("email"), p.get("lifecyclestage"), r["updatedAt"], r["archived"], p)


def _psql() -> str:
    from growthlab.warehouse.embedded import bin_dir

    return str(Path(bin_dir()) / "psql")


def run(args) -> dict:
    n = 5_000 if args.scale == "smoke" else 300_000
    base_url = resolve_urls().warehouse
    db = f"bench_loader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(db)))
    url = with_database(base_url, db)
    recs = records(n)
    results: dict[str, float] = {}
    try:
        with psycopg.connect(url) as conn:
            for t in ("loader_initial", "loader_merge", "psql"):
                conn.execute(DDL.format(t=t))
            conn.commit()

            def timed_load(table: str, **options) -> tuple[float, object]:
                target = Target(table=f"public.{table}", columns=COLUMNS, key=("id",))
                started = time.perf_counter()
                stats = load_rows(conn, target, map(to_row, recs), **options)
                return time.perf_counter() - started, stats

            seconds, initial = timed_load("loader_initial")
            results["loader_initial"] = seconds
            seconds, merged = timed_load("loader_merge", direct_when_empty=False)
            results["loader_merge"] = seconds
            seconds, again = timed_load("loader_merge")
            results["loader_rerun_unchanged"] = seconds
            counts = {
                t: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(t))).fetchone()[0]
                for t in ("loader_initial", "loader_merge")
            }

        # pandas.to_sql with psycopg 3, DataFrame construction included.
        import pandas as pd
        from sqlalchemy import create_engine
        from sqlalchemy.dialects.postgresql import JSONB

        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        started = time.perf_counter()
        frame = pd.DataFrame(
            {
                "id": [r["id"] for r in recs],
                "email": [r["properties"].get("email") for r in recs],
                "lifecyclestage": [r["properties"].get("lifecyclestage") for r in recs],
                "updated_at": pd.to_datetime([r["updatedAt"] for r in recs], utc=True),
                "archived": [r["archived"] for r in recs],
                "properties": [r["properties"] for r in recs],
            }
        )
        frame.to_sql("pandas", engine, if_exists="fail", index=False, dtype={"properties": JSONB})
        results["pandas_to_sql"] = time.perf_counter() - started
        engine.dispose()

        # psql \copy of a ready CSV file.
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            path = Path(tmp) / "rows.csv"
            with open(path, "w", newline="") as fh:
                writer = csv.writer(fh)
                for r in recs:
                    row = to_row(r)
                    writer.writerow([*row[:4], "t" if row[4] else "f", json.dumps(row[5])])
            started = time.perf_counter()
            subprocess.run(
                [_psql(), url, "-v", "ON_ERROR_STOP=1", "-c", f"\\copy psql from '{path}' with (format csv)"],
                check=True,
                capture_output=True,
            )
            results["psql_copy"] = time.perf_counter() - started
    finally:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))

    rate = {k: round(n / v) for k, v in results.items()}
    assert counts == {"loader_initial": n, "loader_merge": n}, counts
    return {
        "rows": n,
        "columns": len(COLUMNS),
        "rows_per_s": rate,
        "ratio": round(rate["loader_initial"] / rate["pandas_to_sql"], 2),
        "ratio_vs_to_sql": {
            "initial": round(rate["loader_initial"] / rate["pandas_to_sql"], 2),
            "merge": round(rate["loader_merge"] / rate["pandas_to_sql"], 2),
        },
        "ratio_vs_psql_copy": {
            "initial": round(rate["loader_initial"] / rate["psql_copy"], 2),
            "merge": round(rate["loader_merge"] / rate["psql_copy"], 2),
        },
        "goal": {"vs_to_sql": 5.0, "vs_psql_copy": 0.5},
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews rates
        "stats": {
            "initial": {"inserted": initial.inserted, "direct_chunks": initial.direct_chunks},
            "merge": {"inserted": merged.inserted, "updated": merged.updated},
            "rerun": {"inserted": again.inserted, "updated": again.updated, "unchanged": again.unchanged},
        },
    }
