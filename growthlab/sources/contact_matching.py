"""Link LinkedIn connections to HubSpot contacts: email first, then normalised name + company.

Matching is a pure function over two small lists (`match`); `refresh_matches` reads them from the
warehouse and applies only the differences to raw_linkedin.contact_matches, so running it twice
changes nothing. A name + company pair that fits several contacts is ambiguous and left unmatched.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg

log = logging.getLogger(__name__)

EMAIL_CONFIDENCE = 1.0
NAME_COMPANY_CONFIDENCE = 0.8

LEGAL_SUFFIXES = {
    "ab", "ag", "as", "asa", "bv", "co", "company", "corp", "corporation", "gmbh", "inc", "incorporated",
    "kg", "limited", "llc", "llp", "lp", "ltd", "nv", "oy", "plc", "pty", "sa", "sarl", "sas", "se",
    "spa", "srl", "the", "group", "holding", "holdings",
}  # fmt: skip


def fold(text: str | None) -> str:
    """Lower case, accents removed, only letters and digits separated by single spaces."""
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))


def normalise_name(first: str | None, last: str | None) -> str:
    return fold(f"{first or ''} {last or ''}")


def normalise_company(name: str | None) -> str:
    words = [w for w in fold(name).split() if w not in LEGAL_SUFFIXES]
    return " ".join(words)


@dataclass(frozen=True)
class Connection:
    row_key: str
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None


@dataclass(frozen=True)
class Contact:
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None


@dataclass(frozen=True)
class Match:
    connection_row_key: str
    contact_id: str
    match_method: str  # email | name_company
    confidence: float


def match(connections: Iterable[Connection], contacts: Iterable[Contact]) -> list[Match]:
    by_email: dict[str, set[str]] = defaultdict(set)
    by_name_company: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in contacts:
        if c.email:
            by_email[c.email.strip().lower()].add(c.id)
        name, company = normalise_name(c.first_name, c.last_name), normalise_company(c.company)
        if name and company:
            by_name_company[(name, company)].add(c.id)
    out = []
    ambiguous = 0
    for conn in connections:
        if conn.email and len(ids := by_email.get(conn.email.strip().lower(), set())) == 1:
            out.append(Match(conn.row_key, next(iter(ids)), "email", EMAIL_CONFIDENCE))
            continue
        key = (normalise_name(conn.first_name, conn.last_name), normalise_company(conn.company))
        if key[0] and key[1]:
            ids = by_name_company.get(key, set())
            if len(ids) == 1:
                out.append(Match(conn.row_key, next(iter(ids)), "name_company", NAME_COMPANY_CONFIDENCE))
            elif len(ids) > 1:
                ambiguous += 1
    if ambiguous:
        log.info("%d connections match several contacts by name and company; left unmatched", ambiguous)
    return out


@dataclass
class MatchChanges:
    added: int = 0
    changed: int = 0
    removed: int = 0
    total: int = 0


def refresh_matches(conn: psycopg.Connection, *, as_of: datetime, batch_id: str) -> MatchChanges:
    """Recompute every connection's match and write only the differences (caller commits)."""
    connections = [
        Connection(*r)
        for r in conn.execute(
            "select row_key, email, first_name, last_name, company from raw_linkedin.connections"
        )
    ]
    contacts = [
        Contact(*r)
        for r in conn.execute(
            """select id, properties->>'email', properties->>'firstname', properties->>'lastname',
                      properties->>'company'
               from raw_hubspot.contacts where not archived"""
        )
    ]
    wanted = {m.connection_row_key: m for m in match(connections, contacts)}
    have = {
        r[0]: Match(r[0], r[1], r[2], float(r[3]))
        for r in conn.execute(
            "select connection_row_key, contact_id, match_method, confidence from raw_linkedin.contact_matches"
        )
    }
    changes = MatchChanges(total=len(wanted))
    upserts = []
    for key, m in wanted.items():
        old = have.get(key)
        if old == m:
            continue
        changes.added += old is None
        changes.changed += old is not None
        upserts.append((key, m.contact_id, m.match_method, m.confidence, as_of, batch_id))
    gone = [k for k in have if k not in wanted]
    changes.removed = len(gone)
    with conn.cursor() as cur:
        if upserts:
            cur.executemany(
                """insert into raw_linkedin.contact_matches
                       (connection_row_key, contact_id, match_method, confidence, matched_at, _batch_id)
                   values (%s, %s, %s, %s, %s, %s)
                   on conflict (connection_row_key) do update set contact_id = excluded.contact_id,
                       match_method = excluded.match_method, confidence = excluded.confidence,
                       matched_at = excluded.matched_at, _batch_id = excluded._batch_id""",
                upserts,
            )
        if gone:
            cur.execute(
                "delete from raw_linkedin.contact_matches where connection_row_key = any(%s)", (gone,)
            )
    log.info(
        "contact matches: %d in all, %d new, %d changed, %d removed",
        changes.total,
        changes.added,
        changes.changed,
        changes.removed,
    )
    return changes
