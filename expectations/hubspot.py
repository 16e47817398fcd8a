"""Suites of the raw_hubspot tables. Enumerations follow docs/architecture.md ("The HubSpot portal")."""

from __future__ import annotations

from datetime import datetime

from expectations.suite import (
    Rule,
    TableSuite,
    email_format,
    not_null,
    one_of,
    present_somewhere,
    references,
    sane_time,
    unique,
)
from growthlab.portal import (
    DEAL_STAGES,
    FUNDING_STAGES,
    LIFECYCLE_STAGES,
    MEETING_OUTCOMES,
    REVENUE_BANDS,
    SEGMENTS,
)
from growthlab.portal import SBTI_STATUSES as SBTI

SOURCE = "hubspot"

CONSENT = ("granted", "denied", "unknown")
BOOLEAN_STRINGS = ("true", "false")
EMAIL_DIRECTIONS = ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL")
EMAIL_EVENT_TYPES = (
    "SENT", "DELIVERED", "OPEN", "CLICK", "BOUNCE", "DROPPED", "SPAMREPORT", "STATUSCHANGE", "PROCESSED",
    "DEFERRED", "FORWARD", "PRINT", "SUPPRESSED",
)  # fmt: skip

# Properties that must exist on the records (a property that vanishes from every record of a batch
# is a schema change in the portal, not a bad row).
REQUIRED_PROPERTIES = {
    "contacts": ("email", "lifecyclestage", "createdate", "lastmodifieddate"),
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate"),
    "deals": ("dealname", "dealstage", "createdate", "hs_lastmodifieddate"),
    "meetings": ("hs_timestamp", "hs_lastmodifieddate"),
    "emails": ("hs_timestamp", "hs_email_direction", "hs_lastmodifieddate"),
}


# Properties that staging casts: a value that does not parse as its type quarantines the record
# here, instead of failing the dbt build downstream.
_DATES = ("createdate", "hs_lastmodifieddate")
TYPED_PROPERTIES: dict[str, dict[str, str]] = {
    "contacts": {
        "createdate": "timestamptz",
        "lastmodifieddate": "timestamptz",
        **{
            f"hs_lifecyclestage_{s}_date": "timestamptz"
            for s in ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
        },
        "associatedcompanyid": "bigint",
        "hubspot_owner_id": "bigint",
    },
    "companies": {
        **dict.fromkeys(_DATES, "timestamptz"),
        "numberofemployees": "numeric",
        "annualrevenue": "numeric",
        "founded_year": "integer",
        "emissions_intensity": "numeric",
        "renewable_share": "numeric",
        "esg_disclosure_score": "numeric",
        "hubspot_owner_id": "bigint",
    },
    "deals": {
        **dict.fromkeys((*_DATES, "closedate"), "timestamptz"),
        "amount": "numeric",
        "hubspot_owner_id": "bigint",
    },
    "meetings": {
        **dict.fromkeys(
            (
                "hs_timestamp",
                "hs_meeting_start_time",
                "hs_meeting_end_time",
                "hs_createdate",
                "hs_lastmodifieddate",
            ),
            "timestamptz",
        ),
        "hubspot_owner_id": "bigint",
    },
    "emails": {
        **dict.fromkeys(("hs_timestamp", "hs_createdate", "hs_lastmodifieddate"), "timestamptz"),
        "hubspot_owner_id": "bigint",
    },
}
_KIND = {"timestamptz": "timestamp", "numeric": "number", "integer": "integer", "bigint": "id"}


def _typed(prop: str, pgtype: str) -> tuple[str, Rule]:
    """Projection and rule: the property parses as `pgtype` (PostgreSQL's own input function)."""
    column = f"{prop}__ok"
    select = (
        f"case when nullif(l.properties->>'{prop}', '') is null then null "
        f"else pg_input_is_valid(l.properties->>'{prop}', '{pgtype}')::int end as {column}"
    )
    rule = Rule(
        f"{prop}_{_KIND[pgtype]}",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": [1]},
        reason=f"{prop} is not a valid {_KIND[pgtype]}",
    )
    return select, rule


def _prop(name: str, alias: str | None = None) -> str:
    return f"l.properties->>'{name}' as {alias or name}"


def object_suite(name: str, as_of: datetime) -> TableSuite:
    """The suite of raw_hubspot.<name> (companies, contacts, deals, meetings, emails, owners)."""
    base = "l._seq, l.id, l.created_at, l.updated_at"
    rules: list[Rule] = [
        not_null("id"),
        unique("id"),
        not_null("updated_at"),
        sane_time("created_at", as_of),
        sane_time("updated_at", as_of),
    ]
    select = [base]
    for prop in REQUIRED_PROPERTIES.get(name, ()):
        flag = f"has__{prop}"
        select.append(f"(l.properties ? '{prop}')::int as {flag}")
        rules.append(present_somewhere(flag, f"property {prop}"))
    for prop, pgtype in TYPED_PROPERTIES.get(name, {}).items():
        projection, rule = _typed(prop, pgtype)
        select.append(projection)
        rules.append(rule)
    if name == "contacts":
        select += [
            _prop("email"),
            _prop("lifecyclestage"),
            _prop("marketing_consent"),
            _prop("hs_email_optout"),
            "case when nullif(l.properties->>'associatedcompanyid', '') is null then null "
            "when exists (select 1 from raw_hubspot.companies c where c.id = l.properties->>'associatedcompanyid') "
            "then 1 else 0 end as company_known",
        ]
        rules += [
            email_format("email"),
            one_of("lifecyclestage", LIFECYCLE_STAGES),
            one_of("marketing_consent", CONSENT),
            one_of("hs_email_optout", BOOLEAN_STRINGS),
            references("company_known", "associatedcompanyid"),
        ]
    elif name == "companies":
        select += [
            _prop("cleantech_segment"),
            _prop("revenue_band"),
            _prop("funding_stage"),
            _prop("sbti_status"),
        ]
        rules += [
            one_of("cleantech_segment", SEGMENTS),
            one_of("revenue_band", REVENUE_BANDS),
            one_of("funding_stage", FUNDING_STAGES),
            one_of("sbti_status", SBTI),
        ]
    elif name == "deals":
        select += [_prop("dealstage")]
        rules += [one_of("dealstage", DEAL_STAGES)]
    elif name == "meetings":
        select += [_prop("hs_meeting_outcome")]
        rules += [one_of("hs_meeting_outcome", MEETING_OUTCOMES)]
    elif name == "emails":
        select += [_prop("hs_email_direction")]
        rules += [one_of("hs_email_direction", EMAIL_DIRECTIONS)]
    elif name == "owners":
        select += [_prop("email")]
        rules += [email_format("email")]
    return TableSuite(
        table=f"raw_hubspot.{name}",
        source=SOURCE,
        key=("id",),
        select=", ".join(select),
        rules=tuple(rules),
        payload="l.payload",
    )


def associations_suite(as_of: datetime) -> TableSuite:
    known = " ".join(
        f"when '{t}' then exists (select 1 from raw_hubspot.{t} x where x.id = l.to_id)"
        for t in ("companies", "contacts", "deals", "meetings", "emails")
    )
    return TableSuite(
        table="raw_hubspot.associations",
        source=SOURCE,
        key=("from_type", "from_id", "to_type", "to_id", "association_category", "association_type_id"),
        select=(
            "l._seq, l.from_id, l.to_id, l.association_type_id, "
            f"case l.to_type {known} end::int as target_known"
        ),
        rules=(
            not_null("from_id"),
            not_null("to_id"),
            not_null("association_type_id"),
            references("target_known", "to_id"),
        ),
        row_ref="l.from_type || ':' || l.from_id || '->' || l.to_type || ':' || l.to_id",
    )


def email_events_suite(as_of: datetime) -> TableSuite:
    return TableSuite(
        table="raw_hubspot.email_events",
        source=SOURCE,
        key=("id",),
        select="l._seq, l.id, l.event_type, l.recipient, l.created_at",
        rules=(
            not_null("id"),
            unique("id"),
            not_null("event_type"),
            one_of("event_type", EMAIL_EVENT_TYPES),
            email_format("recipient"),
            sane_time("created_at", as_of),
        ),
        payload="l.payload",
    )
