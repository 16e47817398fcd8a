"""LinkedIn "Get a copy of your data" archives -> typed rows of the raw_linkedin tables (pure).

An archive is a zip file or a folder holding some of Connections.csv, Invitations.csv,
messages.csv, Profile.csv, Positions.csv and Shares.csv (matched by name, any case, at any depth).
Each file may start with a `Notes:` preamble of any length, a UTF-8 BOM and CRLF line ends; columns
are matched by header name, so extra columns (kept in `extra`) and missing optional ones are fine.

* A file that cannot be read (not UTF-8, broken quoting, no header, a required column missing)
  raises ExportError naming the archive, the file, the line and the reason.
* A row that cannot be read (wrong number of fields, a date in no known format, a NUL byte, nothing
  identifying a connection) becomes a `Rejected` for quarantine; it is never half-loaded.
* Every row gets a stable `row_key`: sha256 of the exporting member, the table and the row's
  natural key, plus `#n` for the n-th identical row of a file. The same export read twice, or two
  overlapping exports, give the same keys.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from growthlab.sources.linkedin_dates import as_date, as_datetime
from growthlab.sources.quarantine import Rejected

log = logging.getLogger(__name__)

csv.field_size_limit(16 * 1024 * 1024)


class ExportError(ValueError):
    """An export file cannot be read at all. Names the archive, file, line and reason."""

    def __init__(self, archive: str, file: str | None, line: int | None, reason: str) -> None:
        self.archive, self.file, self.line, self.reason = archive, file, line, reason
        where = archive + (f"/{file}" if file else "") + (f", line {line}" if line else "")
        super().__init__(f"{where}: {reason}")


class RowError(ValueError):
    def __init__(self, rule: str, reason: str) -> None:
        self.rule = rule
        super().__init__(reason)


# -- normalisation (pure) -----------------------------------------------------------------------


def clean(value: str | None) -> str | None:
    """Trim, unify line ends; empty -> None."""
    if value is None:
        return None
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return value or None


def normalise_profile_url(value: str | None) -> str | None:
    """https://www.linkedin.com/in/<slug> for member URLs (any case, trailing slash, query); others
    trimmed as given."""
    value = clean(value)
    if value is None:
        return None
    parts = urlsplit(value if "://" in value else "https://" + value)
    host = (parts.hostname or "").lower()
    if host.endswith("linkedin.com"):
        path = parts.path.rstrip("/")
        match = re.match(r"^/(in|pub)/([^/]+)", path, re.I)
        if match:
            return f"https://www.linkedin.com/{match.group(1).lower()}/{match.group(2).lower()}"
        return f"https://www.linkedin.com{path}"
    return value


def normalise_email(value: str | None) -> str | None:
    value = clean(value)
    return value.lower() if value else None


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def undo_line_quoting(text: str | None) -> str | None:
    """LinkedIn wraps each line of a multi-line share in quotes (`a."\\n"\\n"b`); undo it."""
    if text is None or not re.search(r'"\n|\n"', text):
        return text
    return re.sub(r'"?\n"?', "\n", text)


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("yes", "true", "1", "y"):
        return True
    if v in ("no", "false", "0", "n"):
        return False
    raise RowError("parse.boolean", f"{value!r} is not yes/no")


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return as_date(value)
    except ValueError as exc:
        raise RowError("parse.date", str(exc)) from None


def _datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return as_datetime(value)
    except ValueError as exc:
        raise RowError("parse.date", str(exc)) from None


def _urls(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [u for u in (normalise_profile_url(p) for p in re.split(r"[\s,;]+", value)) if u]


# -- the files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    header: str  # as in the export, matched case-insensitively
    column: str  # raw_linkedin column
    convert: Callable[[str | None], Any] = clean


@dataclass(frozen=True)
class FileSpec:
    filename: str
    table: str
    fields: tuple[Field, ...]
    required: frozenset[str]  # headers that must be present (lower case)
    natural_key: Callable[[dict[str, Any]], tuple]

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields]


def _digest(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()[:16]


FILES: dict[str, FileSpec] = {
    spec.filename.lower(): spec
    for spec in (
        FileSpec(
            "Profile.csv",
            "profiles",
            (
                Field("First Name", "first_name"),
                Field("Last Name", "last_name"),
                Field("Maiden Name", "maiden_name"),
                Field("Address", "address"),
                Field("Birth Date", "birth_date"),
                Field("Headline", "headline"),
                Field("Summary", "summary"),
                Field("Industry", "industry"),
                Field("Zip Code", "zip_code"),
                Field("Geo Location", "geo_location"),
                Field("Twitter Handles", "twitter_handles"),
                Field("Websites", "websites"),
                Field("Instant Messengers", "instant_messengers"),
            ),
            frozenset({"first name", "last name"}),
            lambda r: (),
        ),
        FileSpec(
            "Connections.csv",
            "connections",
            (
                Field("First Name", "first_name"),
                Field("Last Name", "last_name"),
                Field("URL", "profile_url", normalise_profile_url),
                Field("Email Address", "email", normalise_email),
                Field("Company", "company"),
                Field("Position", "position"),
                Field("Connected On", "connected_on", _date),
            ),
            frozenset({"first name", "last name", "connected on"}),
            lambda r: (
                (r["profile_url"],)
                if r["profile_url"]
                else (r["email"], r["first_name"], r["last_name"], r["company"], r["connected_on"])
            ),
        ),
        FileSpec(
            "Invitations.csv",
            "invitations",
            (
                Field("From", "from_name"),
                Field("To", "to_name"),
                Field("Sent At", "sent_at", _datetime),
                Field("Message", "message"),
                Field("Direction", "direction", lambda v: (clean(v) or "").upper() or None),
                Field("inviterProfileUrl", "inviter_profile_url", normalise_profile_url),
                Field("inviteeProfileUrl", "invitee_profile_url", normalise_profile_url),
            ),
            frozenset({"from", "to", "sent at", "direction"}),
            lambda r: (
                r["direction"],
                r["sent_at"],
                r["inviter_profile_url"] or r["from_name"],
                r["invitee_profile_url"] or r["to_name"],
            ),
        ),
        FileSpec(
            "messages.csv",
            "messages",
            (
                Field("CONVERSATION ID", "conversation_id"),
                Field("CONVERSATION TITLE", "conversation_title"),
                Field("FROM", "from_name"),
                Field("SENDER PROFILE URL", "sender_profile_url", normalise_profile_url),
                Field("TO", "to_names"),
                Field("RECIPIENT PROFILE URLS", "recipient_profile_urls", _urls),
                Field("DATE", "sent_at", _datetime),
                Field("SUBJECT", "subject"),
                Field("CONTENT", "content"),
                Field("FOLDER", "folder"),
                Field("IS MESSAGE DRAFT", "is_draft", _bool),
                Field("ATTACHMENTS", "attachments"),
            ),
            frozenset({"conversation id", "from", "date", "content"}),
            lambda r: (
                r["conversation_id"],
                r["sent_at"],
                r["sender_profile_url"] or r["from_name"],
                _digest(r["content"]),
            ),
        ),
        FileSpec(
            "Positions.csv",
            "positions",
            (
                Field("Company Name", "company_name"),
                Field("Title", "title"),
                Field("Description", "description"),
                Field("Location", "location"),
                Field("Started On", "started_on", _date),
                Field("Finished On", "finished_on", _date),
            ),
            frozenset({"company name", "title", "started on"}),
            lambda r: (r["company_name"], r["title"], r["started_on"]),
        ),
        FileSpec(
            "Shares.csv",
            "shares",
            (
                Field("Date", "shared_at", _datetime),
                Field("ShareLink", "share_link"),
                Field("ShareCommentary", "share_commentary", lambda v: undo_line_quoting(clean(v))),
                Field("SharedUrl", "shared_url"),
                Field("MediaUrl", "media_url"),
                Field("Visibility", "visibility"),
            ),
            frozenset({"date", "sharelink"}),
            lambda r: (
                (r["share_link"],) if r["share_link"] else (r["shared_at"], _digest(r["share_commentary"]))
            ),
        ),
    )
}

TABLE_ORDER = ("profiles", "connections", "invitations", "messages", "positions", "shares")
META_COLUMNS = ("extra", "_source_file", "_source_line", "_export_id", "_exported_at")


def table_columns(table: str) -> list[str]:
    """Column order of the rows `parse_archive` produces for a table (before _synced_at/_batch_id)."""
    spec = next(s for s in FILES.values() if s.table == table)
    return ["row_key", "export_owner", *spec.columns, *META_COLUMNS]


# -- reading ------------------------------------------------------------------------------------


@dataclass
class ParsedFile:
    spec: FileSpec
    name: str  # path inside the archive
    rows: list[dict[str, Any]] = field(default_factory=list)  # with _line, extra
    rejects: list[Rejected] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)


def decode(data: bytes, archive: str, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ExportError(archive, name, line, f"not UTF-8 text (byte {exc.start}): {exc.reason}") from None
    return text


def _records(text: str, archive: str, name: str):
    """(line number, fields) of every CSV record; broken quoting is an ExportError."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ExportError(archive, name, reader.line_num, f"unreadable CSV: {exc}") from None
        yield start, record
        start = reader.line_num + 1


def parse_file(spec: FileSpec, text: str, archive: str, name: str) -> ParsedFile:
    """Rows of one export file. Raises ExportError if the file as a whole cannot be read."""
    parsed = ParsedFile(spec, name)
    header: list[str] | None = None
    original: list[str] = []
    index: dict[str, int] = {}
    for line, record in _records(text, archive, name):
        if header is None:
            names = [c.replace("\ufeff", "").strip().lower() for c in record]
            if spec.required <= set(names):
                header, original = names, [c.replace("\ufeff", "").strip() for c in record]
                for i, h in enumerate(names):
                    index.setdefault(h, i)
                known = {f.header.lower() for f in spec.fields}
                parsed.unknown_columns = [original[i] for i, h in enumerate(names) if h not in known]
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line is not a record
        parsed_row = _parse_row(spec, original, index, record, parsed.unknown_columns)
        ref = f"{archive}/{name}:{line}"
        if isinstance(parsed_row, Rejected):
            parsed.rejects.append(
                Rejected(
                    parsed_row.rule, f"{ref}: {parsed_row.reason}", ref, {"line": line, "fields": record}
                )
            )
            continue
        parsed_row["_line"] = line
        parsed.rows.append(parsed_row)
    if header is None:
        missing = ", ".join(sorted(spec.required))
        raise ExportError(
            archive, name, None, f"no header line with the columns {missing}: not a LinkedIn {spec.filename}"
        )
    if parsed.unknown_columns:
        log.info("%s/%s: extra columns kept in `extra`: %s", archive, name, ", ".join(parsed.unknown_columns))
    return parsed


def _parse_row(
    spec: FileSpec, header: list[str], index: dict[str, int], record: list[str], unknown: list[str]
) -> dict[str, Any] | Rejected:
    if len(record) != len(header):
        return Rejected(
            "parse.field_count", f"{len(record)} fields where the header has {len(header)}", "", record
        )
    if any("\x00" in value for value in record):
        return Rejected("encoding.nul", "a field holds a NUL byte", "", record)
    if not any(value.strip() for value in record):
        return Rejected("row.empty", "every field is empty", "", record)
    row: dict[str, Any] = {}
    for f in spec.fields:
        i = index.get(f.header.lower())
        try:
            row[f.column] = f.convert(clean(record[i])) if i is not None else None
        except RowError as exc:
            return Rejected(exc.rule, f"{f.header}: {exc}", "", record)
    wanted = set(unknown)
    row["extra"] = {h: record[i] for i, h in enumerate(header) if h in wanted}
    if spec.table == "connections" and not (
        row["profile_url"] or row["email"] or row["first_name"] or row["last_name"]
    ):
        return Rejected(
            "connection.no_identity",
            "no name, URL or email (a member who hides their profile): nothing to link",
            "",
            record,
        )
    return row


# -- archives -----------------------------------------------------------------------------------


@dataclass
class ParsedExport:
    export_id: str
    archive_name: str
    owner: str
    owner_name: str
    exported_at: datetime | None
    files: dict[str, ParsedFile]

    def rows(self, table: str) -> list[tuple]:
        """Rows of `table` in the order of table_columns(table), with stable row keys."""
        out = []
        for parsed in self.files.values():
            if parsed.spec.table != table:
                continue
            seen: Counter[str] = Counter()
            for r in parsed.rows:
                base = hashlib.sha256(
                    repr((self.owner, table, parsed.spec.natural_key(r))).encode()
                ).hexdigest()[:40]
                seen[base] += 1
                key = base if seen[base] == 1 else f"{base}#{seen[base]}"
                out.append(
                    (
                        key,
                        self.owner,
                        *(r[c] for c in parsed.spec.columns),
                        r["extra"],
                        parsed.name,
                        r["_line"],
                        self.export_id,
                        self.exported_at,
                    )
                )
        return out

    def rejects(self, table: str) -> list[Rejected]:
        return [rej for p in self.files.values() if p.spec.table == table for rej in p.rejects]

    def summary(self) -> dict[str, dict[str, int]]:
        return {
            p.spec.filename: {"rows": len(p.rows), "rejected": len(p.rejects)} for p in self.files.values()
        }


def read_archive(path: Path) -> tuple[dict[str, bytes], datetime | None]:
    """{name inside the archive: bytes} of the recognised export files, and the export time."""
    files: dict[str, bytes] = {}
    stamps: list[datetime] = []
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.name.lower() in FILES:
                files[str(p.relative_to(path))] = p.read_bytes()
                stamps.append(datetime.fromtimestamp(p.stat().st_mtime, UTC))
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir() and Path(info.filename).name.lower() in FILES:
                        files[info.filename] = zf.read(info)
                        stamps.append(datetime(*info.date_time, tzinfo=UTC))
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ExportError(path.name, None, None, f"not a readable zip archive: {exc}") from None
    return files, (max(stamps) if stamps else None)


def export_id(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files, key=lambda n: Path(n).name.lower()):
        h.update(Path(name).name.lower().encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def parse_archive(path: Path) -> ParsedExport:
    """Read and parse one archive. Raises ExportError for anything that makes it unreadable."""
    archive = path.name
    files, exported_at = read_archive(path)
    if not files:
        raise ExportError(
            archive, None, None, f"no LinkedIn export files in it (expected some of {', '.join(FILES)})"
        )
    by_name = {Path(n).name.lower(): n for n in files}
    if "profile.csv" not in by_name:
        raise ExportError(archive, None, None, "Profile.csv is missing: cannot tell whose export this is")
    parsed: dict[str, ParsedFile] = {}
    for lower, name in sorted(by_name.items()):
        spec = FILES[lower]
        parsed[lower] = parse_file(spec, decode(files[name], archive, name), archive, name)
    profile = parsed["profile.csv"]
    if len(profile.rows) != 1:
        raise ExportError(
            archive,
            by_name["profile.csv"],
            None,
            f"expected one member in Profile.csv, found {len(profile.rows)}",
        )
    me = profile.rows[0]
    owner_name = " ".join(p for p in (me["first_name"], me["last_name"]) if p)
    owner = slug(owner_name)
    if not owner:
        raise ExportError(archive, by_name["profile.csv"], me["_line"], "the member has no name")
    return ParsedExport(export_id(files), archive, owner, owner_name, exported_at, parsed)
