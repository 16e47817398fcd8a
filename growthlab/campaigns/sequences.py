"""What happens next in a contact's sequence: pure decisions from the last email's engagement.

The planner calls `next_action` for every active enrollment whose last email was sent. Events
count only if they happened at or before `now` (the run's logical time), so a rerun of an old
interval decides exactly as the first run did.

* Opens are human opens; a click implies an open.
* Conditions are judged when a follow-up is due: `no_open` fires for a contact who has not opened
  by then; `opened_no_click` and `clicked_no_reply` likewise. Replies never reach here: a reply
  stops the enrollment (growthlab.campaigns.signals).
* A click fast-tracks the next step: its wait shrinks to `follow_up.fast_track_days`.
* Fatigue: a contact whose last `after_unengaged` or more emails (any campaign) got no human open,
  click or reply gets wider gaps: wait x gap_multiplier^(streak - after_unengaged + 1), at most
  `max_gap_days`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from growthlab.campaigns.definitions import Campaign, Condition, Fatigue, Step, Variant


@dataclass(frozen=True)
class Engagement:
    """One sent email and what the recipient did with it."""

    step_id: str
    sent_at: datetime
    opened_at: datetime | None = None  # human opens only
    clicked_at: datetime | None = None
    replied_at: datetime | None = None
    bounced_at: datetime | None = None

    def _seen(self, ts: datetime | None, now: datetime) -> bool:
        return ts is not None and ts <= now

    def opened(self, now: datetime) -> bool:
        return self._seen(self.opened_at, now) or self.clicked(now)

    def clicked(self, now: datetime) -> bool:
        return self._seen(self.clicked_at, now)

    def replied(self, now: datetime) -> bool:
        return self._seen(self.replied_at, now)

    def engaged(self, now: datetime) -> bool:
        return self.opened(now) or self.replied(now)


def condition_holds(condition: Condition, last: Engagement, now: datetime) -> bool:
    if condition is Condition.NO_OPEN:
        return not last.opened(now)
    if condition is Condition.OPENED_NO_CLICK:
        return last.opened(now) and not last.clicked(now)
    if condition is Condition.CLICKED_NO_REPLY:
        return last.clicked(now)
    return True  # NO_REPLY


def unengaged_streak(history: Sequence[Engagement], now: datetime, lookback_days: int) -> int:
    """Consecutive most recent emails (sent by `now`, within the lookback) without engagement."""
    since = now - timedelta(days=lookback_days)
    streak = 0
    for item in sorted(
        (h for h in history if since <= h.sent_at <= now), key=lambda h: h.sent_at, reverse=True
    ):
        if item.engaged(now):
            break
        streak += 1
    return streak


def gap_days(
    step: Step, last: Engagement, now: datetime, fast_track_days: float, fatigue: Fatigue, streak: int
) -> float:
    wait = float(step.wait_days or 0)
    if last.clicked(now):
        return min(wait, fast_track_days)
    if streak >= fatigue.after_unengaged:
        widened = wait * fatigue.gap_multiplier ** (streak - fatigue.after_unengaged + 1)
        return max(wait, min(widened, fatigue.max_gap_days))
    return wait


@dataclass(frozen=True)
class Decision:
    kind: Literal["send", "wait", "complete", "stop"]
    step: Step | None = None
    due_at: datetime | None = None
    reason: str = ""


def next_action(campaign: Campaign, last: Engagement, now: datetime, streak: int = 0) -> Decision:
    """The next step of a sequence whose last email is `last`, as of `now`."""
    if last.replied(now):
        return Decision("stop", reason="replied")
    if last.bounced_at is not None and last.bounced_at <= now:
        return Decision("stop", reason="bounced")
    followers = campaign.followers(last.step_id)
    if not followers:
        return Decision("complete", reason="last step sent")
    latest_due = last.sent_at
    for step in followers:
        gap = gap_days(
            step, last, now, campaign.follow_up.fast_track_days, campaign.follow_up.fatigue, streak
        )
        due = last.sent_at + timedelta(days=gap)
        latest_due = max(latest_due, due)
        if condition_holds(step.when or Condition.NO_REPLY, last, now):
            if due <= now:
                return Decision("send", step=step, due_at=due, reason=(step.when or Condition.NO_REPLY).value)
            return Decision("wait", step=step, due_at=due, reason=f"{step.id} due {due:%Y-%m-%d %H:%M}")
    if now >= latest_due:
        return Decision("complete", reason="no follow-up condition met")
    return Decision("wait", due_at=latest_due, reason="waiting for a follow-up condition")


def _unit_interval(*parts: str) -> float:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_variant(
    campaign_id: str, step: Step, contact_id: str, weights: Mapping[str, float] | None = None
) -> Variant:
    """A weighted choice, deterministic per (campaign, step, contact): reruns pick the same variant.

    `weights` (e.g. from the optimiser's ops.campaign_settings) override the YAML weights of the
    variants they name; a weight of 0 switches a variant off.
    """
    weighted = []
    for v in step.variants:
        w = float(weights[v.id]) if weights and v.id in weights else v.weight
        if w > 0:
            weighted.append((v, w))
    if not weighted:
        weighted = [(v, v.weight) for v in step.variants]
    total = sum(w for _, w in weighted)
    point = _unit_interval(campaign_id, step.id, contact_id) * total
    acc = 0.0
    for variant, w in weighted:
        acc += w
        if point < acc:
            return variant
    return weighted[-1][0]
