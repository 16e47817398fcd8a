"""Mirror the validated campaign catalog into ops.campaigns / campaign_steps / campaign_variants.

The YAML files are the source of truth; the tables let SQL (planner, marts, analysts' joins on
ops) see the same definitions. A campaign whose file is gone is marked `retired`, never deleted,
because outbox rows and enrollments refer to it.
"""

from __future__ import annotations

import hashlib
import json
import logging

import psycopg

from growthlab.campaigns.validation import Catalog

log = logging.getLogger(__name__)


def sync_catalog(conn: psycopg.Connection, catalog: Catalog, actor: str) -> dict[str, int]:
    """Upsert every campaign of the catalog; returns counts of changed and retired campaigns."""
    changed = 0
    with conn.transaction():
        current = dict(conn.execute("select campaign_id, definition_sha256 from ops.campaigns").fetchall())
        for loaded in catalog.campaigns.values():
            c = loaded.campaign
            if current.get(c.id) == loaded.sha256:
                continue
            changed += 1
            definition = json.loads(c.model_dump_json())
            conn.execute(
                """
                insert into ops.campaigns (campaign_id, name, status, consent_policy, source_file, definition,
                                           definition_sha256)
                values (%s, %s, %s, %s, %s, %s, %s)
                on conflict (campaign_id) do update set
                    name = excluded.name, status = excluded.status, consent_policy = excluded.consent_policy,
                    source_file = excluded.source_file, definition = excluded.definition,
                    definition_sha256 = excluded.definition_sha256, loaded_at = now(), updated_at = now()
                """,
                (c.id, c.name, c.status, c.consent, loaded.file.name, json.dumps(definition), loaded.sha256),
            )
            conn.execute("delete from ops.campaign_steps where campaign_id = %s", (c.id,))
            for position, step in enumerate(c.steps):
                conn.execute(
                    """
                    insert into ops.campaign_steps (campaign_id, step_id, step_number, follows_step, wait_days, condition)
                    values (%s, %s, %s, %s, %s, %s)
                    """,
                    (
                        c.id,
                        step.id,
                        position + 1,
                        step.after,
                        step.wait_days,
                        (step.when.value if step.when else "no_reply") if position else None,
                    ),
                )
                for variant in step.variants:
                    template_sha = hashlib.sha256(
                        (catalog.templates_dir / variant.template).read_bytes()
                    ).hexdigest()
                    conn.execute(
                        """
                        insert into ops.campaign_variants (campaign_id, step_id, variant_id, angle, template, weight,
                                                           template_sha256)
                        values (%s, %s, %s, %s, %s, %s, %s)
                        """,
                        (
                            c.id,
                            step.id,
                            variant.id,
                            variant.angle,
                            variant.template,
                            variant.weight,
                            template_sha,
                        ),
                    )
            conn.execute(
                """
                insert into ops.audit_log (actor, action, subject_type, subject_id, details)
                values (%s, 'campaign.loaded', 'campaign', %s, %s)
                """,
                (
                    actor,
                    c.id,
                    json.dumps({"sha256": loaded.sha256, "status": c.status, "file": loaded.file.name}),
                ),
            )
        gone = [cid for cid in current if cid not in catalog.campaigns]
        retired = 0
        for cid in gone:
            cur = conn.execute(
                "update ops.campaigns set status = 'retired', updated_at = now() "
                "where campaign_id = %s and status <> 'retired'",
                (cid,),
            )
            if cur.rowcount:
                retired += 1
                conn.execute(
                    "insert into ops.audit_log (actor, action, subject_type, subject_id, details) "
                    "values (%s, 'campaign.retired', 'campaign', %s, '{}')",
                    (actor, cid),
                )
    log.info("campaign catalog: %d changed, %d retired, %d total", changed, retired, len(catalog.campaigns))
    return {"changed": changed, "retired": retired, "campaigns": len(catalog.campaigns)}
