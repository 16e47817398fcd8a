"""A short status of every campaign, for `growthlab campaigns status` and the demo."""

from __future__ import annotations

from growthlab.warehouse.db import connect


def campaign_status(url: str) -> list[str]:
    with connect(url) as conn:
        rows = conn.execute(
            """
            select c.campaign_id, c.status,
                   (select count(*) from ops.campaign_enrollments e where e.campaign_id = c.campaign_id),
                   (select count(*) from ops.campaign_enrollments e where e.campaign_id = c.campaign_id
                        and e.status = 'active'),
                   count(o.outbox_id) filter (where o.status = 'sent'),
                   count(o.outbox_id) filter (where o.status in ('planned', 'ready', 'sending')),
                   count(o.outbox_id) filter (where o.status in ('cancelled', 'failed')),
                   count(o.outbox_id) filter (where o.opened_at is not null or o.clicked_at is not null),
                   count(o.outbox_id) filter (where o.clicked_at is not null),
                   count(o.outbox_id) filter (where o.replied_at is not null)
            from ops.campaigns c left join ops.outbox o on o.campaign_id = c.campaign_id
            group by c.campaign_id, c.status order by c.campaign_id
            """
        ).fetchall()
        suppressed = conn.execute("select count(*) from ops.suppression").fetchone()[0]
        tasks = conn.execute(
            "select count(*) filter (where status = 'created'), count(*) from ops.followup_opportunities"
        ).fetchone()
    lines = [
        f"{'campaign':<24} {'status':<8} {'enrolled':>8} {'active':>7} {'sent':>6} {'queued':>6} "
        f"{'dropped':>7} {'opened':>6} {'clicked':>7} {'replied':>7}"
    ]
    for cid, status, enrolled, active, sent, queued, dropped, opened, clicked, replied in rows:
        lines.append(
            f"{cid:<24} {status:<8} {enrolled:>8} {active:>7} {sent:>6} {queued:>6} {dropped:>7} {opened:>6} "
            f"{clicked:>7} {replied:>7}"
        )
    lines.append(f"suppressed addresses: {suppressed}; owner tasks for replies: {tasks[0]} of {tasks[1]}")
    return lines
