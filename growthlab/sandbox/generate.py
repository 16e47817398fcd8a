"""Generate a world into the sandbox database: population, a year of history, truth, server state.

Blocks of companies are drawn, simulated and written one after the other with COPY, so memory
stays bounded by a block (about an eighth of the world) whatever the size.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

from growthlab.sandbox import catalog, content, store
from growthlab.sandbox.history import blast_plan, nurture_campaign_id, simulate_block
from growthlab.sandbox.history_tables import write_block
from growthlab.sandbox.population import (
    Owners,
    company_blocks,
    make_companies,
    make_contacts,
    make_owners,
)
from growthlab.sandbox.rng import stream, token_hex
from growthlab.sandbox.sizes import WorldSize, parse_size
from growthlab.sandbox.timeutil import DAY, DEFAULT_TODAY, HISTORY_DAYS, epoch, to_datetime

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1


@dataclass(frozen=True)
class WorldSpec:
    seed: int
    size: WorldSize
    today: date

    @property
    def today_ts(self) -> float:
        return epoch(self.today)

    @property
    def history_start(self) -> float:
        return self.today_ts - HISTORY_DAYS * DAY

    def as_meta(self) -> dict:
        return {
            "seed": self.seed,
            "size": self.size.label,
            "contacts": self.size.contacts,
            "companies": self.size.companies,
            "owners": self.size.owners,
            "today": self.today.isoformat(),
            "history_start": to_datetime(self.history_start).date().isoformat(),
            "generator_version": GENERATOR_VERSION,
        }


def world_spec(seed: int, size: str | int, today: date | None = None) -> WorldSpec:
    return WorldSpec(seed=int(seed), size=parse_size(size), today=today or DEFAULT_TODAY)


def generate_world(url: str, spec: WorldSpec, progress: Callable[[str], None] | None = None) -> dict:
    """Replace whatever world the database holds with a new one. Returns counts and timings."""
    say = progress or (lambda message: log.info("%s", message))
    started = time.monotonic()
    counts: dict[str, int] = {}
    with store.open_db(url) as conn:
        with conn.transaction():
            store.reset_world(conn)
            store.ensure_schema(conn)
        owners = make_owners(spec.seed, spec.size)
        companies = make_companies(spec.seed, spec.size, owners)
        blasts = blast_plan(spec.seed, spec.history_start)
        with conn.transaction():
            _write_owners(conn, spec, owners)
            _write_campaigns(conn, spec, blasts)
        blocks = company_blocks(companies)
        timing = {"simulate": 0.0, "write": 0.0}
        for block_no, block in enumerate(blocks):
            t0 = time.monotonic()
            contacts = make_contacts(spec.seed, companies, block, spec.history_start, spec.today_ts)
            history = simulate_block(
                spec.seed, block_no, contacts, companies, owners, spec.history_start, blasts
            )
            t1 = time.monotonic()
            with conn.transaction():
                written = write_block(conn, spec, owners, companies, block, contacts, history, blasts)
            timing["simulate"] += t1 - t0
            timing["write"] += time.monotonic() - t1
            for k, v in written.items():
                counts[k] = counts.get(k, 0) + v
            say(
                f"block {block_no + 1}/{len(blocks)}: {len(contacts):,} contacts, "
                f"{written.get('email_events', 0):,} email events ({time.monotonic() - started:.1f}s)"
            )
        with conn.transaction():
            counts["linkedin_network"] = _write_network(conn, spec, owners)
            counts["linkedin_shares"] = _write_shares(conn, spec, owners)
            counts["owner_busy"] = write_owner_busy(
                conn, spec.seed, owners_from_db(conn), spec.today_ts - 14 * DAY, spec.today_ts + 70 * DAY
            )
            _write_server_state(conn, spec)
        say("indexing")
        t0 = time.monotonic()
        with conn.transaction():
            store.create_indexes(conn)
        conn.commit()
        conn.autocommit = True
        conn.execute("analyze")
        timing["index"] = time.monotonic() - t0
    counts["seconds"] = round(time.monotonic() - started, 2)  # type: ignore[assignment]
    counts["timing"] = {k: round(v, 2) for k, v in timing.items()}  # type: ignore[assignment]
    return counts


# ---- owners, campaigns -----------------------------------------------------------------------
def _write_owners(conn: psycopg.Connection, spec: WorldSpec, owners: Owners) -> None:
    created = spec.history_start - 400 * DAY
    n = len(owners)
    store.copy_columns(
        conn,
        "hubspot.owners",
        {
            "id": owners.id,
            "email": np.array(owners.email, dtype=object),
            "first_name": np.array(owners.first_name, dtype=object),
            "last_name": np.array(owners.last_name, dtype=object),
            "user_id": owners.user_id,
            "teams": np.array(
                [
                    json.dumps([{"id": str(100 + int(r)), "name": t, "primary": True}])
                    for r, t in zip(owners.region, owners.team, strict=True)
                ],
                dtype=object,
            ),
            "created_at": store.ts(np.full(n, created)),
            "updated_at": store.ts(np.full(n, created)),
        },
    )
    store.copy_columns(
        conn,
        "world.owners",
        {
            "owner_id": owners.id,
            "region": np.array([catalog.REGIONS[r] for r in owners.region], dtype=object),
            "timezone": np.array(owners.timezone, dtype=object),
            "linkedin_slug": np.array(owners.linkedin_slug, dtype=object),
            "workday_start_min": owners.workday_start_min,
            "workday_end_min": owners.workday_end_min,
            "export_zip": owners.export_zip,
            "export_crlf": owners.export_crlf,
            "export_bom": owners.export_bom,
            "export_extra_cols": owners.export_extra_columns,
            "export_weekday": owners.export_weekday,
        },
    )


def _write_campaigns(conn: psycopg.Connection, spec: WorldSpec, blasts) -> None:
    rows = []
    for b in blasts:
        when = to_datetime(b.send_at)
        for v, (cid, angle) in enumerate(zip(b.campaign_ids, b.angles, strict=True)):
            a = catalog.ANGLES[angle]
            rows.append(
                (cid, f"Newsletter {when:%Y-%m-%d} ({'AB'[v]}: {a})", content.NEWSLETTER_SUBJECTS[a], a, when)
            )
    for step in (1, 2, 3):
        for code, a in enumerate(catalog.ANGLES):
            rows.append(
                (
                    nurture_campaign_id(step, code),
                    f"Nurture step {step} ({a})",
                    content.NEWSLETTER_SUBJECTS[a],
                    a,
                    None,
                )
            )
    with conn.cursor() as cur:
        cur.executemany(
            "insert into hubspot.email_campaigns (id, name, subject, angle, sent_at) values (%s, %s, %s, %s, %s)",
            rows,
        )


# ---- the owners' wider network, calendars ----------------------------------------------------
def _write_network(conn: psycopg.Connection, spec: WorldSpec, owners: Owners) -> int:
    """People in each rep's network who are not in HubSpot (and a few deactivated members)."""
    total = 0
    for k in range(len(owners)):
        rng = stream(spec.seed, "network", k)
        n = int(40 + spec.size.contacts / len(owners) * 0.15)
        first = rng.choice(np.array(catalog.FIRST_NAMES), n).astype(str)
        last = rng.choice(np.array(catalog.LAST_NAMES), n).astype(str)
        slug = np.char.add(
            np.char.add(np.char.add(np.char.lower(first), "-"), np.char.lower(last)),
            np.char.add("-", token_hex(rng, n, 6)),
        )
        urls = np.char.add("https://www.linkedin.com/in/", slug)
        deactivated = rng.random(n) < 0.03
        connected = spec.history_start - rng.exponential(700, n) * DAY
        companies = rng.choice(
            np.array(
                [
                    "Northwind Consulting",
                    "Contoso Energy Advisors",
                    "Fabrikam Capital",
                    "Tailspin Ventures",
                    "Litware Labs",
                    "Adatum Partners",
                ]
            ),
            n,
        )
        store.copy_columns(
            conn,
            "linkedin.connections",
            {
                "owner_id": np.full(n, owners.id[k]),
                "first_name": np.where(deactivated, "", first).astype(object),
                "last_name": np.where(deactivated, "", last).astype(object),
                "profile_url": np.where(deactivated, np.char.add("urn:deactivated:", slug), urls).astype(
                    object
                ),
                "email": store.texts(
                    np.where(
                        rng.random(n) < 0.2,
                        np.char.add(np.char.add(np.char.lower(first), "@"), "example.org"),
                        "",
                    )
                ),
                "company": np.where(deactivated, "", companies).astype(object),
                "position": np.where(
                    deactivated,
                    "",
                    rng.choice(np.array(["Partner", "Advisor", "Investor", "Consultant", "Analyst"]), n),
                ).astype(object),
                "connected_at": store.ts(connected),
            },
        )
        total += n
    return total


SHARE_TEXTS = (
    "Our 2026 clean-tech energy cost benchmark is out.\n\nLink in comments.",
    "Great panel today on Scope 3 data quality. Thanks to everyone who joined!",
    "Hiring: Sales Development Representatives, remote in Europe",
    "What does CSRD mean for mid-size renewables developers? A short thread.\nFirst: materiality.",
    "Three things we learned from 40 heat pump installers this year.",
)


def _write_shares(conn: psycopg.Connection, spec: WorldSpec, owners: Owners) -> int:
    """A few posts per rep over the history (they appear in Shares.csv of the exports)."""
    rows = []
    for k in range(len(owners)):
        rng = stream(spec.seed, "shares", k)
        n = int(rng.integers(6, 18))
        for j, at in enumerate(np.sort(spec.history_start + rng.random(n) * HISTORY_DAYS * DAY)):
            urn = f"urn:li:share:{7_100_000_000_000_000_000 + k * 10_000 + j}"
            text = SHARE_TEXTS[int(rng.integers(0, len(SHARE_TEXTS)))]
            url = "https://www.growthlab-energy.com/blog" if rng.random() < 0.4 else None
            rows.append(
                (int(owners.id[k]), to_datetime(float(at)), urn, text, url, None, "MEMBER_NETWORK", "history")
            )
    with conn.cursor() as cur:
        cur.executemany(
            "insert into linkedin.shares (owner_id, posted_at, share_urn, commentary, shared_url, media_url, visibility, source) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)


def owners_from_db(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "select owner_id, timezone, workday_start_min, workday_end_min from world.owners order by owner_id"
    ).fetchall()


def write_owner_busy(
    conn: psycopg.Connection, seed: int, owner_rows: list[tuple], start: float, end: float
) -> int:
    """Internal busy blocks on working days between `start` and `end` (appended, idempotent per day)."""
    from zoneinfo import ZoneInfo

    rows = []
    first_day = int(np.floor(start / DAY))
    last_day = int(np.floor(end / DAY))
    titles = ("Team standup", "Pipeline review", "Customer call", "Focus time", "1:1", "Internal workshop")
    for owner_id, tz, wstart, wend in owner_rows:
        zone = ZoneInfo(tz)
        for d in range(first_day, last_day):
            day = datetime.fromtimestamp(d * DAY, tz=UTC).date()
            if day.weekday() >= 5:
                continue
            rng = stream(seed, "busy", int(owner_id) % 100000, d)
            for _ in range(int(rng.integers(1, 4))):
                minute = int(wstart + 30 * rng.integers(0, max(1, (wend - wstart - 60) // 30)))
                length = int(rng.choice([30, 60, 90]))
                local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
                starts = local.astimezone(UTC)
                rows.append((owner_id, starts, starts + timedelta(minutes=length), str(rng.choice(titles))))
    with conn.cursor() as cur:
        cur.execute(
            "delete from world.owner_busy where starts_at >= %s and starts_at < %s",
            (to_datetime(first_day * DAY), to_datetime(last_day * DAY)),
        )
        cur.executemany(
            "insert into world.owner_busy (owner_id, starts_at, ends_at, title) values (%s, %s, %s, %s)", rows
        )
    return len(rows)


# ---- server state ----------------------------------------------------------------------------
def _write_server_state(conn: psycopg.Connection, spec: WorldSpec) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    store.set_meta(
        conn,
        "secrets",
        {
            "hubspot_token": f"pat-na1-{uuid.uuid4()}",
            "hubspot_readonly_token": f"pat-na1-{uuid.uuid4()}",
            "sendgrid_api_key": f"SG.{secrets.token_urlsafe(16)[:22]}.{secrets.token_urlsafe(32)[:43]}",
            "linkedin_token": f"li-{secrets.token_urlsafe(24)}",
            "admin_token": secrets.token_urlsafe(24),
        },
    )
    store.set_meta(
        conn,
        "sendgrid_signing",
        {"private_pem": private_pem, "public_key": base64.b64encode(public_der).decode()},
    )
    store.set_meta(conn, "sendgrid_webhook", {"enabled": False, "url": "", "signed": False})
    store.set_meta(conn, "faults", {})
    store.set_clock(conn, to_datetime(spec.today_ts))
    store.set_meta(conn, "world", spec.as_meta())
    store.set_meta(conn, "generated_at", datetime.now(UTC).isoformat())
