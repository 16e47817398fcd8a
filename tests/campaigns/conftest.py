"""Fixtures of the campaign tests: a migrated database with the marts tables the campaigns read.

Until dbt builds them in a test, `marts_db` creates marts.dim_contacts / marts.dim_companies (the
columns growthlab.campaigns.audience reads, with the types dbt produces) and ml.lead_scores (the
contract's columns), and `World` fills them with contacts.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGNS = ROOT / "campaigns"

MARTS_DDL = """
create table if not exists marts.dim_companies (
    company_id text primary key, company_name text, domain text, industry text, cleantech_segment text,
    employees double precision, annual_revenue double precision, revenue_band text, country text,
    country_region text, timezone text, funding_stage text, founded_year integer,
    emissions_intensity double precision, renewable_share double precision, sbti_status text,
    esg_disclosure_score double precision, owner_id text, created_at timestamptz, updated_at timestamptz
);
create table if not exists marts.dim_contacts (
    contact_id text primary key, email text, first_name text, last_name text, full_name text, job_title text,
    seniority text, job_function text, company_id text, company_name text, country text, country_region text,
    requires_consent boolean, timezone text, lifecycle_stage text, owner_id text, marketing_consent text,
    is_email_opted_out boolean, can_email boolean, growthlab_score double precision, growthlab_grade text,
    is_converted boolean, converted_at timestamptz, created_at timestamptz, updated_at timestamptz
);
create table if not exists ml.lead_scores (
    contact_id text primary key, probability double precision not null, fit_score smallint not null,
    engagement_score smallint not null, grade text not null, reasons jsonb not null default '[]',
    model_version text not null, features_hash bigint not null, reasons_hash bigint not null,
    as_of_date date not null, scored_at timestamptz not null
);
"""

EU = {"Germany", "France", "United Kingdom", "Netherlands", "Switzerland", "Norway"}


@dataclass
class World:
    """Contacts and companies in the marts fixture tables."""

    url: str
    n: int = 0
    companies: set[str] = field(default_factory=set)

    def company(self, company_id: str, **kw: Any) -> str:
        row = {
            "company_id": company_id,
            "company_name": kw.get("name", f"Company {company_id}"),
            "domain": kw.get("domain", f"{company_id}.example"),
            "cleantech_segment": kw.get("segment", "solar"),
            "country": kw.get("country", "United States"),
            "timezone": kw.get("timezone", "America/New_York"),
            "renewable_share": kw.get("renewable_share", 55.0),
            "sbti_status": kw.get("sbti_status", "committed"),
            "emissions_intensity": kw.get("emissions_intensity", 80.0),
            "employees": kw.get("employees", 400.0),
        }
        with psycopg.connect(self.url) as conn:
            conn.execute(
                f"insert into marts.dim_companies ({', '.join(row)}) values ({', '.join(['%s'] * len(row))}) "
                "on conflict (company_id) do nothing",
                list(row.values()),
            )
        self.companies.add(company_id)
        return company_id

    def contact(self, **kw: Any) -> str:
        self.n += 1
        cid = kw.get("contact_id", f"{1000 + self.n}")
        company_id = kw.get("company_id", f"co{self.n}")
        if company_id not in self.companies:
            self.company(
                company_id,
                country=kw.get("country", "United States"),
                timezone=kw.get("timezone", "America/New_York"),
                segment=kw.get("segment", "solar"),
            )
        country = kw.get("country", "United States")
        row = {
            "contact_id": cid,
            "email": kw.get("email", f"person{self.n}@{company_id}.example"),
            "first_name": kw.get("first_name", f"First{self.n}"),
            "last_name": kw.get("last_name", f"Last{self.n}"),
            "job_title": kw.get("job_title", "Head of Energy"),
            "seniority": kw.get("seniority", "director"),
            "job_function": kw.get("job_function", "sustainability"),
            "company_id": company_id,
            "country": country,
            "requires_consent": kw.get("requires_consent", country in EU),
            "timezone": kw.get("timezone", "America/New_York"),
            "lifecycle_stage": kw.get("lifecycle_stage", "lead"),
            "owner_id": kw.get("owner_id", "77"),
            "marketing_consent": kw.get("consent", "unknown"),
            "is_email_opted_out": kw.get("optout", False),
            "can_email": kw.get("can_email", True),
            "created_at": kw.get("created_at", datetime(2026, 1, 1, tzinfo=UTC)),
        }
        score = kw.get("score", 60.0)
        with psycopg.connect(self.url) as conn:
            conn.execute(
                f"insert into marts.dim_contacts ({', '.join(row)}) values ({', '.join(['%s'] * len(row))})",
                list(row.values()),
            )
            if score is not None:
                conn.execute(
                    "insert into ml.lead_scores (contact_id, probability, grade, reasons, fit_score, engagement_score,"
                    " model_version, features_hash, reasons_hash, as_of_date, scored_at)"
                    " values (%s, %s, %s, %s, 50, 10, 'v1', 1, 1, '2026-08-01', now())",
                    (
                        cid,
                        score / 100,
                        kw.get("grade", "A" if score >= 70 else "B" if score >= 40 else "C"),
                        json.dumps(
                            kw.get(
                                "reasons",
                                [
                                    {
                                        "feature": "renewable_share",
                                        "value": 55.0,
                                        "contribution": 0.3,
                                        "text": "renewable share 55% (high)",
                                    }
                                ],
                            )
                        ),
                    ),
                )
        return cid

    def bulk(self, n: int, country: str = "United States", timezone: str = "America/New_York") -> list[str]:
        """n contacts at n companies in one round trip (for volume tests)."""
        start = self.n + 1
        self.n += n
        ids = [str(1000 + i) for i in range(start, start + n)]
        with psycopg.connect(self.url) as conn, conn.cursor() as cur:
            cur.executemany(
                "insert into marts.dim_companies (company_id, company_name, domain, cleantech_segment, country, timezone,"
                " renewable_share, sbti_status) values (%s, %s, %s, 'wind', %s, %s, 40, 'none')",
                [
                    (f"co{i}", f"Company {i}", f"co{i}.example", country, timezone)
                    for i in range(start, start + n)
                ],
            )
            cur.executemany(
                "insert into marts.dim_contacts (contact_id, email, first_name, last_name, job_title, seniority,"
                " job_function, company_id, country, requires_consent, timezone, lifecycle_stage, owner_id,"
                " marketing_consent, is_email_opted_out, can_email, created_at)"
                " values (%s, %s, %s, 'Bulk', 'CTO', 'c_level', 'engineering', %s, %s, false, %s, 'lead', '77',"
                " 'unknown', false, true, '2026-01-01')",
                [
                    (cid, f"bulk{i}@co{i}.example", f"Name{i}", f"co{i}", country, timezone)
                    for i, cid in zip(range(start, start + n), ids, strict=True)
                ],
            )
            cur.executemany(
                "insert into ml.lead_scores (contact_id, probability, grade, reasons, fit_score, engagement_score,"
                " model_version, features_hash, reasons_hash, as_of_date, scored_at)"
                " values (%s, 0.5, 'B', '[]', 50, 10, 'v1', 1, 1, '2026-08-01', now())",
                [(cid,) for cid in ids],
            )
        self.companies.update(f"co{i}" for i in range(start, start + n))
        return ids


@pytest.fixture
def marts_db(fresh_db: str) -> str:
    with psycopg.connect(fresh_db) as conn:
        conn.execute(MARTS_DDL)
    return fresh_db


@pytest.fixture
def world(marts_db: str) -> World:
    return World(marts_db)


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Iterator[Path]:
    """A private copy of campaigns/ a test may edit."""
    target = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, target)
    yield target


SIMPLE_CAMPAIGN = """\
id: {id}
name: Test campaign {id}
status: {status}
sender:
  from_email: sales@heliogrid.example
  from_name: Test Sender
  reply_to: sales@heliogrid.example
  postal_address: HelioGrid Analytics GmbH, Torstrasse 49, 10119 Berlin, Germany
links:
  cta: https://heliogrid.example/demo
audience:
  min_score: {min_score}
  max_new_per_day: {max_new}
  exclude:
    contacted_within_days: 0
schedule:
  start: 2026-01-01
  window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59"}}
  daily_cap: {daily_cap}
consent: {consent}
follow_up:
  fast_track_days: 1
  fatigue: {{after_unengaged: 2, gap_multiplier: 2.0, max_gap_days: 30}}
steps:
  - id: intro
    variants:
      - {{id: savings, angle: cost_savings, template: decarb_platform/intro_savings.j2}}
      - {{id: emissions, angle: emissions_reduction, template: decarb_platform/intro_emissions.j2}}
  - id: bump
    after: intro
    wait_days: 3
    when: no_open
    variants:
      - {{id: short_bump, angle: cost_savings, template: decarb_platform/bump.j2}}
  - id: case_study
    after: intro
    wait_days: 4
    when: opened_no_click
    variants:
      - {{id: peer_story, angle: case_study, template: decarb_platform/case_study.j2}}
  - id: book_call
    after: intro
    wait_days: 3
    when: clicked_no_reply
    variants:
      - {{id: call_offer, angle: case_study, template: decarb_platform/book_call.j2}}
"""


def write_simple_campaign(
    folder: Path,
    campaign_id: str = "test_seq",
    *,
    status: str = "active",
    min_score: int = 10,
    max_new: int = 5000,
    daily_cap: int = 5000,
    consent: str = "standard",
    only: bool = True,
    single_step: bool = False,
) -> Path:
    """A campaign open every day all day (so scheduling is predictable); `only` removes the others;
    `single_step` keeps the first touch only."""
    if only:
        for p in folder.glob("*.yaml"):
            p.unlink()
    path = folder / f"{campaign_id}.yaml"
    text = SIMPLE_CAMPAIGN.format(
        id=campaign_id,
        status=status,
        min_score=min_score,
        max_new=max_new,
        daily_cap=daily_cap,
        consent=consent,
    )
    if single_step:
        text = text[: text.index("  - id: bump")]
    path.write_text(text)
    return path
