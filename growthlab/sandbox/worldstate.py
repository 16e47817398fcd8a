"""Load the world's simulation state from the sandbox database, and save it back."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg
import pyarrow.csv as pacsv

from growthlab.sandbox import catalog, store
from growthlab.sandbox.generate import WorldSpec, world_spec
from growthlab.sandbox.simulation import Items, OwnerHours, Schedule, State, Traits


@dataclass
class LoadedWorld:
    spec: WorldSpec
    traits: Traits
    state: State
    owners: OwnerHours
    owner_emails: list[str]
    emails: np.ndarray  # lower-cased email per contact position
    schedule: Schedule

    def positions(self, contact_ids: np.ndarray) -> np.ndarray:
        """Positions of contact ids (-1 when unknown)."""
        ids = self.traits.contact_id
        order = np.argsort(ids)
        sorted_ids = ids[order]
        contact_ids = np.asarray(contact_ids, dtype=np.int64)
        pos = np.searchsorted(sorted_ids, contact_ids)
        pos = np.clip(pos, 0, max(len(ids) - 1, 0))
        found = (
            (len(ids) > 0) & (sorted_ids[pos] == contact_ids)
            if len(ids)
            else np.zeros(len(contact_ids), bool)
        )
        return np.where(found, order[pos], -1)


def query_columns(conn: psycopg.Connection, sql: str) -> dict[str, np.ndarray]:
    """Run a select through COPY and return its columns as numpy arrays (fast for millions of rows)."""
    buf = io.BytesIO()
    with conn.cursor() as cur, cur.copy(f"copy ({sql}) to stdout (format csv, header true)") as copy:
        for data in copy:
            buf.write(data)
    if buf.tell() == 0:
        return {}
    buf.seek(0)
    table = pacsv.read_csv(
        buf,
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        read_options=pacsv.ReadOptions(block_size=1 << 24),
    )
    out = {}
    for name in table.column_names:
        col = table.column(name)
        out[name] = col.to_numpy(zero_copy_only=False)
    return out


def _f(values) -> np.ndarray:
    """Float column with nulls as NaN."""
    arr = np.asarray(values, dtype=object)
    return (
        np.array([np.nan if v is None else float(v) for v in arr], dtype=np.float64)
        if arr.dtype == object
        else arr.astype(np.float64)
    )


def _b(values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr
    return np.array([v in (True, "t", "true", 1) for v in arr], dtype=bool)


def load_spec(conn: psycopg.Connection) -> WorldSpec:
    meta = store.get_meta(conn, "world")
    if meta is None:
        raise store.SandboxError("the sandbox database holds no world: run `growthlab sandbox up`")
    return world_spec(meta["seed"], meta["size"], date.fromisoformat(meta["today"]))


def load_world(conn: psycopg.Connection) -> LoadedWorld:
    spec = load_spec(conn)
    c = query_columns(
        conn,
        """
        select w.contact_id, w.company_id, w.owner_index, w.segment, w.seniority, w.job_function, w.region,
               w.timezone, w.revenue_band, w.fit, w.latent, w.responsiveness, w.apple_mail, w.invalid_email,
               w.consent_ok, w.has_linkedin, extract(epoch from w.created_at)::float8 as created_at,
               w.residual, w.warmth, w.fatigue,
               extract(epoch from w.last_touch_at)::float8 as last_touch_at,
               extract(epoch from w.converted_at)::float8 as converted_at,
               w.hs_optout, w.hs_bounced, w.hs_spam,
               extract(epoch from w.sales_touched_at)::float8 as sales_touched_at,
               w.li_invited, w.li_connected,
               extract(epoch from w.last_reply_at)::float8 as last_reply_at,
               extract(epoch from w.mql_at)::float8 as mql_at,
               extract(epoch from w.sql_at)::float8 as sql_at,
               extract(epoch from w.customer_at)::float8 as customer_at,
               extract(epoch from h.updated_at)::float8 as modified_at,
               lower(h.email) as email
        from world.contacts w join hubspot.contacts h on h.id = w.contact_id
        order by w.contact_id
        """,
    )
    if not c:
        raise store.SandboxError(
            "the sandbox world has no contacts; regenerate it with `growthlab sandbox up --fresh`"
        )
    traits = Traits(
        contact_id=c["contact_id"].astype(np.int64),
        company_id=c["company_id"].astype(np.int64),
        owner=c["owner_index"].astype(np.int64),
        segment=c["segment"].astype(np.int64),
        seniority=c["seniority"].astype(np.int64),
        function=c["job_function"].astype(np.int64),
        region=c["region"].astype(np.int64),
        timezone=c["timezone"].astype(np.int64),
        revenue_band=c["revenue_band"].astype(np.int64),
        fit=_f(c["fit"]),
        latent=_f(c["latent"]),
        responsiveness=_f(c["responsiveness"]),
        apple=_b(c["apple_mail"]),
        invalid_email=_b(c["invalid_email"]),
        consent_ok=_b(c["consent_ok"]),
        has_linkedin=_b(c["has_linkedin"]),
        created_at=_f(c["created_at"]),
    )
    n = len(traits)
    state = State.fresh(_f(c["residual"]), traits.created_at)
    state.warmth = _f(c["warmth"])
    state.fatigue = _f(c["fatigue"])
    state.last_touch = _f(c["last_touch_at"])
    state.converted_at = _f(c["converted_at"])
    state.hs_optout = _b(c["hs_optout"])
    state.hs_bounced = _b(c["hs_bounced"])
    state.hs_spam = _b(c["hs_spam"])
    state.sales_touched_at = _f(c["sales_touched_at"])
    state.li_invited = _b(c["li_invited"])
    state.li_connected = _b(c["li_connected"])
    state.last_reply_at = _f(c["last_reply_at"])
    state.mql_at = _f(c["mql_at"])
    state.sql_at = _f(c["sql_at"])
    state.customer_at = _f(c["customer_at"])
    state.modified_at = _f(c["modified_at"])
    emails = np.array([e or "" for e in c["email"]], dtype=object)
    world = LoadedWorld(
        spec=spec,
        traits=traits,
        state=state,
        owners=load_owner_hours(conn),
        owner_emails=[r[0] for r in conn.execute("select lower(email) from hubspot.owners order by id")],
        emails=emails,
        schedule=Schedule(),
    )
    _load_suppressions(conn, world)
    _load_schedule(conn, world)
    assert len(world.traits) == n
    return world


def load_owner_hours(conn: psycopg.Connection) -> OwnerHours:
    rows = conn.execute(
        "select owner_id, timezone, workday_start_min, workday_end_min, region from world.owners order by owner_id"
    ).fetchall()
    return OwnerHours(
        timezone=np.array([catalog.TIMEZONES.index(r[1]) for r in rows], dtype=np.int64),
        start_min=np.array([r[2] for r in rows], dtype=np.float64),
        end_min=np.array([r[3] for r in rows], dtype=np.float64),
        owner_id=np.array([r[0] for r in rows], dtype=np.int64),
        region=np.array([catalog.REGIONS.index(r[4]) for r in rows], dtype=np.int64),
    )


def _load_suppressions(conn: psycopg.Connection, world: LoadedWorld) -> None:
    rows = conn.execute("select lower(email), kind, group_id from sendgrid.suppressions").fetchall()
    if not rows:
        return
    position = {e: i for i, e in enumerate(world.emails)}
    for email, kind, group in rows:
        i = position.get(email)
        if i is None:
            continue
        if kind == "bounce":
            world.state.sg_bounced[i] = True
        elif kind == "spamreport":
            world.state.sg_spam[i] = True
        elif kind == "unsubscribe":
            world.state.sg_unsub[i] = True
        elif kind == "group_unsubscribe":
            world.state.group_unsubs.add((i, int(group)))


def _load_schedule(conn: psycopg.Connection, world: LoadedWorld) -> None:
    c = query_columns(
        conn,
        "select kind, extract(epoch from due_at)::float8 as due_at, contact_id, ref, code, channel, aux "
        "from world.schedule",
    )
    if not c:
        return
    pos = world.positions(c["contact_id"].astype(np.int64))
    keep = pos >= 0
    items = Items.make(
        c["kind"][keep],
        _f(c["due_at"])[keep],
        pos[keep],
        c["ref"][keep],
        c["code"][keep],
        c["channel"][keep],
        c["aux"][keep],
    )
    world.schedule.push(items)
