"""The day-by-day engine of the world, shared by the generated history and `advance`.

A treatment (an email, a LinkedIn invitation or message, a booked meeting) is answered at once
with a set of *scheduled items*, each with its timestamp: the delivery, the opens, the click, the
reply, the acceptance, the meeting's outcome. Items are processed on the simulated day they fall
in: that is when they become visible (recorded) and when their warmth counts in the conversion
hazard. Items beyond the simulated window stay scheduled (the sandbox database keeps them), so
`advance --days 7` and seven `advance --days 1` produce the same world.

Every per-item random draw is a hash of (seed, purpose, item id): outcomes never depend on which
other items were drawn alongside, or in which order the pipeline sent its mail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from scipy.special import ndtri

from growthlab.sandbox import behaviour, catalog
from growthlab.sandbox.rng import hash_uniform, hash_uniforms
from growthlab.sandbox.timeutil import DAY, at_local_time, local_hour_weekday

# Where an email was sent from: HubSpot marketing email (the history's newsletters and nurture),
# a rep's one-to-one email logged in HubSpot (history), or SendGrid (the pipeline).
CH_HS_MARKETING, CH_HS_SALES, CH_SENDGRID = 0, 1, 2

# Email event codes.
EV_SENT = 0  # HubSpot SENT, SendGrid processed
EV_DELIVERED = 1
EV_DEFERRED = 2
EV_BOUNCE = 3
EV_DROPPED = 4
EV_OPEN = 5  # aux = 1: machine open
EV_CLICK = 6
EV_SPAMREPORT = 7
EV_UNSUBSCRIBE = 8
EV_GROUP_UNSUBSCRIBE = 9
EV_HIDDEN_OPEN = 10  # a human open nobody can see (Apple Mail): warmth only, never recorded
EVENT_NAMES = (
    "processed",
    "delivered",
    "deferred",
    "bounce",
    "dropped",
    "open",
    "click",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "hidden_open",
)
# Drop reasons (aux of EV_DROPPED).
DROP_BOUNCED, DROP_UNSUBSCRIBED, DROP_SPAM = 1, 2, 3

# Scheduled item kinds.
K_EMAIL_EVENT, K_REPLY, K_LI_ACCEPT, K_LI_REPLY, K_MEETING, K_DEAL_STAGE = 0, 1, 2, 3, 4, 5

# Meeting outcome codes index catalog.MEETING_OUTCOMES.
OUT_SCHEDULED, OUT_COMPLETED, OUT_NO_SHOW, OUT_CANCELED = 0, 1, 2, 3

STAGE = {name: i for i, name in enumerate(catalog.DEAL_STAGES)}
_DEAL_BASE_AMOUNT = np.array([15_000, 40_000, 90_000, 180_000, 350_000, 600_000], dtype=np.float64)


@dataclass
class Items:
    """Scheduled items, struct of arrays. `idx` is the contact's position in the simulation."""

    kind: np.ndarray
    at: np.ndarray
    idx: np.ndarray
    ref: np.ndarray
    code: np.ndarray
    channel: np.ndarray
    aux: np.ndarray

    @classmethod
    def make(cls, kind, at, idx, ref, code=0, channel=0, aux=0) -> Items:
        n = len(np.atleast_1d(at))

        def col(v, dtype):
            if np.ndim(v) == 0:
                return np.full(n, v, dtype=dtype)
            return np.asarray(v, dtype=dtype)

        return cls(
            kind=col(kind, np.int8),
            # Millisecond times: they survive the database round trip exactly (HubSpot's precision too).
            at=np.round(col(at, np.float64), 3),
            idx=col(idx, np.int64),
            ref=col(ref, np.int64),
            code=col(code, np.int16),
            channel=col(channel, np.int8),
            aux=col(aux, np.int64),
        )

    @classmethod
    def empty(cls) -> Items:
        return cls.make(0, np.zeros(0), 0, 0)

    @classmethod
    def concat(cls, parts: list[Items]) -> Items:
        if not parts:
            return cls.empty()
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def __len__(self) -> int:
        return len(self.at)

    def take(self, mask_or_index) -> Items:
        return Items(**{f.name: getattr(self, f.name)[mask_or_index] for f in fields(self)})


class Schedule:
    """Items bucketed by the UTC day they fall in."""

    def __init__(self) -> None:
        self._buckets: dict[int, list[Items]] = {}

    def push(self, items: Items) -> None:
        if len(items) == 0:
            return
        days = np.floor(items.at / DAY).astype(np.int64)
        order = np.argsort(days, kind="stable")
        days_sorted = days[order]
        cuts = np.flatnonzero(np.diff(days_sorted)) + 1
        for chunk in np.split(order, cuts):
            self._buckets.setdefault(int(days[chunk[0]]), []).append(items.take(chunk))

    def pop_until(self, day: int) -> Items:
        """Every item of days <= `day` (earlier leftovers included), in a canonical order.

        The order (time, kind, ref, contact) does not depend on how the items got here (made
        today, or saved by an earlier `advance` and loaded again), so ids handed out while
        processing them are the same whatever the step size.
        """
        due = [d for d in self._buckets if d <= day]
        items = Items.concat([part for d in sorted(due) for part in self._buckets.pop(d)])
        if len(items) > 1:
            items = items.take(
                np.lexsort((items.idx, items.aux, items.code, items.ref, items.kind, items.at))
            )
        return items

    def remaining(self) -> Items:
        return Items.concat([part for d in sorted(self._buckets) for part in self._buckets[d]])

    def __len__(self) -> int:
        return sum(len(p) for parts in self._buckets.values() for p in parts)


class Recorder:
    """What became visible, by record type, as lists of column arrays."""

    def __init__(self) -> None:
        self._parts: dict[str, list[dict[str, np.ndarray]]] = {}

    def add(self, kind: str, **columns) -> None:
        n = max((len(np.atleast_1d(v)) for v in columns.values() if np.ndim(v) > 0), default=0)
        if n == 0:
            return
        self._parts.setdefault(kind, []).append(
            {
                k: np.broadcast_to(np.asarray(v), (n,)).copy() if np.ndim(v) == 0 else np.asarray(v)
                for k, v in columns.items()
            }
        )

    def get(self, kind: str) -> dict[str, np.ndarray]:
        parts = self._parts.get(kind, [])
        if not parts:
            return {}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def count(self, kind: str) -> int:
        return sum(len(next(iter(p.values()))) for p in self._parts.get(kind, []))

    def clear(self, kind: str | None = None) -> None:
        if kind is None:
            self._parts.clear()
        else:
            self._parts.pop(kind, None)


class Ids:
    """Id counters per object kind (history: a block's own range; advance: after the database's max)."""

    def __init__(self, starts: dict[str, int]) -> None:
        self.next_id = dict(starts)

    def take(self, kind: str, n: int) -> np.ndarray:
        start = self.next_id[kind]
        self.next_id[kind] = start + n
        return np.arange(start, start + n, dtype=np.int64)


@dataclass
class Traits:
    """What the simulation needs to know about each contact (aligned arrays)."""

    contact_id: np.ndarray
    company_id: np.ndarray
    owner: np.ndarray  # index into Owners
    segment: np.ndarray
    seniority: np.ndarray
    function: np.ndarray
    region: np.ndarray
    timezone: np.ndarray
    revenue_band: np.ndarray
    fit: np.ndarray
    latent: np.ndarray
    responsiveness: np.ndarray
    apple: np.ndarray
    invalid_email: np.ndarray
    consent_ok: np.ndarray
    has_linkedin: np.ndarray
    created_at: np.ndarray

    def __len__(self) -> int:
        return len(self.contact_id)


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


@dataclass
class State:
    """The dynamic state of each contact: what the world remembers between days."""

    residual: np.ndarray
    warmth: np.ndarray
    fatigue: np.ndarray
    last_touch: np.ndarray
    converted_at: np.ndarray
    hs_optout: np.ndarray
    hs_bounced: np.ndarray
    hs_spam: np.ndarray
    sg_bounced: np.ndarray
    sg_unsub: np.ndarray
    sg_spam: np.ndarray
    li_invited: np.ndarray
    li_connected: np.ndarray
    li_msg_due: np.ndarray
    seq_step: np.ndarray
    seq_next: np.ndarray
    seq_ref: np.ndarray
    last_reply_at: np.ndarray
    sales_touched_at: np.ndarray
    mql_at: np.ndarray
    sql_at: np.ndarray
    customer_at: np.ndarray
    modified_at: np.ndarray
    group_unsubs: set = field(default_factory=set)

    @classmethod
    def fresh(cls, residual: np.ndarray, created_at: np.ndarray) -> State:
        n = len(residual)
        false = np.zeros(n, dtype=bool)
        return cls(
            residual=np.asarray(residual, dtype=np.float64).copy(),
            warmth=np.zeros(n),
            fatigue=np.zeros(n),
            last_touch=_nan(n),
            converted_at=_nan(n),
            hs_optout=false.copy(),
            hs_bounced=false.copy(),
            hs_spam=false.copy(),
            sg_bounced=false.copy(),
            sg_unsub=false.copy(),
            sg_spam=false.copy(),
            li_invited=false.copy(),
            li_connected=false.copy(),
            li_msg_due=_nan(n),
            seq_step=np.zeros(n, dtype=np.int8),
            seq_next=_nan(n),
            seq_ref=np.zeros(n, dtype=np.int64),
            last_reply_at=_nan(n),
            sales_touched_at=_nan(n),
            mql_at=_nan(n),
            sql_at=_nan(n),
            customer_at=_nan(n),
            modified_at=np.asarray(created_at, dtype=np.float64).copy(),
        )


@dataclass
class OwnerHours:
    timezone: np.ndarray  # timezone code per owner
    start_min: np.ndarray
    end_min: np.ndarray
    owner_id: np.ndarray
    region: np.ndarray


class Simulator:
    def __init__(
        self,
        seed: int,
        traits: Traits,
        state: State,
        owners: OwnerHours,
        ids: Ids,
        recorder: Recorder,
        schedule: Schedule,
        *,
        legacy_followups: bool = False,
        rep_books_meetings: bool = True,
    ) -> None:
        self.seed = seed
        self.t = traits
        self.s = state
        self.owners = owners
        self.ids = ids
        self.rec = recorder
        self.schedule = schedule
        self.legacy_followups = legacy_followups  # history: reps message new connections
        self.rep_books_meetings = rep_books_meetings
        self.n = len(traits)
        # Projection mode (truth): accumulate hazard instead of converting.
        self.cum_hazard: np.ndarray | None = None

    def extend(self, traits: Traits, state: State) -> np.ndarray:
        """Add contacts (created during `advance`); returns their positions."""
        first = self.n
        for f in fields(Traits):
            setattr(self.t, f.name, np.concatenate([getattr(self.t, f.name), getattr(traits, f.name)]))
        for f in fields(State):
            if f.name != "group_unsubs":
                setattr(self.s, f.name, np.concatenate([getattr(self.s, f.name), getattr(state, f.name)]))
        self.n = len(self.t)
        if self.cum_hazard is not None:
            self.cum_hazard = np.concatenate([self.cum_hazard, np.zeros(len(traits))])
        return np.arange(first, self.n)

    # ---- helpers ------------------------------------------------------------------------------
    def _u(self, purpose: str, ids: np.ndarray, k: int = 0) -> np.ndarray:
        return hash_uniform(self.seed, purpose, ids, k)

    def _add_warmth(self, idx: np.ndarray, amount: np.ndarray | float) -> None:
        if len(idx):
            w = np.broadcast_to(np.asarray(amount, dtype=np.float64), idx.shape)
            self.s.warmth += np.bincount(idx, weights=w, minlength=self.n)

    def _touch(self, idx: np.ndarray, at: np.ndarray, amount: float) -> None:
        self.s.fatigue += np.bincount(idx, minlength=self.n) * amount
        np.fmax.at(self.s.last_touch, idx, at)

    def _modified(self, idx: np.ndarray, at: np.ndarray) -> None:
        np.fmax.at(self.s.modified_at, idx, at)

    def active(self, until: float) -> np.ndarray:
        return (self.t.created_at < until) & np.isnan(self.s.converted_at)

    # ---- the day ------------------------------------------------------------------------------
    def start_day(self) -> None:
        self.s.warmth *= behaviour.WARMTH_DECAY_PER_DAY
        self.s.fatigue *= behaviour.FATIGUE_DECAY_PER_DAY

    def finish_day(self, day_start: float) -> None:
        """Process every item due today, then draw today's conversions."""
        day = math.floor(day_start / DAY)
        # Processing can schedule more items for today (a reply books nothing today, but a
        # pre-history deal's stages can be due): loop until today's bucket is empty.
        for _ in range(10):
            items = self.schedule.pop_until(day)
            if len(items) == 0:
                break
            self._process(items)
        self._conversions(day_start)

    def _process(self, items: Items) -> None:
        for kind, handler in (
            (K_EMAIL_EVENT, self._on_email_events),
            (K_REPLY, self._on_replies),
            (K_LI_ACCEPT, self._on_li_accepts),
            (K_LI_REPLY, self._on_li_replies),
            (K_MEETING, self._on_meetings),
            (K_DEAL_STAGE, self._on_deal_stages),
        ):
            sel = items.take(items.kind == kind)
            if len(sel):
                handler(sel)

    # ---- treatments ---------------------------------------------------------------------------
    def send_emails(
        self,
        idx: np.ndarray,
        at: np.ndarray,
        refs: np.ndarray,
        *,
        channel: int,
        sales_style: np.ndarray | bool,
        angle: np.ndarray | int,
        step: np.ndarray | int,
        group: np.ndarray | int = 0,
        bypass_suppressions: np.ndarray | bool = False,
    ) -> None:
        """Emails delivered (or not) to contacts `idx` at times `at`; `refs` identify each send."""
        idx = np.asarray(idx, dtype=np.int64)
        n = len(idx)
        if n == 0:
            return
        at = np.asarray(at, dtype=np.float64)
        refs = np.asarray(refs, dtype=np.int64)
        t, s = self.t, self.s
        sales_style = np.broadcast_to(np.asarray(sales_style, dtype=bool), (n,))
        angle = np.broadcast_to(np.asarray(angle, dtype=np.int64), (n,))
        step = np.broadcast_to(np.asarray(step, dtype=np.int64), (n,))
        group = np.broadcast_to(np.asarray(group, dtype=np.int64), (n,))
        bypass = np.broadcast_to(np.asarray(bypass_suppressions, dtype=bool), (n,))
        u = hash_uniforms(self.seed, "email", refs, 16)
        gap = (at - s.last_touch[idx]) / DAY
        hour, weekday = local_hour_weekday(at, t.timezone[idx])
        probs = behaviour.email_response_probabilities(
            fit=t.fit[idx],
            responsiveness=t.responsiveness[idx],
            segment=t.segment[idx],
            function=t.function[idx],
            seniority=t.seniority[idx],
            angle=angle,
            local_hour=hour,
            weekday=weekday,
            step=step,
            gap_days=gap,
            fatigue=s.fatigue[idx],
            channel=np.where(sales_style, behaviour.CHANNEL_SALES, behaviour.CHANNEL_MARKETING),
            consent_missing=~t.consent_ok[idx],
        )
        # Deliverability.
        drop_reason = np.zeros(n, dtype=np.int64)
        if channel == CH_SENDGRID:
            grp_unsub = np.array(
                [(int(i), int(g)) in s.group_unsubs for i, g in zip(idx, group, strict=True)]
            )
            drop_reason = np.where(s.sg_unsub[idx] | grp_unsub, DROP_UNSUBSCRIBED, drop_reason)
            drop_reason = np.where(s.sg_spam[idx], DROP_SPAM, drop_reason)
            drop_reason = np.where(s.sg_bounced[idx], DROP_BOUNCED, drop_reason)
            drop_reason = np.where(bypass, 0, drop_reason)
        elif channel == CH_HS_MARKETING:
            drop_reason = np.where(s.hs_bounced[idx], DROP_BOUNCED, drop_reason)
        dropped = drop_reason > 0
        bounce = ~dropped & t.invalid_email[idx]
        delivered = ~dropped & ~bounce
        deferred = delivered & (u[0] < behaviour.DEFERRED_RATE)
        apple = t.apple[idx]
        machine = delivered & apple & (u[1] < behaviour.MACHINE_OPEN_RATE)
        human = delivered & (u[2] < probs["open"])
        click = human & (u[3] < probs["click"])
        reply = human & (u[4] < probs["reply"])
        unsub = delivered & (u[5] < probs["unsubscribe"])
        spam = delivered & ~unsub & (u[6] < probs["spamreport"])
        # When.
        t_sent = at + 1.0 + 4.0 * u[7]
        t_deliver = at + 10.0 + 110.0 * u[8] + np.where(deferred, 3600.0 * (1 + 3 * u[9]), 0.0)
        t_machine = t_deliver + 60.0 + 840.0 * u[10]
        # Opens come within hours for most, days later for some (a long tail).
        t_open = t_deliver + 600.0 + np.exp(np.log(3 * 3600.0) + 1.4 * ndtri(u[11]))
        t_click = t_open + 20.0 + 280.0 * u[12]
        t_reply = t_open + np.exp(np.log(4 * 3600.0) + 0.8 * ndtri(u[13]))
        t_unsub = t_deliver + 120.0 + np.exp(np.log(5 * 3600.0) + 1.0 * ndtri(u[14]))
        t_spam = t_deliver + 300.0 + np.exp(np.log(6 * 3600.0) + 1.0 * ndtri(u[15]))

        self._touch(idx, at, behaviour.FATIGUE["email"])
        parts: list[Items] = []
        if channel == CH_HS_SALES:
            # A rep's one-to-one email: HubSpot logs the email itself (recorded now); only a reply
            # comes back. Opens of sales emails are not tracked, so they add no warmth either.
            self.rec.add("email_send", channel=channel, ref=refs, idx=idx, at=at, angle=angle, step=step)
            s.sales_touched_at[idx] = at
        else:
            self.rec.add("email_send", channel=channel, ref=refs, idx=idx, at=at, angle=angle, step=step)
            ch = channel
            masks, times, codes, auxes = [], [], [], []

            def ev(mask, when, code, aux=0):
                masks.append(mask)
                times.append(when[mask])
                codes.append(np.broadcast_to(np.asarray(code), (n,))[mask])
                auxes.append(np.broadcast_to(np.asarray(aux), (n,))[mask])

            ev(np.ones(n, dtype=bool), t_sent, EV_SENT)
            ev(dropped, t_sent + 1.0, EV_DROPPED, drop_reason)
            ev(bounce, t_deliver, EV_BOUNCE)
            ev(deferred, at + 60.0 + 60.0 * u[9], EV_DEFERRED)
            ev(delivered, t_deliver, EV_DELIVERED)
            ev(machine, t_machine, EV_OPEN, 1)
            ev(human & ~apple, t_open, EV_OPEN, 0)
            ev(human & apple, t_open, EV_HIDDEN_OPEN)
            ev(click, t_click, EV_CLICK, (u[3] * 1000).astype(np.int64) % 7)
            ev(unsub, t_unsub, np.where(group > 0, EV_GROUP_UNSUBSCRIBE, EV_UNSUBSCRIBE), group)
            ev(spam, t_spam, EV_SPAMREPORT)
            which = np.concatenate([np.flatnonzero(m) for m in masks])
            parts.append(
                Items.make(
                    K_EMAIL_EVENT,
                    np.concatenate(times),
                    idx[which],
                    refs[which],
                    np.concatenate(codes),
                    ch,
                    np.concatenate(auxes),
                )
            )
        if reply.any():
            parts.append(Items.make(K_REPLY, t_reply[reply], idx[reply], refs[reply], 0, channel))
        self.schedule.push(Items.concat(parts))

    def send_li_invites(
        self, idx: np.ndarray, at: np.ndarray, refs: np.ndarray, has_note: np.ndarray
    ) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return
        t, s = self.t, self.s
        p = behaviour.linkedin_accept_probability(
            fit=t.fit[idx],
            responsiveness=t.responsiveness[idx],
            seniority=t.seniority[idx],
            has_note=has_note,
            same_region=t.region[idx] == self._owner_region(idx),
            fatigue=s.fatigue[idx],
        )
        accept = self._u("li-invite", refs, 0) < p
        delay_days = np.minimum(np.floor(-np.log(self._u("li-invite", refs, 1)) / 0.35), 20) + 1
        t_accept = at + delay_days * DAY + 3600 * 10 * self._u("li-invite", refs, 2)
        s.li_invited[idx] = True
        self._touch(idx, at, behaviour.FATIGUE["li_invite"])
        self.schedule.push(Items.make(K_LI_ACCEPT, t_accept[accept], idx[accept], refs[accept]))

    def _owner_region(self, idx: np.ndarray) -> np.ndarray:
        return self.owners.region[self.t.owner[idx]]

    def send_li_messages(
        self, idx: np.ndarray, at: np.ndarray, refs: np.ndarray, angle: np.ndarray | int
    ) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return
        t, s = self.t, self.s
        angle = np.broadcast_to(np.asarray(angle, dtype=np.int64), idx.shape)
        hour, weekday = local_hour_weekday(at, t.timezone[idx])
        p = behaviour.linkedin_reply_probability(
            fit=t.fit[idx],
            responsiveness=t.responsiveness[idx],
            segment=t.segment[idx],
            function=t.function[idx],
            seniority=t.seniority[idx],
            angle=angle,
            local_hour=hour,
            weekday=weekday,
            fatigue=s.fatigue[idx],
        )
        # Only connections can be messaged; the adapter refuses others before they get here.
        reply = (self._u("li-message", refs, 0) < p) & s.li_connected[idx]
        t_reply = at + 1800 + np.exp(np.log(8 * 3600.0) + 1.0 * ndtri(self._u("li-message", refs, 1)))
        self._touch(idx, at, behaviour.FATIGUE["li_message"])
        self.rec.add("li_message", ref=refs, idx=idx, at=at, direction=0, angle=angle, reply_to=0)
        self.schedule.push(Items.make(K_LI_REPLY, t_reply[reply], idx[reply], refs[reply]))

    def book_meetings(
        self,
        idx: np.ndarray,
        start: np.ndarray,
        refs: np.ndarray,
        *,
        booked_at: np.ndarray,
        source: int,
        owner_conflict: np.ndarray | bool = False,
        duration_min: np.ndarray | float = 30.0,
    ) -> None:
        """Meetings booked (by a rep: source 0, recorded here; by the pipeline: 1, already in HubSpot)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return
        start = np.asarray(start, dtype=np.float64)
        hour, weekday = local_hour_weekday(start, self.t.timezone[idx])
        in_hours = (hour >= 8) & (hour < 18) & (weekday < 5)
        conflict = np.broadcast_to(np.asarray(owner_conflict, dtype=bool), idx.shape)
        aux = in_hours.astype(np.int64) + 2 * conflict.astype(np.int64)
        end = start + np.broadcast_to(np.asarray(duration_min, dtype=np.float64), idx.shape) * 60.0
        if source == 0:
            self.rec.add(
                "meeting",
                ref=refs,
                idx=idx,
                owner=self.t.owner[idx],
                booked_at=booked_at,
                start=start,
                end=end,
            )
        booked = np.broadcast_to(np.asarray(booked_at, dtype=np.float64), idx.shape)
        first_sql = np.isnan(self.s.sql_at[idx])
        self.s.sql_at[idx[first_sql]] = booked[first_sql]
        self._modified(idx, booked)
        self.schedule.push(Items.make(K_MEETING, start, idx, refs, 0, 0, aux))

    # ---- item handlers ------------------------------------------------------------------------
    def _on_email_events(self, it: Items) -> None:
        s = self.s
        visible = it.code != EV_HIDDEN_OPEN
        if visible.any():
            v = it.take(visible)
            self.rec.add(
                "email_event", channel=v.channel, ref=v.ref, idx=v.idx, at=v.at, code=v.code, aux=v.aux
            )
        human_open = ((it.code == EV_OPEN) & (it.aux == 0)) | (it.code == EV_HIDDEN_OPEN)
        self._add_warmth(it.idx[human_open], behaviour.WARMTH["human_open"])
        click = it.code == EV_CLICK
        self._add_warmth(it.idx[click], behaviour.WARMTH["click"])
        first_mql = click & np.isnan(s.mql_at[it.idx])
        s.mql_at[it.idx[first_mql]] = it.at[first_mql]
        self._modified(it.idx[first_mql], it.at[first_mql])
        hs = it.channel == CH_HS_MARKETING
        sg = it.channel == CH_SENDGRID
        bounce = it.code == EV_BOUNCE
        s.hs_bounced[it.idx[bounce & hs]] = True
        s.sg_bounced[it.idx[bounce & sg]] = True
        unsub = it.code == EV_UNSUBSCRIBE
        s.hs_optout[it.idx[unsub & hs]] = True
        self._modified(it.idx[unsub & hs], it.at[unsub & hs])
        s.sg_unsub[it.idx[unsub & sg]] = True
        for i, g in zip(
            it.idx[it.code == EV_GROUP_UNSUBSCRIBE], it.aux[it.code == EV_GROUP_UNSUBSCRIBE], strict=True
        ):
            s.group_unsubs.add((int(i), int(g)))
        spam = it.code == EV_SPAMREPORT
        s.hs_spam[it.idx[spam & hs]] = True
        s.hs_optout[it.idx[spam & hs]] = True
        s.sg_spam[it.idx[spam & sg]] = True

    def _on_replies(self, it: Items) -> None:
        s = self.s
        reply_ids = self.ids.take("email", len(it))
        self.rec.add("reply", channel=it.channel, ref=it.ref, idx=it.idx, at=it.at, reply_id=reply_ids)
        self._add_warmth(it.idx, behaviour.WARMTH["reply"])
        np.fmax.at(s.last_reply_at, it.idx, it.at)
        first_mql = np.isnan(s.mql_at[it.idx])
        s.mql_at[it.idx[first_mql]] = it.at[first_mql]
        self._modified(it.idx, it.at)
        # Draws derived from a reply are keyed by what caused it (the send), never by new ids, so a
        # projection (truth) and the real `advance` agree.
        self._maybe_book(it.idx, it.at, it.ref * 8 + it.channel, "reply")

    def _on_li_accepts(self, it: Items) -> None:
        s = self.s
        self.rec.add("li_accept", ref=it.ref, idx=it.idx, at=it.at)
        s.li_connected[it.idx] = True
        self._add_warmth(it.idx, behaviour.WARMTH["li_accept"])
        if self.legacy_followups:
            follow = self._u("li-follow", it.ref, 0) < 0.6
            due = it.at + (1 + 5 * self._u("li-follow", it.ref, 1)) * DAY
            s.li_msg_due[it.idx[follow]] = due[follow]

    def _on_li_replies(self, it: Items) -> None:
        ids = self.ids.take("li_message", len(it))
        self.rec.add("li_message", ref=ids, idx=it.idx, at=it.at, direction=1, angle=-1, reply_to=it.ref)
        self._add_warmth(it.idx, behaviour.WARMTH["li_reply"])
        np.fmax.at(self.s.last_reply_at, it.idx, it.at)
        self._maybe_book(it.idx, it.at, it.ref, "li-reply")

    def _maybe_book(self, idx: np.ndarray, at: np.ndarray, keys: np.ndarray, purpose: str) -> None:
        if not self.rep_books_meetings:
            return
        open_ = np.isnan(self.s.converted_at[idx])
        book = open_ & (self._u(f"book-{purpose}", keys, 0) < behaviour.MEETING_AFTER_REPLY)
        if not book.any():
            return
        idx, at, keys = idx[book], at[book], keys[book]
        owner = self.t.owner[idx]
        days_ahead = 2 + np.floor(9 * self._u(f"book-{purpose}", keys, 1))
        day_start = np.floor(at / DAY) * DAY + days_ahead * DAY
        # Move weekend days to Monday (in UTC; close enough for the rep's calendar).
        wd = (np.floor(day_start / DAY).astype(np.int64) + 3) % 7
        day_start = day_start + np.where(wd == 5, 2, np.where(wd == 6, 1, 0)) * DAY
        slot = self.owners.start_min[owner] + 30 * np.floor(
            self._u(f"book-{purpose}", keys, 2)
            * (self.owners.end_min[owner] - self.owners.start_min[owner] - 30)
            / 30
        )
        start = at_local_time(day_start, self.owners.timezone[owner], slot / 60.0)
        refs = self.ids.take("meeting", len(idx))
        self.book_meetings(idx, start, refs, booked_at=at, source=0)

    def _on_meetings(self, it: Items) -> None:
        t, s = self.t, self.s
        p = behaviour.meeting_show_probability(
            fit=t.fit[it.idx],
            warmth=s.warmth[it.idx],
            in_contact_hours=(it.aux & 1).astype(bool),
            owner_conflict=(it.aux & 2).astype(bool),
        )
        key = self.t.contact_id[it.idx] * 1_000_003 + np.floor(it.at / 60.0).astype(np.int64)
        canceled = self._u("meeting", key, 1) < 0.05
        completed = ~canceled & (self._u("meeting", key, 0) < p)
        outcome = np.where(canceled, OUT_CANCELED, np.where(completed, OUT_COMPLETED, OUT_NO_SHOW))
        self.rec.add("meeting_outcome", ref=it.ref, idx=it.idx, at=it.at, outcome=outcome)
        self._add_warmth(it.idx[completed], behaviour.WARMTH["meeting_completed"])
        no_show = outcome == OUT_NO_SHOW
        self._add_warmth(it.idx[no_show], behaviour.WARMTH["meeting_no_show"])

    def _on_deal_stages(self, it: Items) -> None:
        self.rec.add("deal_stage", deal_id=it.ref, idx=it.idx, at=it.at, stage=it.code)
        won = it.code == STAGE["closedwon"]
        self.s.customer_at[it.idx[won]] = it.at[won]
        self._modified(it.idx[won], it.at[won])

    # ---- conversion ---------------------------------------------------------------------------
    def _conversions(self, day_start: float) -> None:
        day_end = day_start + DAY
        act = self.active(day_end)
        if not act.any():
            return
        idx = np.flatnonzero(act)
        h = behaviour.daily_hazard(self.t.fit[idx], self.t.latent[idx], self.s.warmth[idx])
        if self.cum_hazard is not None:
            self.cum_hazard[idx] += h
            return
        self.s.residual[idx] -= h
        conv = idx[self.s.residual[idx] <= 0]
        if len(conv):
            day_no = int(day_start // DAY)
            at = day_start + DAY * hash_uniform(self.seed, f"convert-{day_no}", self.t.contact_id[conv])
            at = np.maximum(at, self.t.created_at[conv] + 60.0)
            self.convert(conv, np.minimum(at, day_end - 1.0))

    def convert(self, idx: np.ndarray, at: np.ndarray) -> None:
        """Contacts `idx` become opportunities at `at`: a deal is created and starts its journey."""
        t, s = self.t, self.s
        at = np.round(np.asarray(at, dtype=np.float64), 3)
        deal_ids = self.ids.take("deal", len(idx))
        key = t.contact_id[idx]
        amount = np.round(
            _DEAL_BASE_AMOUNT[t.revenue_band[idx]] * np.exp(0.5 * ndtri(self._u("deal", key, 0))), -2
        )
        win = self._u("deal", key, 1) < behaviour.deal_win_probability(t.fit[idx], s.warmth[idx])
        close_days = 20 + 130 * self._u("deal", key, 2)
        lose_at = 1 + np.floor(4 * self._u("deal", key, 3)).astype(np.int64)  # lost after stage 1..4
        s.converted_at[idx] = at
        self._modified(idx, at)
        self.rec.add(
            "conversion",
            idx=idx,
            at=at,
            deal_id=deal_ids,
            amount=amount,
            expected_close=at + close_days * DAY,
            owner=t.owner[idx],
        )
        parts = []
        fractions = (0.1, 0.35, 0.6, 0.8)
        for k, frac in enumerate(fractions, start=1):
            go = win | (lose_at > k)
            parts.append(
                Items.make(K_DEAL_STAGE, (at + frac * close_days * DAY)[go], idx[go], deal_ids[go], k)
            )
        parts.append(
            Items.make(
                K_DEAL_STAGE, (at + close_days * DAY)[win], idx[win], deal_ids[win], STAGE["closedwon"]
            )
        )
        lost = ~win
        lost_at = at + (np.minimum(lose_at, 4) / 5.0) * close_days * DAY
        parts.append(Items.make(K_DEAL_STAGE, lost_at[lost], idx[lost], deal_ids[lost], STAGE["closedlost"]))
        self.schedule.push(Items.concat(parts))
