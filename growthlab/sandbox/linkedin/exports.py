"""LinkedIn "Get a copy of your data" archives, one per sales rep, dropped into the inbox.

Each archive (a zip, or a folder for some reps) holds Profile.csv, Connections.csv (with its
three-line `Notes:` preamble), Invitations.csv, messages.csv, Positions.csv and Shares.csv in the
layout of ../shared/reference/linkedin_export, including its quirks: each file's own date format,
CRLF line endings and a UTF-8 BOM for some reps, extra columns in messages.csv for some, a
shortened notes text for some, deactivated members with only a date, profile URLs with and
without a trailing slash, multi-line share texts quoted line by line.

An export is a snapshot of the rep's account as of a simulated moment: only what happened
before it is in it. Reps download one a week (each on their own weekday); `up` drops a first one.
Files are written under a dot-name and renamed, so a reader never sees a half-written archive;
file times (zip entries, folder mtimes) are the export's simulated time.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from growthlab.sandbox import store

log = logging.getLogger(__name__)

NOTES = (
    '"When exporting your connection data, you may notice that some of the email addresses are missing. '
    "You will only see email addresses for connections who have allowed their connections to see or download "
    "their email address using this setting https://www.linkedin.com/psettings/privacy/email. You can learn more "
    'here https://www.linkedin.com/help/linkedin/answer/261"'
)
NOTES_SHORT = (
    '"When exporting your connection data, you may notice that some of the email addresses are missing. '
    'You will only see email addresses for connections who have allowed it."'
)
CONNECTIONS_HEADER = [
    "First Name",
    "Last Name",
    "URL",
    "Email Address",
    "Company",
    "Position",
    "Connected On",
]
INVITATIONS_HEADER = [
    "From",
    "To",
    "Sent At",
    "Message",
    "Direction",
    "inviterProfileUrl",
    "inviteeProfileUrl",
]
MESSAGES_HEADER = [
    "CONVERSATION ID",
    "CONVERSATION TITLE",
    "FROM",
    "SENDER PROFILE URL",
    "TO",
    "RECIPIENT PROFILE URLS",
    "DATE",
    "SUBJECT",
    "CONTENT",
    "FOLDER",
]
PROFILE_HEADER = [
    "First Name",
    "Last Name",
    "Maiden Name",
    "Address",
    "Birth Date",
    "Headline",
    "Summary",
    "Industry",
    "Zip Code",
    "Geo Location",
    "Twitter Handles",
    "Websites",
    "Instant Messengers",
]
POSITIONS_HEADER = ["Company Name", "Title", "Description", "Location", "Started On", "Finished On"]
SHARES_HEADER = ["Date", "ShareLink", "ShareCommentary", "SharedUrl", "MediaUrl", "Visibility"]
GEO = {
    "America/New_York": "New York, United States",
    "America/Chicago": "Chicago, United States",
    "America/Los_Angeles": "San Francisco Bay Area",
    "Europe/Berlin": "Berlin, Germany",
    "Europe/London": "London, United Kingdom",
    "Europe/Amsterdam": "Amsterdam, Netherlands",
    "Australia/Sydney": "Sydney, Australia",
    "America/Sao_Paulo": "Sao Paulo, Brazil",
}


@dataclass(frozen=True)
class Owner:
    owner_id: int
    first_name: str
    last_name: str
    email: str
    timezone: str
    slug: str
    zip: bool
    crlf: bool
    bom: bool
    extra_columns: bool
    weekday: int

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def url(self) -> str:
        return f"https://www.linkedin.com/in/{self.slug}"

    @property
    def file_slug(self) -> str:
        return f"{self.first_name}-{self.last_name}".lower()


def load_owners(conn: psycopg.Connection) -> list[Owner]:
    rows = conn.execute(
        """select o.id, o.first_name, o.last_name, o.email, w.timezone, w.linkedin_slug, w.export_zip, w.export_crlf,
                  w.export_bom, w.export_extra_cols, w.export_weekday
           from hubspot.owners o join world.owners w on w.owner_id = o.id order by o.id"""
    ).fetchall()
    return [Owner(*r) for r in rows]


def _date_connected(ts: datetime) -> str:
    return ts.strftime("%d %b %Y")


def _date_invitation(ts: datetime) -> str:
    hour = ts.hour % 12 or 12
    return f"{ts.month}/{ts.day}/{ts.strftime('%y')}, {hour}:{ts.minute:02d} {'AM' if ts.hour < 12 else 'PM'}"


def _date_message(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def _csv(rows: list[list], header: list[str], owner: Owner, preamble: str = "") -> bytes:
    buf = io.StringIO()
    newline = "\r\n" if owner.crlf else "\n"
    if preamble:
        buf.write(preamble.replace("\n", newline))
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if owner.bom else data


def export_files(conn: psycopg.Connection, owner: Owner, as_of: datetime) -> dict[str, bytes]:
    """The CSV files of `owner`'s export as of `as_of`."""
    files: dict[str, bytes] = {}
    files["Profile.csv"] = _csv(
        [
            [
                owner.first_name,
                owner.last_name,
                "",
                "",
                "",
                "Account Executive at growthlab energy | Decarbonisation software for clean-tech",
                "I help clean-tech companies measure and cut their emissions, and save energy costs on the way.",
                "Renewables & Environment",
                "",
                GEO.get(owner.timezone, owner.timezone),
                "",
                "",
                "",
            ]
        ],
        PROFILE_HEADER,
        owner,
    )
    files["Positions.csv"] = _csv(
        [
            [
                "growthlab energy",
                "Account Executive",
                "New business in clean-tech.",
                GEO.get(owner.timezone, ""),
                "Mar 2023",
                "",
            ],
            [
                "Northwind Solar",
                "Sales Development Representative",
                "",
                GEO.get(owner.timezone, ""),
                "Jun 2020",
                "Feb 2023",
            ],
        ],
        POSITIONS_HEADER,
        owner,
    )
    rows = conn.execute(
        """select first_name, last_name, profile_url, email, company, position, connected_at, contact_id
           from linkedin.connections where owner_id = %s and connected_at <= %s
           order by connected_at desc, profile_url""",
        (owner.owner_id, as_of),
    ).fetchall()
    connections = []
    for first, last, url, email, company, position, connected, contact_id in rows:
        if url.startswith("urn:deactivated:"):
            connections.append(["", "", "", "", "", "", _date_connected(connected)])
            continue
        if contact_id is not None and contact_id % 5 == 0:
            url = url + "/"
        connections.append(
            [first, last, url, email or "", company or "", position or "", _date_connected(connected)]
        )
    notes = NOTES_SHORT if owner.owner_id % 3 == 2 else NOTES
    files["Connections.csv"] = _csv(connections, CONNECTIONS_HEADER, owner, preamble=f"Notes:\n{notes}\n\n")
    rows = conn.execute(
        """select c.firstname, c.lastname, i.sent_at, i.message, i.profile_url
           from linkedin.invitations i left join hubspot.contacts c on c.id = i.contact_id
           where i.owner_id = %s and i.sent_at is not null and i.sent_at <= %s and i.sent_at > %s
           order by i.sent_at desc, i.id""",
        (owner.owner_id, as_of, as_of - timedelta(days=183)),
    ).fetchall()
    files["Invitations.csv"] = _csv(
        [
            [
                owner.name,
                f"{first or ''} {last or ''}".strip(),
                _date_invitation(sent),
                message or "",
                "OUTGOING",
                owner.url,
                url,
            ]
            for first, last, sent, message, url in rows
        ],
        INVITATIONS_HEADER,
        owner,
    )
    rows = conn.execute(
        """select m.conversation_id, m.direction, c.firstname, c.lastname, m.profile_url, m.sent_at, m.content
           from linkedin.messages m left join hubspot.contacts c on c.id = m.contact_id
           where m.owner_id = %s and m.sent_at is not null and m.sent_at <= %s
           order by m.sent_at desc, m.id""",
        (owner.owner_id, as_of),
    ).fetchall()
    header = list(MESSAGES_HEADER)
    if owner.extra_columns:
        header += ["ATTACHMENTS", "IS MESSAGE DRAFT"]
    messages = []
    for conversation, direction, first, last, url, sent, text in rows:
        them = f"{first or ''} {last or ''}".strip()
        if direction == "out":
            row = [conversation, "", owner.name, owner.url, them, url, _date_message(sent), "", text, "INBOX"]
        else:
            row = [conversation, "", them, url, owner.name, owner.url, _date_message(sent), "", text, "INBOX"]
        if owner.extra_columns:
            row += ["", "No"]
        messages.append(row)
    files["messages.csv"] = _csv(messages, header, owner)
    rows = conn.execute(
        """select posted_at, share_urn, commentary, shared_url, media_url, visibility from linkedin.shares
           where owner_id = %s and posted_at <= %s order by posted_at desc, id""",
        (owner.owner_id, as_of),
    ).fetchall()
    files["Shares.csv"] = _csv(
        [
            [
                posted.strftime("%Y-%m-%d %H:%M:%S"),
                "https://www.linkedin.com/feed/update/" + urn.replace(":", "%3A"),
                '"\n"'.join((commentary or "").split("\n")),
                shared_url or "",
                media_url or "",
                visibility,
            ]
            for posted, urn, commentary, shared_url, media_url, visibility in rows
        ],
        SHARES_HEADER,
        owner,
    )
    return files


def archive_name(owner: Owner, as_of: datetime) -> str:
    return f"Complete_LinkedInDataExport_{as_of:%m-%d-%Y}_{owner.file_slug}"


def write_archive(inbox: Path, owner: Owner, as_of: datetime, files: dict[str, bytes]) -> Path:
    """Write one archive atomically (a dot-name first, then a rename) with the export's file times."""
    inbox.mkdir(parents=True, exist_ok=True)
    name = archive_name(owner, as_of)
    stamp = as_of.astimezone(UTC)
    if owner.zip:
        final = inbox / f"{name}.zip"
        tmp = inbox / f".{name}.zip.tmp"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for filename, data in files.items():
                info = zipfile.ZipInfo(filename, date_time=stamp.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
    else:
        final = inbox / name
        tmp = inbox / f".{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        for filename, data in files.items():
            path = tmp / filename
            path.write_bytes(data)
            os.utime(path, (stamp.timestamp(), stamp.timestamp()))
    if final.exists():
        if final.is_dir():
            shutil.rmtree(final)
        else:
            final.unlink()
    os.replace(tmp, final)
    return final


def _export(conn: psycopg.Connection, owner: Owner, as_of: datetime, inbox: Path) -> Path:
    path = write_archive(inbox, owner, as_of, export_files(conn, owner, as_of))
    conn.execute(
        "insert into linkedin.exports (owner_id, exported_at, path) values (%s, %s, %s)",
        (owner.owner_id, as_of, str(path)),
    )
    return path


def write_due_exports(database_url: str, inbox: Path) -> list[Path]:
    """Exports each rep downloaded since their last one (weekly, on their weekday), up to the clock.

    A rep without any export yet gets one as of the evening before the clock.
    """
    written = []
    with store.open_db(database_url, autocommit=True) as conn:
        clock = store.clock_now(conn)
        last = dict(
            conn.execute(
                "select owner_id, max(exported_at) from linkedin.exports group by owner_id"
            ).fetchall()
        )
        for owner in load_owners(conn):
            previous = last.get(owner.owner_id)
            if previous is None:
                written.append(_export(conn, owner, clock - timedelta(hours=6), inbox))
                continue
            day = previous.date() + timedelta(days=1)
            while day < clock.date():
                if day.weekday() == owner.weekday:
                    as_of = datetime(day.year, day.month, day.day, 18, 0, tzinfo=UTC)
                    written.append(_export(conn, owner, as_of, inbox))
                day += timedelta(days=1)
    if written:
        log.info("LinkedIn exports written to %s: %s", inbox, ", ".join(p.name for p in written))
    return written


def write_initial_exports(database_url: str, inbox: Path) -> list[Path]:
    """The first export of every rep that has none (what `up` drops into the inbox)."""
    return write_due_exports(database_url, inbox)


def latest_export_times(conn: psycopg.Connection) -> dict[int, datetime]:
    return dict(
        conn.execute("select owner_id, max(exported_at) from linkedin.exports group by owner_id").fetchall()
    )
