"""Loader throughput: API records -> rows in a Postgres table, against two baselines in the same run.

Every path loads the same rows into a table of the same shape (created by the same DDL, primary
key included) and must end with the same content (checked: the tables are compared row for row).

* growthlab loader (growthlab.warehouse.loader), timed from the API records (Python dicts as the
  HubSpot client hands them over) to committed rows: records mapped to tuples, serialised to COPY
  text, copied. `loader_initial` is a first load into an empty table (COPY straight into the
  target); `loader_merge` forces COPY into staging + MERGE per chunk; `loader_wap` is the path of
  an ingestion batch (growthlab/sources/landing.py without the Great Expectations audit): COPY
  into an unlogged landing table, then one MERGE of the batch's last row per key into the table;
  `loader_rerun_unchanged` loads the same records again (nothing is written).
* pandas: `DataFrame` built from the records, then `to_sql(if_exists="append")` through
  SQLAlchemy + psycopg 3 (the DataFrame build is timed: it is what that path does with records).
* `psql \\copy` of the same rows from a CSV file written beforehand (file writing not timed; the
  psql process start is, a few milliseconds).

The headline paths (loader_initial, pandas_to_sql, psql_copy) run `trials` rounds, interleaved
(loader, pandas, psql, loader, ...), each round into fresh tables, so a burst of load from other
work on the machine hits them alike; the rates are the best of each path's trials, and the
ratios of every round are listed too. Goal (issue 4): >= 5x to_sql and >= 0.5x psql \\copy.
Six columns: id (pk), email, lifecycle stage, updated_at, archived, properties (jsonb).
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from growthlab.warehouse.db import resolve_urls, with_database
from growthlab.warehouse.loader import Column, Loader, Target, latest_per_key, load_rows, merge

DDL = """create table {t} (id text primary key, email text, lifecyclestage text, updated_at timestamptz,
         archived boolean, properties jsonb)"""
LANDING_DDL = """create unlogged table {t} (id text, email text, lifecyclestage text, updated_at timestamptz,
         archived boolean, properties jsonb, _batch_id text, _seq bigint generated always as identity)"""
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


def _fresh(conn: psycopg.Connection, table: str, ddl: str = DDL) -> None:
    conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(table)))
    conn.execute(ddl.format(t=table))
    conn.commit()


def drop_database(admin_url: str, name: str) -> None:
    """Drop a scratch database. Plain DROP DATABASE (retried while a session lingers) rather than
    WITH (FORCE): FORCE must also terminate autovacuum workers busy on the fresh tables, which the
    pipeline role may not signal."""
    for attempt in range(10):
        try:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(0.5 * (attempt + 1))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _differs(conn: psycopg.Connection, a: str, b: str) -> int:
    """Rows in one table and not in the other (both ways)."""
    ta, tb = sql.Identifier(a), sql.Identifier(b)
    return conn.execute(
        sql.SQL(
            "select (select count(*) from (table {a} except table {b}) x)"
            " + (select count(*) from (table {b} except table {a}) y)"
        ).format(a=ta, b=tb)
    ).fetchone()[0]


def run(args) -> dict:
    n = 5_000 if args.scale == "smoke" else 300_000
    trials = int(os.environ.get("GROWTHLAB_BENCH_LOADER_TRIALS", 1 if args.scale == "smoke" else 2))
    base_url = resolve_urls().warehouse
    db = f"bench_loader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(db)))
    url = with_database(base_url, db)
    recs = records(n)
    times: dict[str, list[float]] = {"loader_initial": [], "pandas_to_sql": [], "psql_copy": []}
    differences: dict[str, int] = {}

    import pandas as pd
    from sqlalchemy import create_engine
    from sqlalchemy.dialects.postgresql import JSONB

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    tmp = tempfile.TemporaryDirectory()
    try:
        os.chmod(tmp.name, 0o755)
        csv_path = Path(tmp.name) / "rows.csv"
        with open(csv_path, "w", newline="") as fh:
            writer = csv.writer(fh)
            for r in recs:
                row = to_row(r)
                writer.writerow([*row[:4], "t" if row[4] else "f", json.dumps(row[5])])

        with psycopg.connect(url) as conn:

            def loader_path(table: str, **options) -> tuple[float, object]:
                t = Target(table=f"public.{table}", columns=COLUMNS, key=("id",))
                started = time.perf_counter()
                stats = load_rows(conn, t, map(to_row, recs), **options)
                return time.perf_counter() - started, stats

            def pandas_path(table: str) -> float:
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
                frame.to_sql(table, engine, if_exists="append", index=False, dtype={"properties": JSONB})
                return time.perf_counter() - started

            def psql_path(table: str) -> float:
                started = time.perf_counter()
                subprocess.run(
                    [
                        _psql(),
                        url,
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-c",
                        f"\\copy {table} from '{csv_path}' with (format csv)",
                    ],
                    check=True,
                    capture_output=True,
                )
                return time.perf_counter() - started

            for _ in range(trials):
                for table in times:
                    _fresh(conn, table)
                seconds, initial = loader_path("loader_initial")
                times["loader_initial"].append(seconds)
                times["pandas_to_sql"].append(pandas_path("pandas_to_sql"))
                times["psql_copy"].append(psql_path("psql_copy"))
                for table in ("loader_initial", "pandas_to_sql"):
                    differences[table] = max(differences.get(table, 0), _differs(conn, table, "psql_copy"))

            # The other loader paths, once each.
            _fresh(conn, "loader_merge")
            seconds, merged = loader_path("loader_merge", direct_when_empty=False)
            other = {"loader_merge": seconds}
            seconds, again = loader_path("loader_merge")
            other["loader_rerun_unchanged"] = seconds

            _fresh(conn, "loader_wap", DDL.replace("jsonb)", "jsonb, _batch_id text)"))
            _fresh(conn, "landing_wap", LANDING_DDL)
            wap = Target(
                table="public.loader_wap", columns=COLUMNS, key=("id",), meta=(Column("_batch_id", "text"),)
            )
            landing = Target(table="public.landing_wap", columns=COLUMNS, key=("id",), meta=wap.meta)
            started = time.perf_counter()
            with Loader(conn, landing, ["bench-batch"], append=True) as loader:
                loader.load(map(to_row, recs))
            land_seconds = time.perf_counter() - started
            with conn.transaction():
                wap_inserted, _ = merge(
                    conn,
                    wap,
                    latest_per_key(
                        wap,
                        sql.Identifier("landing_wap"),
                        order="_seq",
                        where=sql.SQL("_batch_id = 'bench-batch'"),
                    ),
                )
                conn.execute("delete from landing_wap where _batch_id = 'bench-batch'")
            conn.commit()
            other["loader_wap"] = time.perf_counter() - started
            conn.execute("alter table loader_wap drop column _batch_id")
            conn.commit()
            for table in ("loader_merge", "loader_wap"):
                differences[table] = _differs(conn, table, "psql_copy")
            counts = {
                t: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(t))).fetchone()[0]
                for t in (*times, "loader_merge", "loader_wap")
            }
    finally:
        engine.dispose()
        tmp.cleanup()
        drop_database(base_url, db)

    assert all(c == n for c in counts.values()), counts
    assert not any(differences.values()), f"tables differ from the psql \\copy table: {differences}"
    best = {k: round(n / min(v)) for k, v in times.items()}
    rate = {**best, **{k: round(n / v) for k, v in other.items()}}
    per_round = [
        {
            "vs_to_sql": round(times["pandas_to_sql"][i] / times["loader_initial"][i], 2),
            "vs_psql_copy": round(times["psql_copy"][i] / times["loader_initial"][i], 2),
        }
        for i in range(trials)
    ]
    return {
        "rows": n,
        "columns": len(COLUMNS),
        "trials": trials,
        "rows_per_s": rate,
        "rows_per_s_trials": {k: [round(n / s) for s in v] for k, v in times.items()},
        "ratio": round(best["loader_initial"] / best["pandas_to_sql"], 2),
        "ratio_vs_to_sql": {
            "initial": round(best["loader_initial"] / best["pandas_to_sql"], 2),
            "wap": round(rate["loader_wap"] / best["pandas_to_sql"], 2),
            "merge": round(rate["loader_merge"] / best["pandas_to_sql"], 2),
        },
        "ratio_vs_psql_copy": {
            "initial": round(best["loader_initial"] / best["psql_copy"], 2),
            "wap": round(rate["loader_wap"] / best["psql_copy"], 2),
            "merge": round(rate["loader_merge"] / best["psql_copy"], 2),
        },
        "ratios_per_round": per_round,
        "ratio_vs_psql_copy_median_round": statistics.median(r["vs_psql_copy"] for r in per_round),
        "goal": {"vs_to_sql": 5.0, "vs_psql_copy": 0.5},
        "same_end_state": True,  # every table equals the psql \copy one (checked above)
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews rates
        "stats": {
            "initial": {"inserted": initial.inserted, "direct_chunks": initial.direct_chunks},
            "merge": {"inserted": merged.inserted, "updated": merged.updated},
            "rerun": {"inserted": again.inserted, "updated": again.updated, "unchanged": again.unchanged},
            "wap": {"landing_seconds": round(land_seconds, 2), "inserted": wap_inserted},
        },
    }
