"""Plan a run: enrol new contacts and schedule due follow-ups as `planned` outbox rows.

Idempotent for its logical time `now`: enrollments are unique per (campaign, contact) and outbox
rows per idempotency key (campaign:step:contact), so planning the same interval twice adds
nothing. Each campaign is planned in one transaction under an advisory lock.

Daily caps count outbox rows by the UTC day they are scheduled for; a follow-up that does not fit
moves to the next window day, a new enrollment that does not fit waits for a later run.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from growthlab.campaigns.audience import eligible_contacts, recipients_by_id, suppressed_sql
from growthlab.campaigns.compliance import email_sha256, may_email
from growthlab.campaigns.definitions import Campaign, Step
from growthlab.campaigns.sequences import Engagement, choose_variant, next_action, unengaged_streak
from growthlab.campaigns.settings import variant_weights
from growthlab.campaigns.validation import Catalog, LoadedCampaign
from growthlab.campaigns.window import next_in_window, next_window_day_start, zone

log = logging.getLogger(__name__)
MAX_CAP_SHIFT_DAYS = 14


@dataclass
class CampaignPlan:
    campaign_id: str
    enrolled: int = 0
    followups: int = 0
    completed: int = 0
    stopped: int = 0
    waiting: int = 0
    skipped: str | None = None
    stop_reasons: dict[str, int] = field(default_factory=dict)


class _Capacity:
    """Outbox rows per scheduled UTC day against the campaign's daily cap."""

    def __init__(self, conn: psycopg.Connection, campaign: Campaign) -> None:
        self.cap = campaign.schedule.daily_cap
        self.used: dict[date, int] = defaultdict(int)
        for day, n in conn.execute(
            """
            select (scheduled_at at time zone 'UTC')::date, count(*) from ops.outbox
            where campaign_id = %s and status <> 'cancelled' group by 1
            """,
            (campaign.id,),
        ):
            self.used[day] = int(n)

    def fits(self, when: datetime) -> bool:
        return self.used[when.date()] < self.cap

    def take(self, when: datetime) -> None:
        self.used[when.date()] += 1


def _slot(campaign: Campaign, due: datetime, tz_name: str | None, capacity: _Capacity, shift: bool):
    tz, tz_used = zone(tz_name, campaign.schedule.default_timezone)
    when = next_in_window(due, tz, campaign.schedule.window)
    for _ in range(MAX_CAP_SHIFT_DAYS):
        if capacity.fits(when):
            return when, tz_used
        if not shift:
            return None, tz_used
        when = next_window_day_start(when, tz, campaign.schedule.window)
    return None, tz_used


class _Emails:
    """Outbox rows planned in this run, written in one round trip by `flush`."""

    def __init__(self, campaign: Campaign, now: datetime, weights: dict[str, dict[str, float]]) -> None:
        self.campaign, self.now, self.weights = campaign, now, weights
        self.rows: list[tuple] = []

    def add(
        self,
        step: Step,
        enrollment_id: int,
        recipient: dict[str, Any],
        due: datetime,
        scheduled: datetime,
        tz_name: str,
    ) -> None:
        campaign = self.campaign
        variant = choose_variant(campaign.id, step, recipient["contact_id"], self.weights.get(step.id))
        name = " ".join(p for p in (recipient.get("first_name"), recipient.get("last_name")) if p) or None
        self.rows.append(
            (
                f"{campaign.id}:{step.id}:{recipient['contact_id']}",
                campaign.id,
                step.id,
                variant.id,
                variant.angle,
                enrollment_id,
                recipient["contact_id"],
                recipient.get("company_id"),
                recipient["email"].strip(),
                name,
                email_sha256(recipient["email"]),
                tz_name,
                due,
                scheduled,
                self.now,
            )
        )

    def flush(self, conn: psycopg.Connection) -> int:
        """Insert the rows (existing idempotency keys are skipped); returns how many were new."""
        if not self.rows:
            return 0
        columns = list(zip(*self.rows, strict=True))
        inserted = conn.execute(
            """
            with new as (
                insert into ops.outbox (idempotency_key, campaign_id, step_id, variant_id, angle, enrollment_id,
                                        contact_id, company_id, to_email, to_name, email_sha256, recipient_timezone,
                                        due_at, scheduled_at, planned_at)
                select * from unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[],
                                     %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                                     %s::timestamptz[], %s::timestamptz[], %s::timestamptz[])
                on conflict (idempotency_key) do nothing
                returning enrollment_id, step_id
            ),
            steps as (
                update ops.campaign_enrollments e set last_step_id = new.step_id, updated_at = now()
                from new where e.enrollment_id = new.enrollment_id
                returning 1
            )
            select count(*) from new
            """,
            [list(c) for c in columns],
        ).fetchone()[0]
        self.rows.clear()
        return int(inserted)


def _end_enrollment(
    conn: psycopg.Connection, enrollment_id: int, status: str, reason: str, now: datetime
) -> None:
    conn.execute(
        """
        update ops.campaign_enrollments set status = %s, stopped_reason = %s, ended_at = %s, updated_at = now()
        where enrollment_id = %s and status = 'active'
        """,
        (status, reason if status == "stopped" else None, now, enrollment_id),
    )


def _plan_followups(
    conn: psycopg.Connection,
    loaded: LoadedCampaign,
    now: datetime,
    capacity: _Capacity,
    result: CampaignPlan,
    weights,
) -> None:
    campaign = loaded.campaign
    with conn.cursor(row_factory=dict_row) as cur:
        rows = list(
            cur.execute(
                """
                select e.enrollment_id, e.contact_id, o.step_id, o.status, o.status_reason, o.sent_at, o.opened_at,
                       o.clicked_at, o.replied_at, o.bounced_at
                from ops.campaign_enrollments e
                join lateral (
                    select * from ops.outbox o where o.enrollment_id = e.enrollment_id
                    order by o.outbox_id desc limit 1
                ) o on true
                where e.campaign_id = %s and e.status = 'active'
                """,
                (campaign.id,),
            )
        )
    if not rows:
        return
    contact_ids = [r["contact_id"] for r in rows]
    history: dict[str, list[Engagement]] = defaultdict(list)
    for row in conn.execute(
        """
        select contact_id, step_id, sent_at, opened_at, clicked_at, replied_at, bounced_at from ops.outbox
        where contact_id = any(%s::text[]) and status = 'sent' and sent_at <= %s
        """,
        (contact_ids, now),
    ):
        history[row[0]].append(Engagement(*row[1:]))
    recipients = recipients_by_id(conn, contact_ids)
    emails = _Emails(campaign, now, weights)
    for row in rows:
        if row["status"] in ("planned", "ready", "sending"):
            result.waiting += 1
            continue
        if row["status"] in ("failed", "cancelled"):
            _end_enrollment(
                conn, row["enrollment_id"], "stopped", f"{row['status']}: {row['status_reason']}", now
            )
            result.stopped += 1
            continue
        if row["sent_at"] is None or row["sent_at"] > now:
            result.waiting += 1
            continue
        last = Engagement(
            row["step_id"],
            row["sent_at"],
            row["opened_at"],
            row["clicked_at"],
            row["replied_at"],
            row["bounced_at"],
        )
        streak = unengaged_streak(history[row["contact_id"]], now, campaign.follow_up.fatigue.lookback_days)
        decision = next_action(campaign, last, now, streak)
        if decision.kind == "wait":
            result.waiting += 1
            continue
        if decision.kind in ("complete", "stop"):
            _end_enrollment(
                conn,
                row["enrollment_id"],
                "completed" if decision.kind == "complete" else "stopped",
                decision.reason,
                now,
            )
            if decision.kind == "complete":
                result.completed += 1
            else:
                result.stopped += 1
                result.stop_reasons[decision.reason] = result.stop_reasons.get(decision.reason, 0) + 1
            continue
        recipient = recipients.get(row["contact_id"])
        reason = _recipient_blocker(conn, campaign, recipient)
        if reason:
            _end_enrollment(conn, row["enrollment_id"], "stopped", reason, now)
            result.stopped += 1
            result.stop_reasons[reason] = result.stop_reasons.get(reason, 0) + 1
            continue
        assert decision.step is not None and decision.due_at is not None
        scheduled, tz_name = _slot(
            campaign, max(decision.due_at, now), _tz_of(recipient), capacity, shift=True
        )
        if scheduled is None:
            result.waiting += 1
            continue
        emails.add(decision.step, row["enrollment_id"], recipient, decision.due_at, scheduled, tz_name)
        capacity.take(scheduled)
    result.followups += emails.flush(conn)


def _tz_of(recipient: dict[str, Any]) -> str | None:
    return recipient.get("timezone") or recipient.get("company_timezone")


def _recipient_blocker(
    conn: psycopg.Connection, campaign: Campaign, recipient: dict[str, Any] | None
) -> str | None:
    """Why this contact may no longer be emailed (None: it may)."""
    if recipient is None:
        return "contact_gone"
    if not recipient.get("email"):
        return "no_email"
    allowed, why = may_email(
        recipient.get("country"),
        recipient.get("company_country"),
        recipient.get("marketing_consent"),
        recipient.get("email_optout"),
        campaign.consent,
    )
    if not allowed:
        return why
    if recipient.get("can_email") is False:
        return "marts_can_email_false"
    hit = conn.execute(
        "select " + suppressed_sql("%(email)s", "%(contact_id)s"),
        {"email": recipient["email"], "contact_id": recipient["contact_id"]},
    ).fetchone()[0]
    return "suppressed" if hit else None


def _plan_enrollments(
    conn: psycopg.Connection,
    loaded: LoadedCampaign,
    now: datetime,
    capacity: _Capacity,
    result: CampaignPlan,
    weights,
) -> None:
    campaign = loaded.campaign
    schedule = campaign.schedule
    today = now.date()
    if today < schedule.start or (schedule.end is not None and today > schedule.end):
        result.skipped = "outside the campaign's start/end dates"
        return
    enrolled_today = conn.execute(
        "select count(*) from ops.campaign_enrollments where campaign_id = %s and enrolled_at::date = %s::date",
        (campaign.id, now),
    ).fetchone()[0]
    room = campaign.audience.max_new_per_day - int(enrolled_today)
    if room <= 0:
        return
    chosen: list[tuple[dict[str, Any], datetime, str]] = []
    for recipient in eligible_contacts(conn, campaign, now, room):
        scheduled, tz_name = _slot(campaign, now, _tz_of(recipient), capacity, shift=False)
        if scheduled is None:
            continue  # today's cap is full for this slot: a later run enrols them
        capacity.take(scheduled)
        chosen.append((recipient, scheduled, tz_name))
    if not chosen:
        return
    enrolled = dict(
        conn.execute(
            """
            insert into ops.campaign_enrollments (campaign_id, contact_id, company_id, enrolled_at,
                                                  score_at_enrollment, grade_at_enrollment)
            select %s, c, co, %s, sc, g from unnest(%s::text[], %s::text[], %s::float8[], %s::text[]) as t(c, co, sc, g)
            on conflict (campaign_id, contact_id) do nothing
            returning contact_id, enrollment_id
            """,
            (
                campaign.id,
                now,
                [r["contact_id"] for r, _, _ in chosen],
                [r.get("company_id") for r, _, _ in chosen],
                [r.get("score") for r, _, _ in chosen],
                [r.get("grade") for r, _, _ in chosen],
            ),
        ).fetchall()
    )
    emails = _Emails(campaign, now, weights)
    for recipient, scheduled, tz_name in chosen:
        if recipient["contact_id"] in enrolled:
            emails.add(
                campaign.first_step, enrolled[recipient["contact_id"]], recipient, now, scheduled, tz_name
            )
    result.enrolled += emails.flush(conn)


def plan_campaign(
    conn: psycopg.Connection, loaded: LoadedCampaign, now: datetime, actor: str
) -> CampaignPlan:
    campaign = loaded.campaign
    result = CampaignPlan(campaign.id)
    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(hashtext('growthlab.campaign.plan:' || %s))", (campaign.id,)
        )
        capacity = _Capacity(conn, campaign)
        weights = variant_weights(conn, campaign.id, now)
        _plan_followups(conn, loaded, now, capacity, result, weights)
        _plan_enrollments(conn, loaded, now, capacity, result, weights)
        if result.enrolled or result.followups or result.completed or result.stopped:
            conn.execute(
                "insert into ops.audit_log (actor, action, subject_type, subject_id, details) "
                "values (%s, 'campaign.planned', 'campaign', %s, %s)",
                (actor, campaign.id, json.dumps({"now": now.isoformat(), **_counts(result)})),
            )
    log.info("planned %s at %s: %s", campaign.id, now.isoformat(), _counts(result))
    return result


def _counts(result: CampaignPlan) -> dict[str, Any]:
    return {
        "enrolled": result.enrolled,
        "followups": result.followups,
        "completed": result.completed,
        "stopped": result.stopped,
        "waiting": result.waiting,
        "stop_reasons": result.stop_reasons,
    }


def plan(conn: psycopg.Connection, catalog: Catalog, now: datetime, actor: str) -> list[CampaignPlan]:
    """Plan every active campaign of the catalog for the logical time `now`."""
    return [plan_campaign(conn, loaded, now, actor) for loaded in catalog.active()]
