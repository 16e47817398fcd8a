"""Scoring every active contact with the champion, in chunks, with reasons only where they changed.

One run scores the contacts of one as-of date of `marts.lead_features` (the newest at or before
the run's "now"):

1. the rows stream out of Postgres with COPY (ml/data.py), each with what ml.lead_scores holds for
   the contact now (previous hashes, model version, as-of date, grade), parsed a chunk ahead in a
   background thread;
2. per chunk: encode, hash the model inputs twice: `features_hash` (exact) and `reasons_hash` (day
   counters bucketed, ml/features.CLOCK_BUCKETS); predict (probability, fit, engagement, grade)
   the rows whose exact inputs or model changed, the others keep their stored outputs (the same
   model on the same inputs predicts the same);
3. a row is written only if its inputs, the model version or the as-of date changed; its reasons
   (TreeSHAP `pred_contrib`, 50-100x the cost of a prediction) are recomputed only if
   `reasons_hash` or the model version changed; unchanged reasons are kept. The LightGBM work runs
   in slices on a pool of single-threaded workers (ComputePool: nothing waits at an OpenMP barrier
   for a thread the machine descheduled), the reasons' text is built column-wise with Arrow;
4. written rows go with COPY into a temporary staging table from a writer thread (Postgres parses
   them while the next chunk is computed); rows of contacts never scored go straight into the
   tables when nothing was scored at this as-of date with this model before (ChunkSink). The stage
   is merged into ml.lead_scores in one transaction with the history rows (ml.lead_score_history),
   the removal of contacts that left the population, the PSI rows (ml.monitoring) and the run
   record (ml.scoring_runs); an advisory lock keeps scoring runs one at a time. A failed run changes nothing; a
   repeated run for the same as-of date and model writes nothing new.
"""

from __future__ import annotations

import io
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

import lightgbm as lgb
import numpy as np
import psycopg.errors
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from growthlab.warehouse.db import connect
from ml.additive import AdditiveBooster, compile_additive
from ml.config import MLSettings, threads_for
from ml.data import FeaturesUnavailable, scoring_as_of, stream_scoring_rows
from ml.drift import SCORE_SUBJECT, DriftAccumulator, write_monitoring
from ml.features import CLOCK_BUCKETS
from ml.model import Prediction, ScoringBundle
from ml.reasons import ReasonWriter

log = logging.getLogger(__name__)

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
FEATURES_SEED = 0x6C656164  # "lead"
REASONS_SEED = 0x72656173  # "reas"


SCORING_LOCK = 0x6C73636F  # pg advisory lock key of scoring runs ("lsco")


class NothingToScore(RuntimeError):
    """No rows or no model to score with; the message says what is missing."""


def run_scoring(url: str, settings: MLSettings, now: date | None) -> ScoringResult:
    """Score with the current champion (`models:/<name>@champion`)."""
    from ml.registry import CHAMPION, alias_version, load_bundle

    version = alias_version(settings, CHAMPION)
    if version is None:
        raise NothingToScore(
            f"no {settings.model_name}@{CHAMPION} in the MLflow registry yet: train a model first "
            f"(the lead_model_train DAG or `growthlab model train`)"
        )
    bundle = load_bundle(settings, version)
    return score_contacts(url, settings, bundle, version, now=now)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _bits(X: np.ndarray) -> np.ndarray:
    canonical = np.where(np.isnan(X), np.nan, X + 0.0)  # one NaN, and -0.0 == 0.0
    return np.ascontiguousarray(canonical).view(np.uint64)


def _fold(h: np.ndarray, bits: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        for j in range(bits.shape[1]):
            h = _mix(h ^ bits[:, j])
    return h


def row_hash(X: np.ndarray, seed: int) -> np.ndarray:
    """A 64-bit hash per row of a float matrix (splitmix64 over the bit patterns), as int64."""
    return _fold(np.full(len(X), np.uint64(seed), dtype=np.uint64), _bits(X)).view(np.int64)


def bucketed(X: np.ndarray, features: list[str]) -> np.ndarray:
    """X with every day counter replaced by its bucket (see ml/features.CLOCK_BUCKETS)."""
    out = X.copy()
    for name, edges in CLOCK_BUCKETS.items():
        if name in features:
            j = features.index(name)
            column = out[:, j]
            finite = ~np.isnan(column)
            column[finite] = np.searchsorted(np.asarray(edges), column[finite], side="left")
    return out


def clock_columns(features: list[str]) -> list[int]:
    return [features.index(name) for name in CLOCK_BUCKETS if name in features]


def input_hashes(X: np.ndarray, features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(features_hash, reasons_hash) per row: both share the hash of every non-clock input, then
    fold in the day counters, exact for the first and bucketed (CLOCK_BUCKETS) for the second."""
    clock = clock_columns(features)
    rest = [j for j in range(X.shape[1]) if j not in clock]
    base = _fold(np.full(len(X), np.uint64(FEATURES_SEED), dtype=np.uint64), _bits(X[:, rest]))
    exact = _fold(base.copy(), _bits(X[:, clock]))
    buckets = bucketed(X[:, clock], [features[j] for j in clock])
    with np.errstate(over="ignore"):
        salted = base ^ np.uint64(REASONS_SEED)
    coarse = _fold(salted, _bits(buckets))
    return exact.view(np.int64), coarse.view(np.int64)


@dataclass
class ScoringResult:
    as_of_date: date
    model_version: str
    rows_scored: int = 0
    rows_predicted: int = 0
    rows_written: int = 0
    rows_reasoned: int = 0
    rows_removed: int = 0
    history_rows: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    additive: list[str] = field(default_factory=list)  # boosters computed in their additive form
    max_psi: float = 0.0
    drifted: list[str] = field(default_factory=list)
    grades: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["as_of_date"] = self.as_of_date.isoformat()
        return data


STAGE_DDL = """
create temporary table score_stage (
    contact_id text not null,
    probability double precision not null,
    fit_score smallint not null,
    engagement_score smallint not null,
    grade text not null,
    reasons jsonb,
    features_hash bigint not null,
    reasons_hash bigint not null,
    history boolean not null
) on commit drop
"""
STAGE_COLUMNS = (
    "contact_id",
    "probability",
    "fit_score",
    "engagement_score",
    "grade",
    "reasons",
    "features_hash",
    "reasons_hash",
    "history",
)


def _int64_differs(prev: pa.ChunkedArray | pa.Array, current: np.ndarray) -> np.ndarray:
    """True where the previous value is null or differs (int64 kept exact: no float round trip)."""
    missing = prev.is_null().to_numpy(zero_copy_only=False)
    values = pc.fill_null(prev, 0).to_numpy(zero_copy_only=False)
    return missing | (values != current)


def _equal(prev: pa.ChunkedArray | pa.Array, value) -> np.ndarray:
    """True where the previous value equals `value` (scalar or array); null never equals."""
    return pc.fill_null(pc.equal(prev, value), False).to_numpy(zero_copy_only=False)


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Iterate `items` in a background thread, `depth` ahead: the next chunk streams out of
    Postgres and is parsed (both release the GIL) while this one is predicted."""
    done = object()
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            buffer.put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # ends an abandoned COPY and returns its connection

    thread = threading.Thread(target=produce, name="score-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)


class ComputePool:
    """LightGBM work split into slices over `workers` threads, each with its own copy of the
    booster and one OpenMP thread.

    One call with num_threads=2 splits the rows statically between two OpenMP threads and waits for
    the slower one (the faster spins meanwhile): whenever anything else runs on the machine (the
    COPY streaming the next chunk, the stage writer, Postgres, another job) one of the two is
    descheduled and the whole call waits for it. Slices handed out from a queue keep every worker
    busy whatever runs beside them. Each row's result does not depend on how rows are split.

    A booster made of stumps (ml/additive.py) is computed from its per-feature step functions
    instead, once `verify` has found them equal to LightGBM's own results on real rows."""

    def __init__(self, bundle: ScoringBundle, workers: int) -> None:
        self.workers = max(1, workers)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="score-compute")
        self._local = threading.local()
        self._boosters = {name: getattr(bundle, name) for name in ("main", "fit", "engagement")}
        self._models = {name: booster.model_to_string() for name, booster in self._boosters.items()}
        self._columns = {"main": None, "fit": bundle.fit_columns, "engagement": bundle.engagement_columns}
        self._candidates = {name: compile_additive(b) for name, b in self._boosters.items()}
        self._additive: dict[str, AdditiveBooster] = {}
        self._verified = False

    def verify(self, X: np.ndarray, rows: int = 512) -> None:
        """Trust the additive form of each booster only if it reproduces LightGBM's margins and
        contributions on the first `rows` rows of X (the first chunk); once per run."""
        if self._verified:
            return
        self._verified = True
        sample = X[:rows]
        for name, candidate in self._candidates.items():
            if candidate is None:
                continue
            cols = self._columns[name]
            part = np.ascontiguousarray(sample if cols is None else sample[:, cols])
            if candidate.matches(self._boosters[name], part):
                self._additive[name] = candidate
            else:
                log.warning("the %s booster's additive form differs from LightGBM's: using LightGBM", name)

    @property
    def additive(self) -> list[str]:
        return sorted(self._additive)

    def _booster(self, name: str) -> lgb.Booster:
        boosters = self._local.__dict__.setdefault("boosters", {})
        if name not in boosters:
            boosters[name] = lgb.Booster(model_str=self._models[name])
        return boosters[name]

    def _run(self, name: str, X: np.ndarray, kwargs: dict) -> np.ndarray:
        additive = self._additive.get(name)
        if additive is not None:
            return additive.contributions(X) if kwargs.get("pred_contrib") else additive.predict_raw(X)
        return self._booster(name).predict(X, num_threads=1, **kwargs)

    def submit(self, name: str, X: np.ndarray, slice_rows: int, **kwargs) -> Callable[[], np.ndarray]:
        """Start `Booster.predict(X, **kwargs)` of booster `name`; the returned callable waits for
        the result (rows in order)."""
        if name in self._additive:
            slice_rows = max(slice_rows, PREDICT_SLICE_ROWS)  # vectorised: fewer, larger slices
        if self.workers == 1 or len(X) <= slice_rows:
            futures = [self._executor.submit(self._run, name, X, kwargs)]
        else:
            futures = [
                self._executor.submit(self._run, name, X[i : i + slice_rows], kwargs)
                for i in range(0, len(X), slice_rows)
            ]

        def result() -> np.ndarray:
            parts = [f.result() for f in futures]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        return result

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


PREDICT_SLICE_ROWS = 25_000
CONTRIB_SLICE_ROWS = 2_500


def predict_pooled(bundle: ScoringBundle, X: np.ndarray, pool: ComputePool) -> Prediction:
    """bundle.predict_matrix(X) with the three boosters' predictions run on the pool."""
    main = pool.submit("main", X, PREDICT_SLICE_ROWS, raw_score=True)
    fit = pool.submit(
        "fit", np.ascontiguousarray(X[:, bundle.fit_columns]), PREDICT_SLICE_ROWS, raw_score=True
    )
    engagement = pool.submit(
        "engagement",
        np.ascontiguousarray(X[:, bundle.engagement_columns]),
        PREDICT_SLICE_ROWS,
        raw_score=True,
    )
    return bundle.prediction(main(), fit(), engagement())


@dataclass
class ChunkPrediction:
    """The served outputs of every row of a chunk, and how many rows were actually predicted."""

    probability: np.ndarray
    fit_score: np.ndarray
    engagement_score: np.ndarray
    grade: np.ndarray  # object array of "A".."D"
    predicted: int


def predict_changed(
    bundle: ScoringBundle, X: np.ndarray, rows: np.ndarray, chunk: pa.Table, pool: ComputePool
) -> ChunkPrediction:
    """Predict the rows flagged in `rows` (a new model, or inputs whose exact hash changed); every
    other row keeps what ml.lead_scores holds for it (the chunk's prev_* columns): the same model on
    the same inputs gives the same outputs, so nothing is lost by not predicting them again."""
    idx = np.nonzero(rows)[0]
    if len(idx) == len(X):
        pred = predict_pooled(bundle, X, pool)
        return ChunkPrediction(
            pred.probability, pred.fit_score, pred.engagement_score, pred.grade.astype(object), len(X)
        )

    def previous(name: str, dtype) -> np.ndarray:
        values = pc.fill_null(chunk.column(name), 0).to_numpy(zero_copy_only=False)
        return values.astype(dtype, copy=True)

    probability = previous("prev_probability", np.float64)
    fit_score = previous("prev_fit_score", np.int64)
    engagement_score = previous("prev_engagement_score", np.int64)
    grade = chunk.column("prev_grade").to_numpy(zero_copy_only=False).astype(object)
    if len(idx):
        pred = predict_pooled(bundle, np.ascontiguousarray(X[idx]), pool)
        probability[idx] = pred.probability
        fit_score[idx] = pred.fit_score
        engagement_score[idx] = pred.engagement_score
        grade[idx] = pred.grade.astype(object)
    return ChunkPrediction(probability, fit_score, engagement_score, grade, len(idx))


def several_rows(as_of: date, which: str) -> FeaturesUnavailable:
    return FeaturesUnavailable(
        f"marts.lead_features has several rows per contact at {as_of} ({which}); it must have one row "
        f"per contact and as-of date: fix the mart (its unique test should have failed)"
    )


class ChunkSink:
    """Where a chunk's written rows go.

    Rows of contacts that ml.lead_scores does not hold yet (`new`) are inserts whatever happens:
    when this as-of date and model version were never scored before (so no history row can exist
    for them either), they are copied straight into ml.lead_scores and ml.lead_score_history, while
    the next chunk is computed, instead of through the stage and an upsert after the last chunk
    (the first scoring of a million contacts). Every other row goes to the stage and the merge.
    Same transaction either way: a failed run still changes nothing."""

    def __init__(self, as_of: date, version: str, scored_at: datetime, direct: bool) -> None:
        self.as_of = as_of
        self.version = version
        self.scored_at = scored_at
        self.direct = direct
        self.direct_rows = 0

    def write(self, cur, table: pa.Table, timer: _Timer) -> None:
        new = table.column("new")
        table = table.drop_columns(["new"])
        if not self.direct:
            _copy_stage(cur, table)
            return
        staged = table.filter(pc.invert(new))
        fresh = table.filter(new)
        if staged.num_rows:
            _copy_stage(cur, staged)
        if fresh.num_rows:
            t = time.perf_counter()
            self._copy_direct(cur, fresh)
            timer.add("write_direct", t)
            self.direct_rows += fresh.num_rows

    def _copy_direct(self, cur, table: pa.Table) -> None:
        n = table.num_rows
        constants = {
            "model_version": pa.repeat(pa.scalar(self.version, pa.string()), n),
            "as_of_date": pa.repeat(pa.scalar(self.as_of, pa.date32()), n),
            "scored_at": pa.repeat(pa.scalar(self.scored_at.isoformat(), pa.string()), n),
        }
        scores = pa.table(
            {**{c: table.column(c) for c in DIRECT_SCORE_COLUMNS if c in table.column_names}, **constants}
        )
        history = scores.select(list(HISTORY_COLUMNS))
        try:
            _copy_csv(cur, "ml.lead_scores", scores.select(list(DIRECT_SCORE_COLUMNS)))
            _copy_csv(cur, "ml.lead_score_history", history)
        except psycopg.errors.UniqueViolation as exc:
            raise several_rows(self.as_of, exc.diag.message_detail) from exc


DIRECT_SCORE_COLUMNS = (*STAGE_COLUMNS[:-1], "model_version", "as_of_date", "scored_at")
HISTORY_COLUMNS = (
    "contact_id",
    "as_of_date",
    "model_version",
    "reasons_hash",
    "probability",
    "fit_score",
    "engagement_score",
    "grade",
    "reasons",
    "scored_at",
)


class _StageWriter:
    """COPY of the rows to write (ChunkSink) in a background thread, so that Postgres parses them
    while the next chunk is computed. Owns the cursor until `finish()`."""

    def __init__(self, cur, timer: _Timer, sink: ChunkSink, depth: int = 2) -> None:
        self._cur = cur
        self._timer = timer
        self._sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="score-stage", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            table = self._queue.get()
            if table is None:
                return
            if self._error is not None:
                continue  # drain: the producer learns of the error on its next put
            try:
                t = time.perf_counter()
                self._sink.write(self._cur, table, self._timer)
                self._timer.add("write_stage", t)
            except BaseException as exc:
                self._error = exc

    def put(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def finish(self) -> None:
        """Wait for every COPY; raise the writer's error if there was one."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """The run failed elsewhere: stop the thread (what it wrote is rolled back)."""
        self._error = self._error or RuntimeError("abandoned")
        self._queue.put(None)
        self._thread.join()


class _Timer:
    """Seconds per step, added up over chunks (thread-safe: the stage writer adds its own)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, name: str, started: float) -> float:
        now = time.perf_counter()
        with self._lock:
            self.totals[name] = self.totals.get(name, 0.0) + now - started
        return now


def score_chunk(
    chunk: pa.Table,
    bundle: ScoringBundle,
    version: str,
    as_of: date,
    writer: ReasonWriter,
    drift: DriftAccumulator,
    timer: _Timer,
    pool: ComputePool,
) -> tuple[pa.Table, dict[str, int]]:
    """Predict one chunk (an Arrow table from ml.data); return the rows to write and counters.

    The TreeSHAP contributions run on the pool while this thread does the drift counts and
    assembles the rows; `contrib` is the time left waiting for them."""
    t = time.perf_counter()
    X = bundle.encoder.transform_arrow(chunk)
    pool.verify(X)
    t = timer.add("encode", t)
    features_hash, reasons_hash = input_hashes(X, bundle.features)
    same_model = _equal(chunk.column("prev_model_version"), pa.scalar(version, pa.string()))
    inputs_changed = _int64_differs(chunk.column("prev_features_hash"), features_hash)
    t = timer.add("hash", t)
    pred = predict_changed(bundle, X, ~same_model | inputs_changed, chunk, pool)
    t = timer.add("predict", t)

    grade = pa.array(pred.grade, pa.string())
    same_date = _equal(chunk.column("prev_as_of_date"), pa.scalar(as_of, pa.date32()))
    reason_rows = ~same_model | _int64_differs(chunk.column("prev_reasons_hash"), reasons_hash)
    write_rows = reason_rows | ~same_date | inputs_changed
    grade_changed = ~_equal(chunk.column("prev_grade"), grade)
    history_rows = reason_rows | (write_rows & grade_changed)
    idx = np.nonzero(reason_rows)[0]
    explained = X[idx]
    contributions = (
        pool.submit("main", explained, CONTRIB_SLICE_ROWS, pred_contrib=True) if len(idx) else None
    )
    drift.add(X, pred.probability)
    t = timer.add("drift", t)

    keep = np.nonzero(write_rows)[0]
    picks = pa.array(keep)
    columns = {
        "contact_id": chunk.column("contact_id").take(picks),
        "probability": pa.array(pred.probability[keep], pa.float64()),
        "fit_score": pa.array(pred.fit_score[keep], pa.int16()),
        "engagement_score": pa.array(pred.engagement_score[keep], pa.int16()),
        "grade": grade.take(picks),
        "reasons": pa.nulls(len(keep), pa.string()),
        "features_hash": pa.array(features_hash[keep], pa.int64()),
        "reasons_hash": pa.array(reasons_hash[keep], pa.int64()),
        "history": pa.array(history_rows[keep], pa.bool_()),
        # no row in ml.lead_scores yet: may go straight into the tables (see ChunkSink)
        "new": pc.is_null(chunk.column("prev_model_version")).take(picks),
    }
    grades = {g: int(n) for g, n in zip(*np.unique(pred.grade, return_counts=True), strict=True)}
    t = timer.add("select", t)
    if contributions is not None:
        values = contributions()
        t = timer.add("contrib", t)
        texts = writer.render_arrow(explained, values)
        # every row with new reasons is written (reason_rows implies write_rows): place them
        at = np.full(len(keep), -1, dtype=np.int64)
        at[np.searchsorted(keep, idx)] = np.arange(len(idx))
        columns["reasons"] = texts.take(pa.array(at, mask=at < 0))
        t = timer.add("reasons_text", t)
    return pa.table(columns), {
        "scored": len(X),
        "predicted": pred.predicted,
        "written": len(keep),
        "reasoned": len(idx),
        **{f"grade_{g}": n for g, n in grades.items()},
    }


def _copy_csv(cur, target: str, table: pa.Table) -> None:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    with cur.copy(f"COPY {target} ({', '.join(table.column_names)}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buf.getbuffer())


def _copy_stage(cur, table: pa.Table) -> None:
    _copy_csv(cur, "score_stage", table.select(list(STAGE_COLUMNS)))


MERGE_REASONED = """
insert into ml.lead_scores as l (contact_id, probability, fit_score, engagement_score, grade, reasons,
    model_version, features_hash, reasons_hash, as_of_date, scored_at)
select contact_id, probability, fit_score, engagement_score, grade, reasons,
    %(version)s, features_hash, reasons_hash, %(as_of)s, %(scored_at)s
from score_stage where reasons is not null
on conflict (contact_id) do update set
    probability = excluded.probability, fit_score = excluded.fit_score,
    engagement_score = excluded.engagement_score, grade = excluded.grade, reasons = excluded.reasons,
    model_version = excluded.model_version, features_hash = excluded.features_hash,
    reasons_hash = excluded.reasons_hash, as_of_date = excluded.as_of_date, scored_at = excluded.scored_at
where l.as_of_date <= excluded.as_of_date
"""
MERGE_KEPT_REASONS = """
update ml.lead_scores l set
    probability = s.probability, fit_score = s.fit_score, engagement_score = s.engagement_score,
    grade = s.grade, features_hash = s.features_hash, reasons_hash = s.reasons_hash,
    as_of_date = %(as_of)s, scored_at = %(scored_at)s
from score_stage s
where s.contact_id = l.contact_id and s.reasons is null and l.as_of_date <= %(as_of)s
"""
# History: rows with new reasons straight from the stage; rows whose grade changed with the same
# reasons take them from ml.lead_scores (after the merge).
APPEND_HISTORY = """
insert into ml.lead_score_history (contact_id, as_of_date, model_version, reasons_hash, probability,
    fit_score, engagement_score, grade, reasons, scored_at)
select s.contact_id, %(as_of)s, %(version)s, s.reasons_hash, s.probability, s.fit_score,
    s.engagement_score, s.grade, s.reasons, %(scored_at)s
from score_stage s
where s.history and s.reasons is not null
union all
select s.contact_id, %(as_of)s, %(version)s, s.reasons_hash, s.probability, s.fit_score,
    s.engagement_score, s.grade, l.reasons, %(scored_at)s
from score_stage s join ml.lead_scores l on l.contact_id = s.contact_id
where s.history and s.reasons is null
on conflict (contact_id, as_of_date, model_version, reasons_hash) do update set
    probability = excluded.probability, fit_score = excluded.fit_score,
    engagement_score = excluded.engagement_score, grade = excluded.grade, reasons = excluded.reasons,
    scored_at = excluded.scored_at
"""
# After the merge every contact of this as-of date carries it (or a newer one): what is older left
# the population (converted, deleted).
REMOVE_INACTIVE = "delete from ml.lead_scores where as_of_date < %(as_of)s"


def score_contacts(
    url: str,
    settings: MLSettings,
    bundle: ScoringBundle,
    version: str,
    now: date | None = None,
    as_of: date | None = None,
) -> ScoringResult:
    """Score the population of one as-of date with `bundle` (registered as `version`)."""
    started = time.perf_counter()
    as_of = as_of or scoring_as_of(url, now)
    if as_of is None:
        raise NothingToScore(
            f"marts.lead_features has no row at or before {now}: build the marts before scoring"
        )
    scored_at = datetime.now(UTC)
    result = ScoringResult(as_of_date=as_of, model_version=version)
    writer = ReasonWriter(bundle.encoder)
    drift = DriftAccumulator(bundle.drift, bundle.features)
    timer = _Timer()
    counters: dict[str, int] = {}
    params = {"as_of": as_of, "version": version, "scored_at": scored_at}
    pool = ComputePool(bundle, threads_for(settings.chunk_rows))
    with connect(url) as conn, conn.cursor() as cur:
        # one scoring run at a time: what a run reads of ml.lead_scores stays true until it commits
        cur.execute("select pg_advisory_xact_lock(%s)", (SCORING_LOCK,))
        cur.execute(STAGE_DDL)
        scored_before = cur.execute(
            "select exists (select 1 from ml.scoring_runs where as_of_date = %s and model_version = %s)",
            (as_of, version),
        ).fetchone()[0]
        sink = ChunkSink(as_of, version, scored_at, direct=not scored_before)
        stage = _StageWriter(cur, timer, sink)
        try:
            t = time.perf_counter()
            for chunk in prefetch(stream_scoring_rows(url, as_of, settings.chunk_rows)):
                timer.add("read_wait", t)
                table, counts = score_chunk(chunk, bundle, version, as_of, writer, drift, timer, pool)
                t = time.perf_counter()
                if table.num_rows:
                    stage.put(table)
                t = timer.add("stage_wait", t)
                for key, value in counts.items():
                    counters[key] = counters.get(key, 0) + value
        except BaseException:
            stage.abandon()
            raise
        finally:
            pool.close()
        t = time.perf_counter()
        stage.finish()
        t = timer.add("stage_wait", t)
        merge_started = t
        duplicates = cur.execute(
            "select contact_id, count(*) from score_stage group by 1 having count(*) > 1 limit 5"
        ).fetchall()
        if duplicates:
            raise several_rows(as_of, "e.g. " + ", ".join(f"{c} x{n}" for c, n in duplicates))
        cur.execute("analyze score_stage")  # a temporary table has no statistics otherwise
        t = timer.add("merge.check", t)
        cur.execute(MERGE_REASONED, params)
        t = timer.add("merge.reasoned", t)
        cur.execute(MERGE_KEPT_REASONS, params)
        t = timer.add("merge.kept_reasons", t)
        cur.execute(APPEND_HISTORY, params)
        result.history_rows = cur.rowcount + sink.direct_rows
        t = timer.add("merge.history", t)
        cur.execute(REMOVE_INACTIVE, params)
        result.rows_removed = cur.rowcount
        t = timer.add("merge.remove", t)
        psi = drift.results()
        write_monitoring(conn, as_of, version, psi, settings.psi_alert)
        t = timer.add("merge.monitoring", t)
        timer.add("merge", merge_started)
        result.rows_scored = counters.get("scored", 0)
        result.rows_predicted = counters.get("predicted", 0)
        result.rows_written = counters.get("written", 0)
        result.rows_reasoned = counters.get("reasoned", 0)
        result.grades = {g: counters.get(f"grade_{g}", 0) for g in "ABCD"}
        values = {k: v["psi"] for k, v in psi.items() if v["psi"] == v["psi"]}
        result.max_psi = max(values.values(), default=0.0)
        result.drifted = sorted(
            ("score" if k == SCORE_SUBJECT else k) for k, v in values.items() if v > settings.psi_alert
        )
        result.seconds = time.perf_counter() - started
        result.timings = {k: round(v, 3) for k, v in timer.totals.items()}
        result.additive = pool.additive
        cur.execute(
            "insert into ml.scoring_runs (as_of_date, model_name, model_version, started_at, finished_at, "
            "rows_scored, rows_written, rows_reasoned, rows_removed, history_rows, details) "
            "values (%s, %s, %s, %s, now(), %s, %s, %s, %s, %s, %s)",
            (
                as_of,
                settings.model_name,
                version,
                scored_at,
                result.rows_scored,
                result.rows_written,
                result.rows_reasoned,
                result.rows_removed,
                result.history_rows,
                json.dumps(
                    {
                        "rows_predicted": result.rows_predicted,
                        "additive": result.additive,
                        "timings": result.timings,
                        "grades": result.grades,
                        "max_psi": result.max_psi,
                    }
                ),
            ),
        )
        conn.commit()
    if result.rows_scored == 0:
        log.warning("no contact at %s to score", as_of)
    log.info(
        "scored %d contacts at %s with v%s: %d predicted, %d written, %d with new reasons, %d removed, %d history rows, "
        "%.1fs (%s)",
        result.rows_scored,
        as_of,
        version,
        result.rows_predicted,
        result.rows_written,
        result.rows_reasoned,
        result.rows_removed,
        result.history_rows,
        result.seconds,
        ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()),
    )
    return result
