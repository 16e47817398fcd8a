"""The behaviour model: the ground truth of how the simulated market responds.

Everything the world does is drawn from the functions here, in the generated history and in
`advance` alike, so what the pipeline learns from the history holds for the future.

Conversion (a contact becomes an opportunity) follows a daily hazard

    h(t) = BASE_HAZARD * exp(fit + u + WARMTH_WEIGHT * warmth(t))

* `fit` is a function of what HubSpot shows about the contact and its company (firmographics,
  sustainability profile, role, seniority, lead source, region): `fit_logit`;
* `u` is a small unobserved, per-contact component (sd `LATENT_SD`);
* `warmth` is the sum of the contact's engagement (human opens, clicks, replies, LinkedIn
  acceptances and replies, meetings), each decaying with a half-life of `WARMTH_HALF_LIFE_DAYS`.
  Every increment is observable by the pipeline except the human opens of Apple Mail users
  (hidden behind machine opens).

Each contact carries an Exp(1) threshold ("residual"), fixed when the world is generated; the
contact converts on the day its cumulative hazard reaches it. The true 90-day propensity as of a
date is therefore `1 - exp(-H90)` where H90 is the hazard the contact accumulates in 90 days
without further treatment, and the truth's `converted` flag is `residual <= H90`: what `advance`
produces when the pipeline does nothing. Treatments (emails, LinkedIn, meetings) only add warmth,
so they can only bring conversions forward.

Responses to a treatment depend on the content angle by segment and job function
(`ANGLE_EFFECT`), the local hour and weekday of delivery (`HOUR_EFFECT`), the gap since the
previous touch, the channel, and fatigue (a decaying count of recent touches, half-life
`FATIGUE_HALF_LIFE_DAYS`), which lowers response and raises unsubscribes and spam reports.
Invalid addresses bounce; Apple Mail users' mail is machine-opened (`sg_machine_open`).
"""

from __future__ import annotations

import numpy as np

from growthlab.sandbox.catalog import (
    ANGLES,
    FUNDING_STAGES,
    JOB_FUNCTIONS,
    LEAD_SOURCES,
    REGIONS,
    REVENUE_BANDS,
    SBTI_STATUSES,
    SEGMENTS,
    SENIORITIES,
)

# ---- conversion -------------------------------------------------------------------------------
BASE_HAZARD = 3.0e-4  # per day, at fit = u = warmth = 0
WARMTH_WEIGHT = 1.0
WARMTH_HALF_LIFE_DAYS = 30.0
FATIGUE_HALF_LIFE_DAYS = 10.0
LATENT_SD = 0.3
RESPONSIVENESS_SD = 0.5
HORIZON_DAYS = 90

WARMTH_DECAY_PER_DAY = 0.5 ** (1.0 / WARMTH_HALF_LIFE_DAYS)
FATIGUE_DECAY_PER_DAY = 0.5 ** (1.0 / FATIGUE_HALF_LIFE_DAYS)

# Warmth added by each observable kind of engagement.
WARMTH = {
    "human_open": 0.15,
    "click": 0.60,
    "reply": 1.20,
    "li_accept": 0.40,
    "li_reply": 1.00,
    "meeting_completed": 1.60,
    "meeting_no_show": 0.10,
}
# Fatigue added by each touch.
FATIGUE = {"email": 1.0, "li_message": 0.7, "li_invite": 0.3}

# ---- fit: the observable part of the hazard ------------------------------------------------
_SEGMENT = dict(
    zip(
        SEGMENTS,
        (0.10, -0.10, 0.30, 0.00, -0.30, 0.20, 0.40, -0.20, 0.35, 0.15),
        strict=True,
    )
)
_SENIORITY = dict(zip(SENIORITIES, (0.10, 0.45, 0.50, 0.15, -0.50), strict=True))
_FUNCTION = dict(zip(JOB_FUNCTIONS, (0.20, 0.55, 0.25, 0.00, 0.20, -0.10, -0.60), strict=True))
_REVENUE = dict(zip(REVENUE_BANDS, (-0.80, -0.20, 0.30, 0.50, 0.30, 0.00), strict=True))
_FUNDING = dict(zip(FUNDING_STAGES, (-0.30, -0.40, 0.00, 0.25, 0.35, 0.15, 0.20), strict=True))
_SBTI = dict(zip(SBTI_STATUSES, (-0.35, 0.20, 0.40, 0.35), strict=True))
_SOURCE = dict(zip(LEAD_SOURCES, (0.20, -0.10, 0.00, -0.20, 0.60, -0.10, 0.25, 0.40), strict=True))
_REGION = dict(zip(REGIONS, (0.10, 0.15, -0.20, -0.30), strict=True))


def _lookup(table: dict[str, float], order: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    return np.array([table[v] for v in order])[np.asarray(codes, dtype=np.int64)]


def fit_logit(
    *,
    segment: np.ndarray,
    seniority: np.ndarray,
    function: np.ndarray,
    revenue_band: np.ndarray,
    funding: np.ndarray,
    sbti: np.ndarray,
    esg_score: np.ndarray,
    renewable_share: np.ndarray,
    emissions_intensity: np.ndarray,
    has_b_corp: np.ndarray,
    has_iso_14001: np.ndarray,
    certification_count: np.ndarray,
    source: np.ndarray,
    region: np.ndarray,
) -> np.ndarray:
    """The observable log-hazard offset of each contact (codes index the catalog tuples)."""
    z = (
        _lookup(_SEGMENT, SEGMENTS, segment)
        + _lookup(_SENIORITY, SENIORITIES, seniority)
        + _lookup(_FUNCTION, JOB_FUNCTIONS, function)
        + _lookup(_REVENUE, REVENUE_BANDS, revenue_band)
        + _lookup(_FUNDING, FUNDING_STAGES, funding)
        + _lookup(_SBTI, SBTI_STATUSES, sbti)
        + _lookup(_SOURCE, LEAD_SOURCES, source)
        + _lookup(_REGION, REGIONS, region)
    )
    esg = np.asarray(esg_score, dtype=np.float64)
    # Saturating: disclosure matters up to a point.
    z = z + 0.9 * np.tanh((esg - 45.0) / 25.0)
    z = z + 0.004 * (np.asarray(renewable_share, dtype=np.float64) - 40.0)
    z = z - 0.25 * (
        np.log(np.maximum(np.asarray(emissions_intensity, dtype=np.float64), 1.0)) - np.log(100.0)
    )
    z = (
        z
        + 0.20 * np.asarray(has_b_corp, dtype=np.float64)
        + 0.15 * np.asarray(has_iso_14001, dtype=np.float64)
    )
    z = z + 0.05 * np.asarray(certification_count, dtype=np.float64)
    # Interactions a tree model can find.
    fn = np.asarray(function)
    sb = np.asarray(sbti)
    committed = (sb == SBTI_STATUSES.index("targets_set")) | (sb == SBTI_STATUSES.index("net_zero_committed"))
    z = z + 0.35 * ((fn == JOB_FUNCTIONS.index("sustainability")) & committed)
    big = np.asarray(revenue_band) == REVENUE_BANDS.index(">1B")
    z = z - 0.35 * ((np.asarray(seniority) == SENIORITIES.index("individual_contributor")) & big)
    return z


def daily_hazard(fit: np.ndarray, latent: np.ndarray, warmth: np.ndarray) -> np.ndarray:
    return BASE_HAZARD * np.exp(fit + latent + WARMTH_WEIGHT * warmth)


def horizon_hazard(
    fit: np.ndarray, latent: np.ndarray, warmth: np.ndarray, days: int = HORIZON_DAYS
) -> np.ndarray:
    """Cumulative hazard over `days` days from a warmth that only decays (no new engagement)."""
    steps = WARMTH_DECAY_PER_DAY ** np.arange(1, days + 1)
    w = np.asarray(warmth, dtype=np.float64)[:, None] * steps[None, :]
    return (BASE_HAZARD * np.exp(np.asarray(fit + latent)[:, None] + WARMTH_WEIGHT * w)).sum(axis=1)


def propensity(cumulative_hazard: np.ndarray) -> np.ndarray:
    return 1.0 - np.exp(-np.asarray(cumulative_hazard, dtype=np.float64))


# ---- treatment response -----------------------------------------------------------------------
# Effect of the content angle on open/click/reply, by segment (rows) and angle (columns).
ANGLE_EFFECT = np.array(
    [
        # cost_savings, emissions_reduction, compliance, case_study
        [0.45, -0.10, -0.20, 0.15],  # solar
        [0.10, 0.05, -0.15, 0.40],  # wind
        [0.40, -0.15, -0.10, 0.20],  # storage
        [0.30, 0.10, -0.25, 0.15],  # ev_charging
        [-0.10, 0.35, 0.10, 0.25],  # hydrogen
        [0.40, 0.05, 0.15, -0.05],  # heat_pumps
        [-0.20, 0.30, 0.50, 0.05],  # carbon_management
        [0.00, 0.40, 0.20, -0.05],  # circular_materials
        [0.20, -0.10, 0.05, 0.45],  # grid_software
        [0.25, 0.05, 0.40, 0.00],  # building_efficiency
    ]
)
# Job functions shift the preference.
FUNCTION_ANGLE_EFFECT = np.array(
    [
        [0.00, 0.00, 0.00, 0.25],  # executive
        [-0.10, 0.35, 0.10, 0.00],  # sustainability
        [0.15, 0.00, 0.00, 0.05],  # operations
        [0.05, 0.00, -0.10, 0.20],  # engineering
        [0.30, -0.10, 0.05, 0.00],  # procurement
        [0.30, -0.10, 0.10, 0.00],  # finance
        [0.00, 0.10, -0.10, 0.20],  # marketing
    ]
)
# Effect of the local hour of delivery on opening (index: hour 0-23).
HOUR_EFFECT = np.array(
    [
        -0.7,
        -0.7,
        -0.7,
        -0.7,
        -0.7,
        -0.7,
        -0.3,
        0.0,
        0.25,
        0.35,
        0.35,
        0.2,
        0.0,
        0.15,
        0.15,
        0.05,
        0.0,
        -0.1,
        -0.25,
        -0.25,
        -0.25,
        -0.25,
        -0.5,
        -0.5,
    ]
)
WEEKEND_EFFECT = -0.45
# Replies by seniority (executives answer less often by email, more on LinkedIn).
_SENIORITY_REPLY = np.array([-0.40, -0.10, 0.10, 0.20, 0.10])
_SENIORITY_LINKEDIN = np.array([0.50, 0.25, 0.0, -0.10, -0.20])  # LinkedIn vs email, for replies
_SENIORITY_ACCEPT = np.array([-0.60, -0.30, 0.00, 0.20, 0.30])

CHANNEL_MARKETING = 0  # a newsletter or nurture email
CHANNEL_SALES = 1  # a one-to-one email from the contact's owner
CHANNELS = ("marketing", "sales")

MACHINE_OPEN_RATE = 0.92  # share of mail to Apple Mail users that is machine-opened
DEFERRED_RATE = 0.02
APPLE_MAIL_SHARE = 0.35
INVALID_EMAIL_SHARE = 0.04


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def angle_effect(segment: np.ndarray, function: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Angle effect per contact; angle codes outside ANGLES (-1: unknown) have no effect."""
    angle = np.asarray(angle, dtype=np.int64)
    known = (angle >= 0) & (angle < len(ANGLES))
    a = np.where(known, angle, 0)
    seg = np.asarray(segment, dtype=np.int64)
    fn = np.asarray(function, dtype=np.int64)
    return np.where(known, ANGLE_EFFECT[seg, a] + FUNCTION_ANGLE_EFFECT[fn, a], 0.0)


def gap_open_effect(gap_days: np.ndarray) -> np.ndarray:
    """Effect of the days since the previous touch on opening (nan: first touch)."""
    g = np.asarray(gap_days, dtype=np.float64)
    out = np.zeros_like(g)
    out = np.where(g < 1, -0.40, out)
    out = np.where((g >= 1) & (g < 3), -0.15, out)
    out = np.where((g >= 3) & (g <= 7), 0.10, out)
    return np.where(np.isnan(g), 0.0, out)


def gap_unsub_effect(gap_days: np.ndarray) -> np.ndarray:
    g = np.asarray(gap_days, dtype=np.float64)
    out = np.where(g < 1, 1.0, np.where(g < 3, 0.5, 0.0))
    return np.where(np.isnan(g), 0.0, out)


def email_response_probabilities(
    *,
    fit: np.ndarray,
    responsiveness: np.ndarray,
    segment: np.ndarray,
    function: np.ndarray,
    seniority: np.ndarray,
    angle: np.ndarray,
    local_hour: np.ndarray,
    weekday: np.ndarray,
    step: np.ndarray,
    gap_days: np.ndarray,
    fatigue: np.ndarray,
    channel: np.ndarray | int,
    consent_missing: np.ndarray,
) -> dict[str, np.ndarray]:
    """Probabilities of a delivered email's human open, click|open, reply|open, unsubscribe, spam."""
    fit = np.asarray(fit, dtype=np.float64)
    n = fit.shape[0]
    channel = np.broadcast_to(np.asarray(channel), (n,))
    step = np.asarray(step, dtype=np.int64)
    gap = np.asarray(gap_days, dtype=np.float64)
    fat = np.asarray(fatigue, dtype=np.float64)
    ang = angle_effect(segment, function, angle)
    hour = HOUR_EFFECT[np.asarray(local_hour, dtype=np.int64) % 24]
    weekend = np.where(np.asarray(weekday) >= 5, WEEKEND_EFFECT, 0.0)
    sales = channel == CHANNEL_SALES
    step_effect = np.where(step <= 1, 0.0, np.where(step == 2, -0.10, -0.25))
    follow_up_timing = np.where((step >= 2) & (gap >= 3) & (gap <= 7), 0.30, 0.0)
    open_logit = (
        -1.0
        + 0.25 * fit
        + np.asarray(responsiveness)
        + ang
        + hour
        + weekend
        + step_effect
        + gap_open_effect(gap)
        - 0.30 * fat
        + np.where(sales, 0.4, 0.0)
    )
    click_logit = -1.6 + 0.30 * fit + 1.0 * ang - 0.15 * fat + np.where(sales, -0.5, 0.0)
    reply_logit = (
        -4.2
        + 0.35 * fit
        + 0.6 * ang
        + _SENIORITY_REPLY[np.asarray(seniority, dtype=np.int64)]
        + np.where(sales, 2.2, 0.0)
        + follow_up_timing
        - 0.20 * fat
        + 0.5 * np.asarray(responsiveness)
    )
    unsub_logit = (
        -5.2 + 0.45 * fat + gap_unsub_effect(gap) - 0.20 * fit - 0.5 * ang + np.where(sales, -0.8, 0.0)
    )
    spam_logit = (
        -7.0 + 0.50 * fat + 0.5 * gap_unsub_effect(gap) + 0.8 * np.asarray(consent_missing, dtype=np.float64)
    )
    return {
        "open": sigmoid(open_logit),
        "click": sigmoid(click_logit),
        "reply": sigmoid(reply_logit),
        "unsubscribe": sigmoid(unsub_logit),
        "spamreport": sigmoid(spam_logit),
    }


def linkedin_accept_probability(
    *,
    fit: np.ndarray,
    responsiveness: np.ndarray,
    seniority: np.ndarray,
    has_note: np.ndarray,
    same_region: np.ndarray,
    fatigue: np.ndarray,
) -> np.ndarray:
    logit = (
        -0.3
        + 0.30 * np.asarray(fit)
        + 0.5 * np.asarray(responsiveness)
        + _SENIORITY_ACCEPT[np.asarray(seniority, dtype=np.int64)]
        + 0.5 * np.asarray(has_note, dtype=np.float64)
        + 0.3 * np.asarray(same_region, dtype=np.float64)
        - 0.2 * np.asarray(fatigue)
    )
    return sigmoid(logit)


def linkedin_reply_probability(
    *,
    fit: np.ndarray,
    responsiveness: np.ndarray,
    segment: np.ndarray,
    function: np.ndarray,
    seniority: np.ndarray,
    angle: np.ndarray,
    local_hour: np.ndarray,
    weekday: np.ndarray,
    fatigue: np.ndarray,
) -> np.ndarray:
    """A LinkedIn message to a connection: probability of a reply."""
    logit = (
        -2.0
        + 0.35 * np.asarray(fit)
        + 0.5 * np.asarray(responsiveness)
        + 0.5 * angle_effect(segment, function, angle)
        + _SENIORITY_REPLY[np.asarray(seniority, dtype=np.int64)]
        + _SENIORITY_LINKEDIN[np.asarray(seniority, dtype=np.int64)]
        + 0.5 * HOUR_EFFECT[np.asarray(local_hour, dtype=np.int64) % 24]
        + np.where(np.asarray(weekday) >= 5, 0.5 * WEEKEND_EFFECT, 0.0)
        - 0.30 * np.asarray(fatigue)
    )
    return sigmoid(logit)


def meeting_show_probability(
    *, fit: np.ndarray, warmth: np.ndarray, in_contact_hours: np.ndarray, owner_conflict: np.ndarray
) -> np.ndarray:
    """A booked meeting: probability the contact attends (else no-show)."""
    logit = (
        1.0
        + 0.30 * np.asarray(fit)
        + 0.40 * np.asarray(warmth)
        - 1.5 * (~np.asarray(in_contact_hours, dtype=bool))
        - 2.0 * np.asarray(owner_conflict, dtype=np.float64)
    )
    return sigmoid(logit)


MEETING_AFTER_REPLY = 0.35  # a rep books a meeting after a positive reply
DEAL_WIN_BASE = -0.6


def deal_win_probability(fit: np.ndarray, warmth: np.ndarray) -> np.ndarray:
    return sigmoid(DEAL_WIN_BASE + 0.4 * np.asarray(fit) + 0.25 * np.asarray(warmth))
