"""The year before "today": what the company's previous marketing and sales team did, and what came of it.

The legacy team's playbook (the treatments of the history) is deliberately varied, so the history
holds the natural experiments a model and an optimiser learn from:

* newsletters every three weeks (Tuesday or Thursday, 14:00 UTC, so the local hour varies with
  the recipient's timezone), each an A/B test of two content angles, sent to a random subset of
  segments, through HubSpot marketing email (HubSpot's email events API);
* a three-step nurture for new contacts with a random angle, a random local send hour and random
  follow-up gaps;
* reps' one-to-one email sequences (logged as HubSpot email engagements; replies are
  INCOMING_EMAIL engagements), more often to contacts that look like a fit;
* reps' LinkedIn invitations (half with a note) and a message after most acceptances;
* meetings booked by reps after replies; deals for contacts that convert.

Responses come from `simulation.Simulator`, the same engine `advance` uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from growthlab.sandbox import behaviour, catalog
from growthlab.sandbox.population import Companies, Contacts, Owners
from growthlab.sandbox.rng import hash_uniform, stream
from growthlab.sandbox.simulation import (
    CH_HS_MARKETING,
    CH_HS_SALES,
    Ids,
    OwnerHours,
    Recorder,
    Schedule,
    Simulator,
    State,
    Traits,
)
from growthlab.sandbox.timeutil import DAY, HISTORY_DAYS, at_local_time

BLAST_EVERY_DAYS = 21
# Before the history the company's offer was narrower: contacts converted at a third of the rate.
PREHISTORY_HAZARD_SCALE = 0.35
CAMPAIGN_ID_BASE = 41_000_000
NURTURE_CAMPAIGN_BASE = 42_000_000
NURTURE_HOURS = np.array([7.0, 9.0, 10.0, 12.0, 14.0, 16.0, 19.0])

# Id ranges of objects created while simulating a block (each block has its own range).
BLOCK_ID_SPAN = 100_000_000
ID_BASES = {
    "email_send": 1_000_000_000_000,  # HubSpot marketing SENT event ids double as send refs
    "email_event": 2_000_000_000_000,
    "email": 40_000_000_001,  # HubSpot email engagements (sales emails and replies)
    "meeting": 30_000_000_001,
    "deal": 15_000_000_001,
    "li_invite": 500_000_001,
    "li_message": 600_000_001,
}


@dataclass(frozen=True)
class Blast:
    number: int
    day: int
    send_at: float
    angles: tuple[int, int]
    segments: np.ndarray  # bool per segment
    campaign_ids: tuple[int, int]


def blast_plan(seed: int, history_start: float) -> list[Blast]:
    rng = stream(seed, "blasts")
    blasts = []
    for k, d in enumerate(range(3, HISTORY_DAYS, BLAST_EVERY_DAYS)):
        weekday = (int(np.floor((history_start + d * DAY) / DAY)) + 3) % 7
        shift = next(s for s in range(7) if (weekday + s) % 7 in (1, 3))  # Tuesday or Thursday
        day = d + shift
        if day >= HISTORY_DAYS:
            break
        a, b = rng.choice(len(catalog.ANGLES), 2, replace=False)
        segments = rng.random(len(catalog.SEGMENTS)) < 0.6
        blasts.append(
            Blast(
                number=k,
                day=day,
                send_at=history_start + day * DAY + 14 * 3600.0,
                angles=(int(a), int(b)),
                segments=segments,
                campaign_ids=(CAMPAIGN_ID_BASE + 2 * k, CAMPAIGN_ID_BASE + 2 * k + 1),
            )
        )
    return blasts


def nurture_campaign_id(step: int, angle: int) -> int:
    return NURTURE_CAMPAIGN_BASE + 10 * step + angle


def traits_of(contacts: Contacts, companies: Companies) -> Traits:
    co = contacts.company
    return Traits(
        contact_id=contacts.id,
        company_id=companies.id[co],
        owner=companies.owner[co].astype(np.int64),
        segment=companies.segment[co].astype(np.int64),
        seniority=contacts.seniority.astype(np.int64),
        function=contacts.function.astype(np.int64),
        region=contacts.region.astype(np.int64),
        timezone=contacts.timezone.astype(np.int64),
        revenue_band=companies.revenue_band[co].astype(np.int64),
        fit=contacts.fit,
        latent=contacts.latent,
        responsiveness=contacts.responsiveness,
        apple=contacts.apple,
        invalid_email=contacts.invalid_email,
        consent_ok=contacts.consent_ok,
        has_linkedin=contacts.linkedin_slug != "",
        created_at=contacts.created_at,
    )


def owner_hours(owners: Owners) -> OwnerHours:
    return OwnerHours(
        timezone=np.array([catalog.TIMEZONES.index(tz) for tz in owners.timezone], dtype=np.int64),
        start_min=owners.workday_start_min.astype(np.float64),
        end_min=owners.workday_end_min.astype(np.float64),
        owner_id=owners.id,
        region=owners.region.astype(np.int64),
    )


@dataclass
class BlockHistory:
    traits: Traits
    state: State
    recorder: Recorder
    pending: Schedule
    ids: Ids


def simulate_block(
    seed: int,
    block_no: int,
    contacts: Contacts,
    companies: Companies,
    owners: Owners,
    history_start: float,
    blasts: list[Blast],
) -> BlockHistory:
    traits = traits_of(contacts, companies)
    state = State.fresh(contacts.residual, contacts.created_at)
    ids = Ids({k: base + block_no * BLOCK_ID_SPAN for k, base in ID_BASES.items()})
    recorder = Recorder()
    schedule = Schedule()
    hours = owner_hours(owners)
    sim = Simulator(seed, traits, state, hours, ids, recorder, schedule, legacy_followups=True)
    _prehistory(sim, history_start)
    nurture = _nurture_plan(seed, block_no, traits, history_start)
    blasts_by_day = {b.day: b for b in blasts}
    for d in range(HISTORY_DAYS):
        day_start = history_start + d * DAY
        sim.start_day()
        rng = stream(seed, "legacy-day", block_no, d)
        if d in blasts_by_day:
            _blast(sim, blasts_by_day[d], seed)
        _nurture(sim, nurture, day_start)
        weekday = (int(np.floor(day_start / DAY)) + 3) % 7
        if weekday < 5:
            _sales_sequences(sim, rng, day_start)
            _linkedin(sim, rng, day_start)
        sim.finish_day(day_start)
    return BlockHistory(traits=traits, state=state, recorder=recorder, pending=schedule, ids=ids)


def _prehistory(sim: Simulator, history_start: float) -> None:
    """Contacts older than the history have been exposed to the base hazard (no engagement)."""
    t = sim.t
    before = t.created_at < history_start
    idx = np.flatnonzero(before)
    if len(idx) == 0:
        return
    daily = PREHISTORY_HAZARD_SCALE * behaviour.daily_hazard(t.fit[idx], t.latent[idx], np.zeros(len(idx)))
    exposure_days = (history_start - t.created_at[idx]) / DAY
    spent = daily * exposure_days
    converted = sim.s.residual[idx] <= spent
    conv = idx[converted]
    if len(conv):
        at = t.created_at[conv] + sim.s.residual[conv] / daily[converted] * DAY
        sim.convert(conv, np.minimum(at, history_start - 3600.0))
    sim.s.residual[idx[~converted]] -= spent[~converted]


def _mailable(sim: Simulator, until: float) -> np.ndarray:
    s = sim.s
    return sim.active(until) & ~s.hs_optout & sim.t.consent_ok


def _blast(sim: Simulator, blast: Blast, seed: int) -> None:
    eligible = _mailable(sim, blast.send_at) & blast.segments[sim.t.segment]
    idx = np.flatnonzero(eligible)
    if len(idx) == 0:
        return
    cid = sim.t.contact_id[idx]
    variant = (hash_uniform(seed, f"blast-{blast.number}", cid) < 0.5).astype(np.int64)
    angle = np.array(blast.angles)[variant]
    at = blast.send_at + 7200.0 * hash_uniform(seed, f"blast-{blast.number}", cid, 1)
    refs = sim.ids.take("email_send", len(idx))
    sim.send_emails(idx, at, refs, channel=CH_HS_MARKETING, sales_style=False, angle=angle, step=1)
    sim.rec.add("campaign_send", ref=refs, campaign=np.array(blast.campaign_ids)[variant])


@dataclass
class _Nurture:
    times: np.ndarray  # [n, 3] send times (nan: not enrolled)
    angles: np.ndarray  # [n, 3]


def _nurture_plan(seed: int, block_no: int, t: Traits, history_start: float) -> _Nurture:
    n = len(t)
    rng = stream(seed, "nurture", block_no)
    enrolled = (t.created_at >= history_start) & t.consent_ok
    hour = NURTURE_HOURS[rng.integers(0, len(NURTURE_HOURS), n)] + rng.random(n) * 0.5
    day1 = np.floor(t.created_at / DAY) * DAY + DAY
    t1 = at_local_time(day1, t.timezone, hour)
    gap2 = rng.integers(1, 11, n) * DAY + rng.normal(0, 3600, n)
    gap3 = rng.integers(2, 13, n) * DAY + rng.normal(0, 3600, n)
    times = np.stack([t1, t1 + gap2, t1 + gap2 + gap3], axis=1)
    times[~enrolled] = np.nan
    angles = rng.integers(0, len(catalog.ANGLES), (n, 3))
    return _Nurture(times=times, angles=angles)


def _nurture(sim: Simulator, plan: _Nurture, day_start: float) -> None:
    day_end = day_start + DAY
    due = (plan.times >= day_start) & (plan.times < day_end)
    if not due.any():
        return
    idx, step = np.nonzero(due)
    keep = _mailable(sim, day_end)[idx]
    idx, step = idx[keep], step[keep]
    if len(idx) == 0:
        return
    refs = sim.ids.take("email_send", len(idx))
    angle = plan.angles[idx, step]
    sim.send_emails(
        idx,
        plan.times[idx, step],
        refs,
        channel=CH_HS_MARKETING,
        sales_style=False,
        angle=angle,
        step=step + 1,
    )
    sim.rec.add("campaign_send", ref=refs, campaign=NURTURE_CAMPAIGN_BASE + 10 * (step + 1) + angle)


def _rep_time(sim: Simulator, rng: np.random.Generator, idx: np.ndarray, day_start: float) -> np.ndarray:
    owner = sim.t.owner[idx]
    o = sim.owners
    minutes = o.start_min[owner] + rng.random(len(idx)) * (o.end_min[owner] - o.start_min[owner] - 15)
    return at_local_time(day_start, o.timezone[owner], minutes / 60.0)


def _sales_sequences(sim: Simulator, rng: np.random.Generator, day_start: float) -> None:
    s, t = sim.s, sim.t
    day_end = day_start + DAY
    # Follow-ups due today, unless the contact replied since the sequence started.
    due = (s.seq_step > 0) & (s.seq_next < day_end)
    if due.any():
        idx = np.flatnonzero(due)
        replied = s.last_reply_at[idx] >= s.sales_touched_at[idx] - 30 * DAY
        stop = replied | ~np.isnan(s.converted_at[idx]) | (s.seq_step[idx] >= 3) | s.hs_bounced[idx]
        s.seq_step[idx[stop]] = 0
        go = idx[~stop]
        if len(go):
            at = _rep_time(sim, rng, go, day_start)
            refs = sim.ids.take("email", len(go))
            step = s.seq_step[go].astype(np.int64) + 1
            sim.send_emails(
                go,
                at,
                refs,
                channel=CH_HS_SALES,
                sales_style=True,
                angle=rng.integers(0, 4, len(go)),
                step=step,
            )
            sim.rec.add("sales_thread", ref=refs, first_ref=s.seq_ref[go])
            s.seq_step[go] = step
            s.seq_next[go] = at + rng.integers(2, 9, len(go)) * DAY
    # New sequences: reps prefer contacts that look like a fit.
    recent = ~np.isnan(s.sales_touched_at) & (s.sales_touched_at > day_start - 90 * DAY)
    eligible = sim.active(day_end) & (s.seq_step == 0) & ~recent & ~s.hs_bounced
    idx = np.flatnonzero(eligible)
    if len(idx) == 0:
        return
    p = 0.004 * 2 * behaviour.sigmoid(t.fit[idx] - 0.8)
    go = idx[rng.random(len(idx)) < p]
    if len(go) == 0:
        return
    at = _rep_time(sim, rng, go, day_start)
    refs = sim.ids.take("email", len(go))
    sim.send_emails(
        go, at, refs, channel=CH_HS_SALES, sales_style=True, angle=rng.integers(0, 4, len(go)), step=1
    )
    sim.rec.add("sales_thread", ref=refs, first_ref=refs)
    s.seq_step[go] = 1
    s.seq_ref[go] = refs
    s.seq_next[go] = at + rng.integers(2, 9, len(go)) * DAY


def _linkedin(sim: Simulator, rng: np.random.Generator, day_start: float) -> None:
    s, t = sim.s, sim.t
    day_end = day_start + DAY
    eligible = sim.active(day_end) & t.has_linkedin & ~s.li_invited
    idx = np.flatnonzero(eligible)
    if len(idx):
        p = 0.0012 * np.where(t.seniority[idx] <= 2, 1.5, 1.0)
        go = idx[rng.random(len(idx)) < p]
        if len(go):
            at = _rep_time(sim, rng, go, day_start)
            refs = sim.ids.take("li_invite", len(go))
            has_note = rng.random(len(go)) < 0.5
            sim.send_li_invites(go, at, refs, has_note)
            sim.rec.add("li_invite", ref=refs, idx=go, at=at, has_note=has_note)
    due = ~np.isnan(s.li_msg_due) & (s.li_msg_due < day_end)
    if due.any():
        idx = np.flatnonzero(due)
        s.li_msg_due[idx] = np.nan
        go = idx[np.isnan(s.converted_at[idx])]
        if len(go):
            at = _rep_time(sim, rng, go, day_start)
            refs = sim.ids.take("li_message", len(go))
            sim.send_li_messages(go, at, refs, rng.integers(0, 4, len(go)))
