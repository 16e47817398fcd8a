"""The personalisation context of one email: pure functions from a recipient row to template data.

A recipient row is what `growthlab.campaigns.audience` reads from the marts and `ml.lead_scores`
(see `RECIPIENT_FIELDS`). Templates see the same shape at validation time (`sample_contexts`) and at
send time, so a template that renders for the samples renders for every contact.

The lead's top score reason is turned into words fit for the recipient: reasons about engagement
(opens, clicks, visits) are never mentioned in an email; fit reasons become a sentence about the
company.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Columns of a recipient row (growthlab.campaigns.audience.RECIPIENT_SQL selects exactly these).
RECIPIENT_FIELDS = (
    "contact_id",
    "email",
    "first_name",
    "last_name",
    "job_title",
    "seniority",
    "job_function",
    "country",
    "requires_consent",
    "can_email",
    "timezone",
    "owner_id",
    "lifecycle_stage",
    "marketing_consent",
    "email_optout",
    "company_id",
    "company_name",
    "company_domain",
    "cleantech_segment",
    "company_country",
    "company_timezone",
    "renewable_share",
    "sbti_status",
    "emissions_intensity",
    "employees",
    "score",
    "grade",
    "reasons",
)

SEGMENT_LABELS = {
    "solar": "solar",
    "wind": "wind",
    "storage": "energy storage",
    "ev_charging": "EV charging",
    "hydrogen": "hydrogen",
    "heat_pumps": "heat pumps",
    "carbon_management": "carbon management",
    "circular_materials": "circular materials",
    "grid_software": "grid software",
    "building_efficiency": "building efficiency",
}
SBTI_LABELS = {
    "none": None,
    "committed": "committed to science-based targets",
    "targets_set": "set science-based targets",
    "net_zero_committed": "committed to net zero",
}
# Features of the lead model that describe behaviour we track: never written into an email.
ENGAGEMENT_FEATURE_PREFIXES = (
    "emails_",
    "human_opens",
    "machine_opens",
    "clicks_",
    "replies_",
    "linkedin_",
    "meetings",
    "days_since_last_engagement",
    "unsubscribed",
    "bounced",
)


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def sustainability_hook(company_name: str, sbti_status: str | None, renewable_share: float | None) -> str:
    """One clause about the company's sustainability position, for the email's opening."""
    hook = _hook(company_name, sbti_status, renewable_share)
    return hook[:1].upper() + hook[1:]


def _hook(company_name: str, sbti_status: str | None, renewable_share: float | None) -> str:
    label = SBTI_LABELS.get(sbti_status or "none")
    if label:
        return f"{company_name} has {label}"
    if renewable_share is not None and renewable_share >= 40:
        return f"{company_name} already runs on {renewable_share:.0f}% renewable energy"
    if renewable_share is not None:
        return f"{company_name} is at {renewable_share:.0f}% renewable energy today"
    return f"{company_name} is working on its energy transition"


def reason_in_words(reasons: Any, recipient: Mapping[str, Any]) -> str | None:
    """The first positive fit reason of the lead score as a recipient-safe sentence, or None."""
    if not isinstance(reasons, list):
        return None
    company = _text(recipient.get("company_name")) or "your company"
    for reason in reasons:
        if not isinstance(reason, Mapping):
            continue
        feature = str(reason.get("feature") or "")
        contribution = _num(reason.get("contribution"))
        if not feature or feature.startswith(ENGAGEMENT_FEATURE_PREFIXES):
            continue
        if contribution is not None and contribution <= 0:
            continue
        value = reason.get("value")
        sentence = _fit_sentence(feature, value, company, recipient)
        if sentence:
            return sentence
    return None


def _fit_sentence(feature: str, value: Any, company: str, recipient: Mapping[str, Any]) -> str | None:
    number = _num(value)
    if feature == "renewable_share" and number is not None:
        return f"{company} sources {number:.0f}% of its energy from renewables"
    if feature == "sbti_status":
        label = SBTI_LABELS.get(str(value))
        return f"{company} has {label}" if label else None
    if feature == "emissions_intensity" and number is not None:
        return f"{company} reports an emissions intensity of {number:.0f} tCO2e per USD 1M of revenue"
    if feature == "esg_disclosure_score":
        return f"{company} discloses its ESG performance openly"
    if feature == "has_b_corp" and number:
        return f"{company} is a certified B Corp"
    if feature == "has_iso_14001" and number:
        return f"{company} runs an ISO 14001 environmental management system"
    if feature == "certification_count" and number:
        return f"{company} holds {number:.0f} environmental certification{'s' if number != 1 else ''}"
    if feature == "cleantech_segment":
        label = SEGMENT_LABELS.get(str(value))
        return f"{company} works in {label}" if label else None
    if feature in {"employees", "annual_revenue", "revenue_band"}:
        return f"{company} operates at a scale where energy costs matter"
    if feature == "funding_stage":
        return f"{company} is in a growth phase"
    if feature in {"seniority", "job_function"}:
        title = _text(recipient.get("job_title"))
        return f"as {title} you shape these decisions" if title else None
    return None


def build_context(
    recipient: Mapping[str, Any],
    *,
    campaign: Mapping[str, Any],
    sender: Mapping[str, Any],
    links: Mapping[str, Any],
) -> dict[str, Any]:
    """The template data of one email. Every key is always present (None when unknown)."""
    company_name = _text(recipient.get("company_name")) or "your company"
    segment = _text(recipient.get("cleantech_segment"))
    renewable = _num(recipient.get("renewable_share"))
    sbti = _text(recipient.get("sbti_status"))
    intensity = _num(recipient.get("emissions_intensity"))
    employees = _num(recipient.get("employees"))
    reasons = recipient.get("reasons")
    reason_text = None
    if isinstance(reasons, list) and reasons and isinstance(reasons[0], Mapping):
        reason_text = _text(reasons[0].get("text"))
    hook = sustainability_hook(company_name, sbti, renewable)
    first = _text(recipient.get("first_name"))
    last = _text(recipient.get("last_name"))
    return {
        "contact": {
            "first_name": first,
            "last_name": last,
            "full_name": " ".join(p for p in (first, last) if p) or None,
            "job_title": _text(recipient.get("job_title")),
            "seniority": _text(recipient.get("seniority")),
            "job_function": _text(recipient.get("job_function")),
        },
        "company": {
            "name": company_name,
            "domain": _text(recipient.get("company_domain")),
            "segment": segment,
            "segment_label": SEGMENT_LABELS.get(segment or "", "clean technology"),
            "country": _text(recipient.get("company_country")) or _text(recipient.get("country")),
            "renewable_share": renewable,
            "sbti_status": sbti,
            "sbti_label": SBTI_LABELS.get(sbti or "none"),
            "emissions_intensity": intensity,
            "employees": int(employees) if employees is not None else None,
        },
        "score": {
            "grade": _text(recipient.get("grade")),
            "value": _num(recipient.get("score")),
            "top_reason": reason_text,
            "reason_line": reason_in_words(reasons, recipient),
        },
        "sustainability_hook": hook,
        "sender": {"name": sender.get("from_name"), "email": sender.get("from_email")},
        "campaign": {"id": campaign.get("id"), "name": campaign.get("name")},
        "links": {"cta": links.get("cta"), "website": links.get("website")},
    }


SAMPLE_RECIPIENTS: tuple[dict[str, Any], ...] = (
    # A well-known lead: every field present.
    {
        "contact_id": "sample-1",
        "email": "ada.lovelace@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "job_title": "Head of Sustainability",
        "seniority": "director",
        "job_function": "sustainability",
        "country": "Germany",
        "requires_consent": True,
        "can_email": True,
        "timezone": "Europe/Berlin",
        "owner_id": "1",
        "lifecycle_stage": "lead",
        "marketing_consent": "granted",
        "email_optout": False,
        "company_id": "c-1",
        "company_name": "Nordwind Energie",
        "company_domain": "nordwind.example",
        "cleantech_segment": "wind",
        "company_country": "Germany",
        "company_timezone": "Europe/Berlin",
        "renewable_share": 72.5,
        "sbti_status": "targets_set",
        "emissions_intensity": 41.0,
        "employees": 850,
        "score": 81.0,
        "grade": "A",
        "reasons": [
            {"feature": "renewable_share", "value": 72.5, "contribution": 0.42, "text": "renewable share 72%"}
        ],
    },
    # A sparse lead: only what the CRM requires.
    {
        "contact_id": "sample-2",
        "email": "someone@example.org",
        "first_name": None,
        "last_name": None,
        "job_title": None,
        "seniority": None,
        "job_function": None,
        "country": None,
        "requires_consent": None,
        "can_email": True,
        "timezone": None,
        "owner_id": None,
        "lifecycle_stage": None,
        "marketing_consent": "unknown",
        "email_optout": False,
        "company_id": None,
        "company_name": None,
        "company_domain": None,
        "cleantech_segment": None,
        "company_country": None,
        "company_timezone": None,
        "renewable_share": None,
        "sbti_status": None,
        "emissions_intensity": None,
        "employees": None,
        "score": None,
        "grade": None,
        "reasons": None,
    },
)


def sample_contexts(campaign: Mapping[str, Any], sender: Mapping[str, Any], links: Mapping[str, Any]):
    """Contexts templates must render for at validation time (a complete and a sparse lead)."""
    return [build_context(r, campaign=campaign, sender=sender, links=links) for r in SAMPLE_RECIPIENTS]
