"""The LinkedIn inbox -> raw_linkedin: archives parsed, landed, audited, published, matched.

Archives (zip files or folders) wait in the inbox (GROWTHLAB_LINKEDIN_INBOX, default
$GROWTHLAB_HOME/linkedin_inbox). Each is processed once: its content hash (`export_id`) is
recorded in raw_linkedin.exports and the archive moves to `processed/`. An archive that cannot be
read stays where it is and fails the run with its file, line and reason, after every other
archive has been processed, so one broken export never holds up the others.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from expectations.linkedin import suites
from expectations.runner import SystemicDataQualityError
from growthlab.config import Settings, get_settings
from growthlab.sources.batches import finish_batch, start_batch
from growthlab.sources.contact_matching import MatchChanges, refresh_matches
from growthlab.sources.landing import BatchLoad, Validator, raw_target
from growthlab.sources.linkedin_export import (
    FILES,
    TABLE_ORDER,
    ExportError,
    ParsedExport,
    parse_archive,
    table_columns,
)
from growthlab.warehouse.db import connect
from growthlab.warehouse.loader import Column, Target

log = logging.getLogger(__name__)

PROCESSED = "processed"

TYPES = {
    "connected_on": "date",
    "started_on": "date",
    "finished_on": "date",
    "sent_at": "timestamptz",
    "shared_at": "timestamptz",
    "recipient_profile_urls": "text[]",
    "is_draft": "boolean",
    "extra": "jsonb",
    "_source_line": "integer",
    "_exported_at": "timestamptz",
}
PROVENANCE = ("_source_file", "_source_line", "_export_id", "_exported_at")


class LinkedInIngestError(RuntimeError):
    """One or more archives could not be ingested; the message lists each with its reason."""


def inbox_dir(settings: Settings | None = None) -> Path:
    raw = os.environ.get("GROWTHLAB_LINKEDIN_INBOX", "").strip()
    settings = settings or get_settings()
    return Path(raw).expanduser().resolve() if raw else settings.home / "linkedin_inbox"


def target(table: str) -> Target:
    columns = [Column(c, TYPES.get(c, "text")) for c in table_columns(table)]
    compare = tuple(c.name for c in columns if c.name not in ("row_key", *PROVENANCE))
    # An older export never overwrites what a newer one said.
    guard = "t._exported_at is null or s._exported_at is null or s._exported_at >= t._exported_at"
    return raw_target(f"raw_linkedin.{table}", columns, ("row_key",), compare=compare, guard=guard)


def pending_archives(inbox: Path) -> list[Path]:
    """Zip files and folders waiting in the inbox, oldest first (by modification time, then name)."""
    if not inbox.is_dir():
        return []
    found = []
    for p in inbox.iterdir():
        if p.name.startswith(".") or p.name == PROCESSED:
            continue
        if (p.is_file() and p.suffix.lower() == ".zip") or (p.is_dir() and _has_export_files(p)):
            found.append(p)
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def _has_export_files(folder: Path) -> bool:
    return any(f.is_file() and f.name.lower() in FILES for f in folder.rglob("*"))


@dataclass
class InboxResult:
    processed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already ingested (same content)
    errors: list[str] = field(default_factory=list)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    matches: MatchChanges | None = None


def ingest_inbox(
    url: str,
    inbox: Path,
    *,
    as_of: datetime,
    run_id: str | None = None,
    move_processed: bool = True,
    validator: Validator | None = None,
    match: bool = True,
) -> InboxResult:
    """Ingest every pending archive, then (with `match`) refresh contact matches. Raises
    LinkedInIngestError at the end if any archive failed (the others are in)."""
    result = InboxResult()
    table_suites = suites(as_of)
    with connect(url) as conn:
        for path in pending_archives(inbox):
            try:
                parsed = parse_archive(path)
            except ExportError as exc:
                log.error("LinkedIn archive %s cannot be read: %s", path.name, exc)
                result.errors.append(str(exc))
                continue
            if _known(conn, parsed.export_id):
                log.info("%s: already ingested (export %s)", path.name, parsed.export_id[:12])
                result.skipped.append(path.name)
            else:
                try:
                    counts = _ingest_export(conn, url, parsed, table_suites, as_of, run_id, validator)
                except SystemicDataQualityError as exc:
                    result.errors.append(f"{path.name}: {exc}")
                    continue
                result.processed.append(path.name)
                for table, c in counts.items():
                    total = result.tables.setdefault(
                        table, {"rows_in": 0, "rows_loaded": 0, "rows_quarantined": 0}
                    )
                    for k in total:
                        total[k] += c[k]
            if move_processed:
                _move(path, inbox / PROCESSED, parsed.export_id)
    if match:
        result.matches = refresh_contact_matches(url, as_of=as_of, run_id=run_id)
    if result.errors:
        raise LinkedInIngestError(
            f"{len(result.errors)} LinkedIn archive(s) in {inbox} could not be ingested (the other "
            f"{len(result.processed)} were); fix or remove them:\n  " + "\n  ".join(result.errors)
        )
    return result


def _known(conn: psycopg.Connection, export_id: str) -> bool:
    row = conn.execute("select 1 from raw_linkedin.exports where export_id = %s", (export_id,)).fetchone()
    conn.commit()
    return row is not None


def _ingest_export(
    conn: psycopg.Connection,
    url: str,
    parsed: ParsedExport,
    table_suites: dict,
    as_of: datetime,
    run_id: str | None,
    validator: Validator | None,
) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    present = {p.spec.table for p in parsed.files.values()}
    last_batch = ""
    for table in TABLE_ORDER:
        if table not in present:
            continue
        batch = start_batch(conn, "linkedin", table, run_id=run_id, interval_end=as_of)
        batch.details = {"archive": parsed.archive_name, "export_id": parsed.export_id}
        with BatchLoad(conn, url, target(table), table_suites[table], batch, validator=validator) as load:
            load.land(parsed.rows(table))
            load.reject(parsed.rejects(table))
        load.publish()
        counts[table] = batch.counts.as_dict()
        last_batch = batch.batch_id
    totals = {k: sum(c[k] for c in counts.values()) for k in ("rows_in", "rows_loaded", "rows_quarantined")}
    conn.execute(
        """insert into raw_linkedin.exports (export_id, export_owner, archive_name, exported_at, files,
               rows_in, rows_loaded, rows_quarantined, _batch_id)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict (export_id) do nothing""",
        (
            parsed.export_id,
            parsed.owner,
            parsed.archive_name,
            parsed.exported_at,
            Jsonb({**parsed.summary(), "tables": counts}),
            totals["rows_in"],
            totals["rows_loaded"],
            totals["rows_quarantined"],
            last_batch,
        ),
    )
    conn.commit()
    log.info("%s: ingested export of %s: %s", parsed.archive_name, parsed.owner_name, totals)
    return counts


def _move(path: Path, folder: Path, export_id: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / path.name
        if dest.exists():
            dest = folder / f"{path.stem}.{export_id[:8]}{path.suffix}"
        if dest.exists():
            dest = folder / f"{path.stem}.{export_id[:8]}.{datetime.now(UTC):%Y%m%dT%H%M%S}{path.suffix}"
        shutil.move(str(path), str(dest))
    except OSError as exc:  # the content hash still prevents a second ingestion
        log.warning("could not move %s to %s: %s", path, folder, exc)


def refresh_contact_matches(url: str, *, as_of: datetime, run_id: str | None = None) -> MatchChanges:
    """Re-link every connection to HubSpot contacts (recorded as batch linkedin.contact_matches)."""
    with connect(url) as conn:
        batch = start_batch(conn, "linkedin", "contact_matches", run_id=run_id, interval_end=as_of)
        changes = refresh_matches(conn, as_of=as_of, batch_id=batch.batch_id)
        batch.counts.rows_in = changes.total
        batch.counts.rows_inserted = changes.added
        batch.counts.rows_updated = changes.changed
        batch.details = {"removed": changes.removed}
        finish_batch(conn, batch)
        conn.commit()
    return changes
