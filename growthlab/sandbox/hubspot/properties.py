"""The portal's objects and properties (docs/architecture.md, "The HubSpot portal").

Each property maps to a column of its object table (or to the `custom` jsonb column for
properties created through the properties API), with a HubSpot type that decides how values are
rendered (always strings), parsed on write and compared in search filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from growthlab.sandbox import catalog

STRING, NUMBER, DATETIME, ENUM, BOOL = "string", "number", "datetime", "enumeration", "bool"


@dataclass(frozen=True)
class Prop:
    name: str
    type: str
    column: str
    options: tuple[str, ...] = ()
    read_only: bool = False
    label: str = ""

    @property
    def field_type(self) -> str:
        return {STRING: "text", NUMBER: "number", DATETIME: "date", ENUM: "select", BOOL: "booleancheckbox"}[
            self.type
        ]


@dataclass(frozen=True)
class ObjectType:
    name: str  # plural, as in the URL: contacts
    singular: str  # contact
    type_id: str  # 0-1
    table: str
    scope: str  # crm.objects.contacts (+ .read / .write)
    props: tuple[Prop, ...]
    defaults: tuple[str, ...]  # returned when `properties` is not given
    search_text: tuple[str, ...] = ()  # searched by `query`
    unique: tuple[str, ...] = ()  # properties usable as idProperty
    by_name: dict[str, Prop] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({p.name: p for p in self.props})

    def prop(self, name: str) -> Prop | None:
        return self.by_name.get(name)


def _system(created: str, modified: str) -> tuple[Prop, ...]:
    return (
        Prop("hs_object_id", NUMBER, "id", read_only=True, label="Record ID"),
        Prop(created, DATETIME, "created_at", read_only=True, label="Create date"),
        Prop(modified, DATETIME, "updated_at", read_only=True, label="Last modified date"),
    )


def _enum(name: str, options, label: str = "") -> Prop:
    return Prop(name, ENUM, name, tuple(options), label=label)


CONTACTS = ObjectType(
    name="contacts",
    singular="contact",
    type_id="0-1",
    table="hubspot.contacts",
    scope="crm.objects.contacts",
    props=(
        *_system("createdate", "lastmodifieddate"),
        Prop("email", STRING, "email"),
        Prop("firstname", STRING, "firstname"),
        Prop("lastname", STRING, "lastname"),
        Prop("jobtitle", STRING, "jobtitle"),
        _enum("seniority", catalog.SENIORITIES),
        _enum("job_function", catalog.JOB_FUNCTIONS),
        Prop("company", STRING, "company"),
        Prop("associatedcompanyid", NUMBER, "associatedcompanyid"),
        Prop("country", STRING, "country"),
        Prop("timezone", STRING, "timezone"),
        Prop("linkedin_url", STRING, "linkedin_url"),
        _enum("lifecyclestage", catalog.LIFECYCLE_STAGES),
        _enum(
            "hs_lead_status",
            (
                "NEW",
                "OPEN",
                "IN_PROGRESS",
                "OPEN_DEAL",
                "UNQUALIFIED",
                "ATTEMPTED_TO_CONTACT",
                "CONNECTED",
                "BAD_TIMING",
            ),
        ),
        *(
            Prop(f"hs_lifecyclestage_{s}_date", DATETIME, f"hs_lifecyclestage_{s}_date")
            for s in ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
        ),
        _enum("hs_analytics_source", catalog.LEAD_SOURCES),
        _enum("marketing_consent", catalog.CONSENTS),
        Prop("hs_email_optout", BOOL, "hs_email_optout"),
        Prop("hubspot_owner_id", ENUM, "hubspot_owner_id"),
        Prop("growthlab_score", NUMBER, "growthlab_score"),
        _enum("growthlab_grade", ("A", "B", "C", "D")),
        Prop("growthlab_reasons", STRING, "growthlab_reasons"),
        Prop("growthlab_model_version", STRING, "growthlab_model_version"),
    ),
    defaults=("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    search_text=("email", "firstname", "lastname", "company"),
    unique=("email",),
)

COMPANIES = ObjectType(
    name="companies",
    singular="company",
    type_id="0-2",
    table="hubspot.companies",
    scope="crm.objects.companies",
    props=(
        *_system("createdate", "hs_lastmodifieddate"),
        Prop("name", STRING, "name"),
        Prop("domain", STRING, "domain"),
        Prop("industry", STRING, "industry"),
        _enum("cleantech_segment", catalog.SEGMENTS),
        Prop("numberofemployees", NUMBER, "numberofemployees"),
        Prop("annualrevenue", NUMBER, "annualrevenue"),
        _enum("revenue_band", catalog.REVENUE_BANDS),
        Prop("country", STRING, "country"),
        Prop("timezone", STRING, "timezone"),
        _enum("funding_stage", catalog.FUNDING_STAGES),
        Prop("founded_year", NUMBER, "founded_year"),
        Prop("emissions_intensity", NUMBER, "emissions_intensity"),
        Prop("renewable_share", NUMBER, "renewable_share"),
        _enum("sbti_status", catalog.SBTI_STATUSES),
        Prop("esg_disclosure_score", NUMBER, "esg_disclosure_score"),
        Prop("certifications", STRING, "certifications"),
        Prop("hubspot_owner_id", ENUM, "hubspot_owner_id"),
        _enum("lifecyclestage", catalog.LIFECYCLE_STAGES),
    ),
    defaults=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    search_text=("name", "domain"),
    unique=("domain",),
)

DEALS = ObjectType(
    name="deals",
    singular="deal",
    type_id="0-3",
    table="hubspot.deals",
    scope="crm.objects.deals",
    props=(
        *_system("createdate", "hs_lastmodifieddate"),
        Prop("dealname", STRING, "dealname"),
        Prop("amount", NUMBER, "amount"),
        _enum("dealstage", catalog.DEAL_STAGES),
        Prop("pipeline", STRING, "pipeline"),
        Prop("closedate", DATETIME, "closedate"),
        Prop("hubspot_owner_id", ENUM, "hubspot_owner_id"),
    ),
    defaults=(
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    search_text=("dealname",),
)

MEETINGS = ObjectType(
    name="meetings",
    singular="meeting",
    type_id="0-47",
    table="hubspot.meetings",
    scope="crm.objects.contacts",
    props=(
        *_system("hs_createdate", "hs_lastmodifieddate"),
        Prop("hs_meeting_title", STRING, "hs_meeting_title"),
        Prop("hs_meeting_body", STRING, "hs_meeting_body"),
        Prop("hs_timestamp", DATETIME, "hs_timestamp"),
        Prop("hs_meeting_start_time", DATETIME, "hs_meeting_start_time"),
        Prop("hs_meeting_end_time", DATETIME, "hs_meeting_end_time"),
        _enum("hs_meeting_outcome", catalog.MEETING_OUTCOMES),
        Prop("hubspot_owner_id", ENUM, "hubspot_owner_id"),
    ),
    defaults=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    search_text=("hs_meeting_title",),
)

EMAILS = ObjectType(
    name="emails",
    singular="email",
    type_id="0-49",
    table="hubspot.emails",
    scope="crm.objects.contacts",
    props=(
        *_system("hs_createdate", "hs_lastmodifieddate"),
        Prop("hs_timestamp", DATETIME, "hs_timestamp"),
        _enum("hs_email_direction", ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL")),
        Prop("hs_email_subject", STRING, "hs_email_subject"),
        Prop("hs_email_text", STRING, "hs_email_text"),
        _enum("hs_email_status", ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT")),
        Prop("hs_email_headers", STRING, "hs_email_headers"),
        Prop("hubspot_owner_id", ENUM, "hubspot_owner_id"),
    ),
    defaults=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    search_text=("hs_email_subject",),
)

TASKS = ObjectType(
    name="tasks",
    singular="task",
    type_id="0-27",
    table="hubspot.tasks",
    scope="crm.objects.contacts",
    props=(
        *_system("hs_createdate", "hs_lastmodifieddate"),
        Prop("hs_task_subject", STRING, "hs_task_subject"),
        Prop("hs_task_body", STRING, "hs_task_body"),
        Prop("hs_timestamp", DATETIME, "hs_timestamp"),
        _enum("hs_task_status", ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED")),
        _enum("hs_task_priority", ("NONE", "LOW", "MEDIUM", "HIGH")),
        _enum(
            "hs_task_type", ("EMAIL", "CALL", "TODO", "LINKED_IN", "LINKED_IN_CONNECT", "LINKED_IN_MESSAGE")
        ),
        Prop("hubspot_owner_id", ENUM, "hubspot_owner_id"),
    ),
    defaults=("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    search_text=("hs_task_subject",),
)

OBJECT_TYPES: dict[str, ObjectType] = {
    o.name: o for o in (CONTACTS, COMPANIES, DEALS, MEETINGS, EMAILS, TASKS)
}
_ALIASES = {}
for _o in OBJECT_TYPES.values():
    _ALIASES.update({_o.name: _o.name, _o.singular: _o.name, _o.type_id: _o.name})


def object_type(name: str) -> ObjectType | None:
    """`contacts`, `contact` or `0-1` -> the contacts object type (None if unknown)."""
    key = _ALIASES.get(name.lower())
    return OBJECT_TYPES.get(key) if key else None


# Association type names of the v3 `associations` field, by (from, to, type id).
ASSOCIATION_TYPE_NAMES = {
    1: "contact_to_company",
    279: "contact_to_company_unlabeled",
    2: "company_to_contact",
    280: "company_to_contact_unlabeled",
    3: "deal_to_contact",
    4: "contact_to_deal",
    5: "deal_to_company",
    341: "deal_to_company_unlabeled",
    6: "company_to_deal",
    342: "company_to_deal_unlabeled",
    199: "contact_to_meeting_event",
    200: "meeting_event_to_contact",
    197: "contact_to_email",
    198: "email_to_contact",
    203: "contact_to_task",
    204: "task_to_contact",
}

# HubSpot-defined association type ids (v4): (from, to) -> [type ids]; the first is the default.
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, ...]] = {
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3,),
    ("contacts", "deals"): (4,),
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
    ("meetings", "contacts"): (200,),
    ("contacts", "meetings"): (199,),
    ("emails", "contacts"): (198,),
    ("contacts", "emails"): (197,),
    ("tasks", "contacts"): (204,),
    ("contacts", "tasks"): (203,),
}
PRIMARY_TYPE_IDS = {1, 2, 5, 6}
