"""Sequence decisions and sending windows (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from growthlab.campaigns.definitions import Window
from growthlab.campaigns.sequences import Engagement, choose_variant, next_action, unengaged_streak
from growthlab.campaigns.validation import load_campaign_file
from growthlab.campaigns.window import next_in_window
from tests.campaigns.conftest import CAMPAIGNS

T0 = datetime(2026, 9, 1, 9, tzinfo=UTC)
DECARB = load_campaign_file(CAMPAIGNS / "decarb_platform.yaml", CAMPAIGNS / "templates").campaign


def _at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def test_follow_ups_fire_on_their_conditions():
    silent = Engagement("intro", T0)
    assert next_action(DECARB, silent, _at(2.9)).kind == "wait"
    decision = next_action(DECARB, silent, _at(3))
    assert (decision.kind, decision.step.id) == ("send", "bump")
    opened = Engagement("intro", T0, opened_at=_at(1))
    assert next_action(DECARB, opened, _at(3.5)).kind == "wait"
    assert next_action(DECARB, opened, _at(4)).step.id == "case_study"
    # an open after the bump's due time came too late for the bump: the case study follows
    late_open = Engagement("intro", T0, opened_at=_at(3.2))
    assert next_action(DECARB, late_open, _at(4)).step.id == "case_study"


def test_a_click_fast_tracks_and_a_reply_stops():
    clicked = Engagement("intro", T0, opened_at=_at(0.1), clicked_at=_at(0.2))
    decision = next_action(DECARB, clicked, _at(1))
    assert (decision.kind, decision.step.id, decision.due_at) == ("send", "book_call", _at(1))
    replied = Engagement("intro", T0, clicked_at=_at(0.2), replied_at=_at(0.5))
    assert next_action(DECARB, replied, _at(1)).kind == "stop"
    # events after `now` do not count yet: a rerun of an older interval decides the same
    assert next_action(DECARB, replied, _at(0.4)).kind == "wait"


def test_fatigue_widens_the_gap_and_the_last_step_completes():
    history = [Engagement("intro", T0 - timedelta(days=d)) for d in (30, 20, 0)]
    streak = unengaged_streak(history, _at(3), lookback_days=60)
    assert streak == 3
    assert next_action(DECARB, history[-1], _at(3), streak).kind == "wait"
    # 3 days x 1.5^(3-2+1) = 6.75 days
    decision = next_action(DECARB, history[-1], _at(6.75), streak)
    assert (decision.kind, decision.step.id) == ("send", "bump")
    assert next_action(DECARB, Engagement("last_call", T0), _at(1)).kind == "complete"
    # after a bump nobody replied to: last_call, then complete
    assert next_action(DECARB, Engagement("bump", T0), _at(5)).step.id == "last_call"


def test_variant_choice_is_stable_and_follows_weights():
    step = DECARB.first_step
    picks = [choose_variant("decarb_platform", step, str(i)).id for i in range(2000)]
    assert picks == [choose_variant("decarb_platform", step, str(i)).id for i in range(2000)]
    assert 0.45 < picks.count("savings") / 2000 < 0.55
    skewed = [
        choose_variant("decarb_platform", step, str(i), {"savings": 3, "emissions": 1}).id
        for i in range(2000)
    ]
    assert 0.70 < skewed.count("savings") / 2000 < 0.80
    off = {choose_variant("decarb_platform", step, str(i), {"savings": 0}).id for i in range(200)}
    assert off == {"emissions"}


WINDOW = Window(days=("tue", "wed", "thu"), start="09:00", end="16:00")
ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata", "UTC"]


@settings(max_examples=300, deadline=None)
@given(
    minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    zone=st.sampled_from(ZONES),
)
def test_next_in_window_is_the_first_open_moment_at_or_after_due(minutes, zone):
    due = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    tz = ZoneInfo(zone)
    when = next_in_window(due, tz, WINDOW)
    local = when.astimezone(tz)
    assert when >= due
    assert local.strftime("%a").lower() in WINDOW.days
    assert WINDOW.start <= local.time() < WINDOW.end
    # nothing earlier qualifies: step back minute by minute to `due` across at most a week
    if when > due:
        probe = when - timedelta(minutes=1)
        inside = probe.astimezone(tz)
        assert probe < due or not (
            inside.strftime("%a").lower() in WINDOW.days and WINDOW.start <= inside.time() < WINDOW.end
        )
