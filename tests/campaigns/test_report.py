"""`growthlab report` writes a self-contained HTML report with its three figures and a summary."""

from __future__ import annotations

import base64
import re
from datetime import date

import psycopg

from growthlab.reports.report import write_report

PERFORMANCE_DDL = """
create table marts.email_campaign_performance (
    performance_key text, sent_date date, source text, campaign_id text, step integer, variant text, angle text,
    segment text, sends integer, delivered integer, opened integer, human_opened integer, clicked integer,
    replied integer, unsubscribed integer, bounced integer, spam_reported integer, conversions integer
);
create table if not exists ml.lead_score_history (
    contact_id text, as_of_date date, model_version text, reasons_hash bigint, probability double precision,
    fit_score smallint, engagement_score smallint, grade text, reasons jsonb, scored_at timestamptz
);
"""


def test_report_numbers_figures_and_summary(marts_db, tmp_path):
    rows = [
        # day, source, campaign, step, variant, angle, sends, delivered, human_opened, clicked, replied, conversions
        (
            date(2026, 9, 1),
            "sendgrid",
            "decarb_platform",
            1,
            "savings",
            "cost_savings",
            100,
            98,
            40,
            10,
            4,
            1,
        ),
        (date(2026, 9, 8), "sendgrid", "decarb_platform", 1, "savings", "cost_savings", 100, 96, 30, 8, 2, 0),
        (
            date(2026, 9, 1),
            "sendgrid",
            "decarb_platform",
            1,
            "emissions",
            "emissions_reduction",
            100,
            97,
            50,
            20,
            9,
            2,
        ),
        (date(2026, 9, 2), "hubspot", "(none)", None, "(none)", None, 5000, 4900, 900, 100, 0, 3),
    ]
    with psycopg.connect(marts_db) as conn:
        conn.execute(PERFORMANCE_DDL)
        for r in rows:
            conn.execute(
                "insert into marts.email_campaign_performance (sent_date, source, campaign_id, step, variant, angle,"
                " sends, delivered, human_opened, clicked, replied, conversions, unsubscribed, bounced)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 0)",
                r,
            )
        # 20 scored contacts: the higher half converts after being scored
        for i in range(20):
            conn.execute(
                "insert into marts.dim_contacts (contact_id, converted_at) values (%s, %s)",
                (f"s{i}", "2026-10-01" if i >= 10 else None),
            )
            conn.execute(
                "insert into ml.lead_score_history (contact_id, as_of_date, probability, scored_at, model_version,"
                " reasons_hash, fit_score, engagement_score, grade, reasons)"
                " values (%s, '2026-09-01', %s, now(), 'v1', 1, 50, 0, 'B', '[]')",
                (f"s{i}", i / 20),
            )
    report = write_report(marts_db, tmp_path / "reports", name="r.html")
    assert report.path == tmp_path / "reports" / "r.html"
    html = report.path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 3 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert report.summary[0] == (
        "2026-09-01 to 2026-09-08: 300 emails sent, 97.0% delivered, human open rate 41.2%, click rate 13.1%, "
        "reply rate 5.2%, 3 conversions"
    )
    assert report.summary[1].startswith("best variant by replies: decarb_platform step 1 'emissions'")
    assert report.summary[2] == "lead score: top decile converts at 100.0%, bottom decile at 0.0%"
    assert "<td>emissions</td>" in html and "<td>savings</td>" in html
    with_history = write_report(marts_db, tmp_path / "reports", include_history=True, name="h.html")
    assert with_history.summary[0].split(":")[1].strip().startswith("5,300 emails sent")
