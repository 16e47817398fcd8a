"""The vocabulary of the HubSpot portal growthlab expects (docs/architecture.md, "The HubSpot portal").

One definition for every area: the stand-in HubSpot serves these values, ingestion's expectations
accept them, campaigns validate audiences against them, the model's synthetic data uses them.
"""

from __future__ import annotations

__all__ = [
    "ANGLES",
    "DEAL_STAGES",
    "FUNDING_STAGES",
    "JOB_FUNCTIONS",
    "LIFECYCLE_STAGES",
    "MEETING_OUTCOMES",
    "REVENUE_BANDS",
    "SBTI_STATUSES",
    "SEGMENTS",
    "SENIORITIES",
]

SEGMENTS: tuple[str, ...] = (
    "solar",
    "wind",
    "storage",
    "ev_charging",
    "hydrogen",
    "heat_pumps",
    "carbon_management",
    "circular_materials",
    "grid_software",
    "building_efficiency",
)
LIFECYCLE_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
DEAL_STAGES: tuple[str, ...] = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)
FUNDING_STAGES: tuple[str, ...] = (
    "bootstrapped",
    "seed",
    "series_a",
    "series_b",
    "series_c_plus",
    "public",
    "pe_backed",
)
REVENUE_BANDS: tuple[str, ...] = (
    "<1M",
    "1-10M",
    "10-50M",
    "50-250M",
    "250M-1B",
    ">1B",
)
SENIORITIES: tuple[str, ...] = (
    "c_level",
    "vp",
    "director",
    "manager",
    "individual_contributor",
)
JOB_FUNCTIONS: tuple[str, ...] = (
    "executive",
    "sustainability",
    "operations",
    "engineering",
    "procurement",
    "finance",
    "marketing",
)
SBTI_STATUSES: tuple[str, ...] = (
    "none",
    "committed",
    "targets_set",
    "net_zero_committed",
)
MEETING_OUTCOMES: tuple[str, ...] = (
    "SCHEDULED",
    "COMPLETED",
    "NO_SHOW",
    "CANCELED",
    "RESCHEDULED",
)
# The content angles of email templates (custom_args gl_angle); the sandbox gives unknown angles no effect.
ANGLES: tuple[str, ...] = (
    "cost_savings",
    "emissions_reduction",
    "compliance",
    "case_study",
)
