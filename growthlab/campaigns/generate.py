"""Generate the content of planned outbox rows: `planned` -> `ready` (or `failed` with the reason).

For each row: the recipient's current data from the marts, the variant's template, the campaign's
generator (template by default, LLM with template fallback), then the compliance layout (footer
with unsubscribe link and postal address, List-Unsubscribe headers). The email is stored on the
row with the generator that made it, so what is sent is exactly what was reviewed here.
Rows are committed in chunks; a rerun picks up only rows still `planned`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import jinja2
import psycopg
from psycopg.rows import dict_row

from growthlab.campaigns.audience import recipients_by_id
from growthlab.campaigns.compliance import (
    ComplianceError,
    UnsubscribeConfig,
    assert_compliant,
    list_unsubscribe_headers,
    unsubscribe_links,
)
from growthlab.campaigns.content import build_context
from growthlab.campaigns.generators import ContentGenerator, GenerationRequest, LLMConfig, generator_for
from growthlab.campaigns.templates import Footer, compose, load_template, make_environment
from growthlab.campaigns.validation import Catalog, LoadedCampaign
from growthlab.campaigns.yamlsource import LocatedError

log = logging.getLogger(__name__)
CHUNK = 200
READY_SQL = """
update ops.outbox set status = 'ready', subject = %s, body_html = %s, body_text = %s, headers = %s,
       generator = %s, generator_note = %s, generated_at = %s, updated_at = now()
where outbox_id = %s and status = 'planned'
"""


@dataclass
class GenerateResult:
    ready: int = 0
    failed: int = 0
    cancelled: int = 0
    llm: int = 0
    fallbacks: int = 0


def footer_reason(loaded: LoadedCampaign, company_name: str | None) -> str:
    where = f" at {company_name}" if company_name else ""
    return (
        f"You received this email from {loaded.campaign.sender.from_name} because of your role{where}. "
        f"We write only about topics close to your work."
    )


def generate(
    conn: psycopg.Connection,
    catalog: Catalog,
    unsubscribe: UnsubscribeConfig,
    now: datetime,
    llm: LLMConfig | None = None,
) -> GenerateResult:
    result = GenerateResult()
    env = make_environment(catalog.templates_dir)
    generators: dict[str, tuple[ContentGenerator, str | None]] = {}
    templates: dict[str, jinja2.Template] = {}
    ids = list(catalog.campaigns)
    while True:
        with conn.cursor(row_factory=dict_row) as cur:
            rows = list(
                cur.execute(
                    """
                    select outbox_id, campaign_id, step_id, variant_id, angle, contact_id, to_email
                    from ops.outbox where status = 'planned' and campaign_id = any(%s::text[])
                    order by scheduled_at, outbox_id limit %s
                    """,
                    (ids, CHUNK),
                )
            )
        if not rows:
            break
        recipients = recipients_by_id(conn, sorted({r["contact_id"] for r in rows}))
        ready: list[tuple] = []
        with conn.transaction():
            for row in rows:
                loaded = catalog.campaigns[row["campaign_id"]]
                if loaded.campaign.content.generator not in generators:
                    generators[loaded.campaign.content.generator] = generator_for(
                        loaded.campaign.content.generator, llm
                    )
                generator, note = generators[loaded.campaign.content.generator]
                _generate_row(
                    conn,
                    row,
                    loaded,
                    recipients.get(row["contact_id"]),
                    env,
                    templates,
                    ready,
                    generator,
                    note,
                    unsubscribe,
                    now,
                    result,
                )
            if ready:
                with conn.cursor() as cur:  # one pipelined round trip for the chunk
                    cur.executemany(READY_SQL, ready)
    for generator, _ in generators.values():
        close = getattr(generator, "close", None)
        if close is not None:
            close()
    log.info("generated content: %s", result)
    return result


def _generate_row(
    conn, row, loaded, recipient, env, templates, ready, generator, note, unsubscribe, now, result
) -> None:
    campaign = loaded.campaign
    if recipient is None:
        _set_status(conn, row["outbox_id"], "cancelled", "contact_gone: not in marts.dim_contacts any more")
        result.cancelled += 1
        return
    try:
        step = campaign.step(row["step_id"])
        variant = next(v for v in step.variants if v.id == row["variant_id"])
    except (KeyError, StopIteration):
        _set_status(
            conn,
            row["outbox_id"],
            "cancelled",
            f"definition_changed: step {row['step_id']}/{row['variant_id']} is gone from {loaded.file.name}",
        )
        result.cancelled += 1
        return
    context = build_context(
        recipient,
        campaign={"id": campaign.id, "name": campaign.name},
        sender=campaign.sender.model_dump(),
        links=campaign.links.model_dump(),
    )
    try:
        generated = generator.generate(
            GenerationRequest(
                _template(env, templates, variant.template),
                context,
                variant.angle,
                campaign.content.llm_instructions,
            )
        )
    except LocatedError as exc:
        log.warning("outbox %s: content failed: %s", row["outbox_id"], exc)
        _set_status(conn, row["outbox_id"], "failed", f"content: {exc}")
        result.failed += 1
        return
    mailbox = campaign.sender.reply_to or campaign.sender.from_email
    links = unsubscribe_links(unsubscribe, row["outbox_id"], mailbox)
    footer = Footer(
        links.url,
        loaded.postal_address,
        campaign.sender.from_name,
        footer_reason(loaded, recipient.get("company_name")),
    )
    email = compose(generated.draft, footer)
    headers = list_unsubscribe_headers(links)
    try:
        assert_compliant(email.html, email.text, headers, links.url, loaded.postal_address)
    except ComplianceError as exc:
        _set_status(conn, row["outbox_id"], "failed", f"compliance: {exc}")
        result.failed += 1
        return
    ready.append(
        (
            email.subject,
            email.html,
            email.text,
            json.dumps(headers),
            generated.generator,
            generated.note or note,
            now,
            row["outbox_id"],
        )
    )
    result.ready += 1
    if generated.generator.startswith("llm:"):
        result.llm += 1
    elif generated.note:
        result.fallbacks += 1


def _template(env, cache: dict[str, jinja2.Template], name: str) -> jinja2.Template:
    if name not in cache:
        cache[name] = load_template(env, name)
    return cache[name]


def _set_status(conn: psycopg.Connection, outbox_id: int, status: str, reason: str) -> None:
    conn.execute(
        "update ops.outbox set status = %s, status_reason = %s, updated_at = now() where outbox_id = %s",
        (status, reason, outbox_id),
    )
