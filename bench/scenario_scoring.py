"""Lead scoring throughput: end to end (read features, predict, reasons, write) vs the raw compute.

A synthetic `marts.lead_features` of N contacts at one as-of date (smoke: 20k, full: 1M) is scored
by ml.score.score_contacts in a throwaway database, twice:

* cold: no previous scores, so every row needs reasons (TreeSHAP);
* warm: the marts were rebuilt with new engagement for 5% of the contacts (the hourly case), so
  every row is read and hashed, and only the changed rows are predicted, explained and written
  (the others keep their stored outputs: same model, same inputs).

The baseline of each run is the raw compute on the same in-memory matrix, measured in this process
right before and right after the run (their mean: a shared machine's load drifts):
`Booster.predict` of the three boosters (probability, fit, engagement) on every row plus
`pred_contrib` on the rows that get reasons (in the warm run the pipeline predicts fewer rows than
this baseline does; `rows_predicted` says how many). ratio = end-to-end contacts/s / raw contacts/s
(goal >= 0.7: I/O and glue cost little). When the model's boosters are stumps (the tree shape
training chose), the pipeline computes them in closed form (ml/additive.py, checked against
LightGBM on the first chunk), not with LightGBM's calls, so it can beat the raw rate: its own
compute is in `timings_s` (`predict`, `contrib`) next to the writes (`write_direct`, `merge`). Peak memory is the largest RSS growth of this process
during a scoring run (sampled every 20 ms), i.e. what chunking keeps flat.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
import uuid
from datetime import date

import numpy as np
import psycopg
from psycopg import sql

from growthlab.warehouse.db import resolve_urls, with_database
from growthlab.warehouse.migrate import apply_migrations
from ml.config import ml_settings, threads_for
from ml.synthetic import generate, write_lead_features
from ml.train import fit_bundle, plan_for

TODAY = date(2026, 8, 31)


class PeakRss:
    """Largest RSS above the starting point while the block runs (a sampling thread)."""

    def __init__(self, interval: float = 0.02) -> None:
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.start = self.process.memory_info().rss
        self.peak = self.start
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.start) / 2**20, 1)


def _population(rows: int, seed: int):
    """About `rows` contacts alive at TODAY, with their feature rows."""
    world = generate(int(rows * 1.7) + 100, today=TODAY, seed=seed, as_of_dates=[TODAY])
    frame = world.features.head(rows).reset_index(drop=True)
    return frame


def _raw_compute(bundle, X: np.ndarray, reason_rows: np.ndarray) -> float:
    threads = threads_for(len(X))
    started = time.perf_counter()
    bundle.main.predict(X, raw_score=True, num_threads=threads)
    bundle.fit.predict(X[:, bundle.fit_columns], raw_score=True, num_threads=threads)
    bundle.engagement.predict(X[:, bundle.engagement_columns], raw_score=True, num_threads=threads)
    if len(reason_rows):
        subset = X[reason_rows]
        bundle.main.predict(subset, pred_contrib=True, num_threads=threads_for(len(subset)))
    return time.perf_counter() - started


def run(args) -> dict:
    from ml.score import score_contacts

    smoke = args.scale == "smoke"
    rows = 20_000 if smoke else 1_000_000
    train_contacts = 4_000 if smoke else 30_000
    settings = ml_settings()

    # The model: fitted on a synthetic history (no MLflow: the benchmark measures scoring).
    history = generate(train_contacts, today=TODAY, seed=5, base_hazard=-4.8).features
    labelled = history[history["converted_90d"].notna()].drop(columns=["converted_at"]).copy()
    labelled["converted_90d"] = labelled["converted_90d"].astype("int64")
    started = time.perf_counter()
    bundle = fit_bundle(labelled, plan_for(labelled, TODAY, settings), settings).bundle
    train_seconds = time.perf_counter() - started
    del history, labelled

    base_url = resolve_urls().warehouse
    db = f"bench_scoring_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(db)))
    url = with_database(base_url, db)
    try:
        apply_migrations(url, analyst_role=None)
        frame = _population(rows, seed=9)
        started = time.perf_counter()
        write_lead_features(url, frame)
        load_seconds = time.perf_counter() - started
        X = bundle.encoder.transform(frame)
        n = len(frame)
        del frame
        gc.collect()
        # production chunks at full scale; at smoke scale smaller ones, so that it streams several
        settings = dataclasses.replace(settings, chunk_rows=5_000 if smoke else 50_000)

        cold_before = _raw_compute(bundle, X, np.arange(n))
        with PeakRss() as cold_mem:
            cold = score_contacts(url, settings, bundle, "1", as_of=TODAY)
        cold_raw = (cold_before + _raw_compute(bundle, X, np.arange(n))) / 2

        # The hourly rebuild: 5% of the contacts opened and clicked more.
        with psycopg.connect(url) as conn:
            changed = conn.execute(
                "update marts.lead_features set human_opens_30d = human_opens_30d + 2, clicks_30d = clicks_30d + 1 "
                "where abs(hashtext(contact_id)) % 20 = 0"
            ).rowcount
            conn.commit()
        gc.collect()
        # as many rows as will get reasons, for the raw contrib cost (which rows hardly matters)
        warm_before = _raw_compute(bundle, X, np.arange(changed))
        with PeakRss() as warm_mem:
            warm = score_contacts(url, settings, bundle, "1", as_of=TODAY)
        warm_raw = (warm_before + _raw_compute(bundle, X, np.arange(changed))) / 2
    finally:
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db)))

    assert cold.rows_scored == n and cold.rows_reasoned == n, (cold.rows_scored, cold.rows_reasoned, n)
    assert warm.rows_reasoned == changed == warm.rows_written == warm.rows_predicted, (
        warm.rows_reasoned,
        changed,
        warm.rows_written,
        warm.rows_predicted,
    )

    def block(result, raw_seconds: float, mem: PeakRss) -> dict:
        e2e = n / result.seconds
        raw = n / raw_seconds
        return {
            "seconds": round(result.seconds, 2),
            "contacts_per_s": round(e2e),
            "raw_compute_seconds": round(raw_seconds, 2),
            "raw_contacts_per_s": round(raw),
            "ratio": round(e2e / raw, 3),
            "rows_predicted": result.rows_predicted,
            "rows_needing_reasons": result.rows_reasoned,
            "rows_written": result.rows_written,
            "peak_rss_growth_mb": mem.growth_mb,
            "timings_s": result.timings,
        }

    cold_block = block(cold, cold_raw, cold_mem)
    warm_block = block(warm, warm_raw, warm_mem)
    return {
        "contacts": n,
        "features": len(bundle.features),
        "trees": {
            "main": bundle.main.num_trees(),
            "fit": bundle.fit.num_trees(),
            "engagement": bundle.engagement.num_trees(),
        },
        "chunk_rows": settings.chunk_rows,
        "threads": threads_for(n),
        "ratio": cold_block["ratio"],
        "goal": 0.7,
        "cold": cold_block,
        "warm": warm_block,
        "setup_seconds": {"train": round(train_seconds, 1), "load_features": round(load_seconds, 1)},
    }
