"""Render one campaign email for one contact without storing or sending anything."""

from __future__ import annotations

from pathlib import Path

from growthlab.campaigns.compliance import (
    list_unsubscribe_headers,
    load_unsubscribe_config,
    unsubscribe_links,
)
from growthlab.campaigns.content import SAMPLE_RECIPIENTS, build_context
from growthlab.campaigns.generate import footer_reason
from growthlab.campaigns.generators import GenerationRequest, TemplateGenerator
from growthlab.campaigns.templates import Footer, compose, load_template, make_environment
from growthlab.campaigns.validation import load_catalog
from growthlab.config import get_settings


def preview(
    url: str | None,
    campaign_id: str,
    step_id: str | None,
    variant_id: str | None,
    contact_id: str | None,
    folder: Path | None,
    out: str | None,
) -> tuple[Path, str]:
    catalog = load_catalog(folder)
    if campaign_id not in catalog.campaigns:
        raise RuntimeError(f"no campaign {campaign_id!r}; known: {', '.join(sorted(catalog.campaigns))}")
    loaded = catalog.campaigns[campaign_id]
    campaign = loaded.campaign
    step = campaign.step(step_id) if step_id else campaign.first_step
    variant = next((v for v in step.variants if v.id == variant_id), None) if variant_id else step.variants[0]
    if variant is None:
        raise RuntimeError(f"step {step.id} has no variant {variant_id!r}: {[v.id for v in step.variants]}")
    recipient = dict(SAMPLE_RECIPIENTS[0])
    if contact_id:
        from growthlab.campaigns.audience import recipients_by_id
        from growthlab.warehouse.db import connect

        with connect(url or "") as conn:
            found = recipients_by_id(conn, [contact_id])
        if contact_id not in found:
            raise RuntimeError(f"contact {contact_id} is not in marts.dim_contacts")
        recipient = found[contact_id]
    context = build_context(
        recipient,
        campaign={"id": campaign.id, "name": campaign.name},
        sender=campaign.sender.model_dump(),
        links=campaign.links.model_dump(),
    )
    env = make_environment(catalog.templates_dir)
    generated = TemplateGenerator().generate(
        GenerationRequest(load_template(env, variant.template), context, variant.angle)
    )
    settings = get_settings()
    links = unsubscribe_links(
        load_unsubscribe_config(settings.home), 0, campaign.sender.reply_to or campaign.sender.from_email
    )
    email = compose(
        generated.draft,
        Footer(
            links.url,
            loaded.postal_address,
            campaign.sender.from_name,
            footer_reason(loaded, recipient.get("company_name")),
        ),
    )
    path = Path(out) if out else settings.home / "previews" / f"{campaign.id}-{step.id}-{variant.id}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(email.html)
    headers = "\n".join(f"{k}: {v}" for k, v in list_unsubscribe_headers(links).items())
    return path, f"Subject: {email.subject}\n{headers}\n\n{email.text}"
