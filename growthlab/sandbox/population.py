"""Who is in the market: owners (sales reps), companies and contacts, drawn vectorised from a seed.

Companies are drawn all at once (a million contacts need ~170k companies: small arrays). Contacts
are drawn per block of companies with their own random stream, so any block can be (re)generated
alone and the world does not depend on the order or the memory it is generated with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from growthlab.sandbox import behaviour, catalog
from growthlab.sandbox.rng import stream, token_hex
from growthlab.sandbox.sizes import WorldSize
from growthlab.sandbox.timeutil import DAY, timezone_code

COMPANY_BLOCK = 2_000  # companies per generation block (fixed: part of the world's definition)

OWNER_ID_BASE = 70_000_001
COMPANY_ID_BASE = 9_000_000_001
CONTACT_ID_BASE = 101

_SEGMENT_EMISSIONS = np.array([60, 50, 110, 90, 220, 80, 40, 180, 15, 70], dtype=np.float64)
_SEGMENT_RENEWABLE_A = np.array([5.0, 5.0, 3.0, 3.0, 2.5, 2.5, 3.0, 2.0, 2.5, 2.0])


@dataclass
class Owners:
    id: np.ndarray
    first_name: list[str]
    last_name: list[str]
    email: list[str]
    user_id: np.ndarray
    region: np.ndarray  # code in catalog.REGIONS
    timezone: list[str]
    team: list[str]
    linkedin_slug: list[str]
    # How this rep's LinkedIn exports look (real exports vary): zip or folder, CRLF, BOM, extra columns.
    export_zip: np.ndarray
    export_crlf: np.ndarray
    export_bom: np.ndarray
    export_extra_columns: np.ndarray
    export_weekday: np.ndarray  # the weekday (0=Monday) this rep downloads an export
    workday_start_min: np.ndarray  # minutes after local midnight
    workday_end_min: np.ndarray

    def __len__(self) -> int:
        return len(self.id)


@dataclass
class Companies:
    id: np.ndarray
    segment: np.ndarray
    country: np.ndarray
    timezone: np.ndarray
    employees: np.ndarray
    annual_revenue: np.ndarray
    revenue_band: np.ndarray
    founded_year: np.ndarray
    funding: np.ndarray
    emissions_intensity: np.ndarray
    renewable_share: np.ndarray
    sbti: np.ndarray
    esg_score: np.ndarray
    certifications: np.ndarray  # bool [n, len(CERTIFICATIONS)]
    owner: np.ndarray  # index into Owners
    name: np.ndarray
    domain: np.ndarray
    n_contacts: np.ndarray
    first_contact: np.ndarray  # global index of the company's first contact

    def __len__(self) -> int:
        return len(self.id)


@dataclass
class Contacts:
    """Contacts of one block: static traits (observable and hidden) aligned by position."""

    index: np.ndarray  # global contact index
    id: np.ndarray
    company: np.ndarray  # global company index
    first_name: np.ndarray
    last_name: np.ndarray
    email: np.ndarray
    jobtitle: np.ndarray
    seniority: np.ndarray
    function: np.ndarray
    country: np.ndarray
    region: np.ndarray
    timezone: np.ndarray
    linkedin_slug: np.ndarray  # "" when the contact has no LinkedIn profile
    source: np.ndarray
    consent: np.ndarray
    needs_consent: np.ndarray
    created_at: np.ndarray  # epoch seconds
    # hidden truth
    fit: np.ndarray
    latent: np.ndarray
    responsiveness: np.ndarray
    apple: np.ndarray
    invalid_email: np.ndarray
    residual: np.ndarray
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.id)

    @property
    def consent_ok(self) -> np.ndarray:
        """The consent rule of docs/architecture.md: EU/EEA/UK/CH need granted, elsewhere not denied."""
        granted = self.consent == catalog.CONSENTS.index("granted")
        denied = self.consent == catalog.CONSENTS.index("denied")
        return np.where(self.needs_consent, granted, ~denied)


def make_owners(seed: int, size: WorldSize) -> Owners:
    rng = stream(seed, "owners")
    n = size.owners
    first = rng.choice(np.array(catalog.FIRST_NAMES), n)
    last = rng.choice(np.array(catalog.LAST_NAMES), n)
    # Owner names must be unique: the exporting member is identified by first-last.
    seen: set[str] = set()
    for i in range(n):
        while f"{first[i]}-{last[i]}".lower() in seen:
            last[i] = rng.choice(np.array(catalog.LAST_NAMES))
        seen.add(f"{first[i]}-{last[i]}".lower())
    homes = [catalog.OWNER_HOMES[i % len(catalog.OWNER_HOMES)] for i in range(n)]
    region = np.array([catalog.REGIONS.index(h[0]) for h in homes], dtype=np.int8)
    slugs = [
        f"{f.lower()}-{ln.lower()}-{h}" for f, ln, h in zip(first, last, token_hex(rng, n, 5), strict=True)
    ]
    start = rng.choice(np.array([480, 510, 540]), n)
    return Owners(
        id=OWNER_ID_BASE + np.arange(n, dtype=np.int64),
        first_name=[str(x) for x in first],
        last_name=[str(x) for x in last],
        email=[f"{f.lower()}.{ln.lower()}@growthlab-energy.com" for f, ln in zip(first, last, strict=True)],
        user_id=9_100_000 + np.arange(n, dtype=np.int64) * 7 + 3,
        region=region,
        timezone=[h[1] for h in homes],
        team=[f"Sales {h[0].replace('_', ' ').title()}" for h in homes],
        linkedin_slug=slugs,
        export_zip=np.arange(n) % 3 != 2,
        export_crlf=np.arange(n) % 2 == 0,
        export_bom=np.arange(n) % 4 == 1,
        export_extra_columns=np.arange(n) % 3 == 1,
        export_weekday=np.arange(n) % 5,
        workday_start_min=start,
        workday_end_min=start + rng.choice(np.array([480, 510, 540]), n),
    )


def _company_names(seed: int, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique, plausible names and domains; duplicates get a numeral (names) and a digit (domains)."""
    rng = stream(seed, "company-names")
    n = len(segment)
    prefixes = np.array(catalog.COMPANY_PREFIXES)
    p = rng.integers(0, len(prefixes), n)
    r = rng.integers(0, 5, n)
    s = rng.integers(0, len(catalog.COMPANY_SUFFIXES), n)
    t = rng.integers(0, len(catalog.TLDS), n)
    roots = np.array([catalog.COMPANY_ROOTS[catalog.SEGMENTS[g]][k] for g, k in zip(segment, r, strict=True)])
    base = np.char.add(np.char.add(prefixes[p], np.where(rng.random(n) < 0.5, "", " ")), roots)
    slug = np.char.lower(np.char.replace(base, " ", ""))
    occurrence = _occurrence(slug)
    numeral = np.where(occurrence == 0, "", np.char.add(" ", (occurrence + 1).astype(str)))
    name = np.char.add(np.char.add(np.char.add(base, numeral), " "), np.array(catalog.COMPANY_SUFFIXES)[s])
    slug = np.char.add(slug, np.where(occurrence == 0, "", (occurrence + 1).astype(str)))
    domain = np.char.add(np.char.add(slug, "."), np.array(catalog.TLDS)[t])
    return name, domain


def make_companies(seed: int, size: WorldSize, owners: Owners) -> Companies:
    rng = stream(seed, "companies")
    n = size.companies
    segment = rng.choice(len(catalog.SEGMENTS), n, p=catalog.SEGMENT_WEIGHTS / catalog.SEGMENT_WEIGHTS.sum())
    country = rng.choice(len(catalog.COUNTRIES), n, p=catalog.COUNTRY_WEIGHTS)
    timezone = _pick_timezones(rng, country)
    employees = np.clip(np.round(rng.lognormal(np.log(120), 1.4, n)), 3, 250_000).astype(np.int64)
    revenue = np.round(employees * rng.lognormal(np.log(220_000), 0.5, n), -3)
    band = np.searchsorted(catalog.REVENUE_BAND_EDGES, revenue, side="right").astype(np.int8)
    log_emp = np.log10(employees / 100.0)
    age = np.clip(rng.lognormal(np.log(8) + 0.35 * log_emp, 0.6, n), 1, 80)
    founded = (2026 - np.round(age)).astype(np.int64)
    funding = _pick_funding(rng, employees, age)
    emissions = np.round(rng.lognormal(np.log(_SEGMENT_EMISSIONS[segment]), 0.6), 1)
    renewable = np.round(100 * rng.beta(_SEGMENT_RENEWABLE_A[segment], 3.0), 1)
    public = funding == catalog.FUNDING_STAGES.index("public")
    esg = np.clip(np.round(rng.normal(35 + 12 * log_emp + 15 * public, 18)), 0, 100)
    p_sbti = behaviour.sigmoid(-1.8 + 0.04 * (esg - 40) + 0.4 * log_emp)
    has_sbti = rng.random(n) < p_sbti
    sbti = np.where(has_sbti, 1 + rng.choice(3, n, p=[0.4, 0.4, 0.2]), 0).astype(np.int8)
    certs = np.zeros((n, len(catalog.CERTIFICATIONS)), dtype=bool)
    certs[:, 0] = rng.random(n) < 0.05 + 0.12 * (esg > 60) * (employees < 1000)
    p_iso = behaviour.sigmoid(-1.5 + 0.9 * np.log10(employees / 50.0))
    certs[:, 1] = rng.random(n) < p_iso
    certs[:, 2] = rng.random(n) < 0.5 * p_iso
    certs[:, 3] = rng.random(n) < 0.02 + 0.15 * (esg > 75)
    certs[:, 4] = rng.random(n) < np.where(
        segment == catalog.SEGMENTS.index("building_efficiency"), 0.3, 0.04
    )
    owner = _assign_owners(rng, catalog.COUNTRY_REGION[country], owners)
    name, domain = _company_names(seed, segment)
    # Contacts per company: at least one, the rest spread by company size.
    weights = np.sqrt(employees.astype(np.float64))
    extra = (
        rng.multinomial(size.contacts - n, weights / weights.sum()) if size.contacts > n else np.zeros(n, int)
    )
    n_contacts = (1 + extra).astype(np.int64) if size.contacts >= n else np.ones(n, dtype=np.int64)
    first_contact = np.r_[0, np.cumsum(n_contacts)[:-1]].astype(np.int64)
    return Companies(
        id=COMPANY_ID_BASE + np.arange(n, dtype=np.int64),
        segment=segment.astype(np.int8),
        country=country.astype(np.int16),
        timezone=timezone,
        employees=employees,
        annual_revenue=revenue,
        revenue_band=band,
        founded_year=founded,
        funding=funding,
        emissions_intensity=emissions,
        renewable_share=renewable,
        sbti=sbti,
        esg_score=esg,
        certifications=certs,
        owner=owner,
        name=name,
        domain=domain,
        n_contacts=n_contacts,
        first_contact=first_contact,
    )


def _pick_timezones(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    out = np.zeros(len(country), dtype=np.int16)
    u = rng.random(len(country))
    for c, spec in enumerate(catalog.COUNTRIES):
        mask = country == c
        if not mask.any():
            continue
        cum = np.cumsum([share for _, share in spec.timezones])
        pick = np.searchsorted(cum / cum[-1], u[mask], side="right").clip(0, len(spec.timezones) - 1)
        codes = np.array([timezone_code(tz) for tz, _ in spec.timezones], dtype=np.int16)
        out[mask] = codes[pick]
    return out


def _pick_funding(rng: np.random.Generator, employees: np.ndarray, age: np.ndarray) -> np.ndarray:
    n = len(employees)
    # Columns follow catalog.FUNDING_STAGES.
    small = np.array([0.35, 0.30, 0.25, 0.07, 0.01, 0.0, 0.02])
    mid = np.array([0.20, 0.05, 0.20, 0.25, 0.15, 0.03, 0.12])
    large = np.array([0.08, 0.0, 0.02, 0.08, 0.20, 0.35, 0.27])
    cls = np.where(employees < 50, 0, np.where(employees < 1000, 1, 2))
    u = rng.random(n)
    out = np.zeros(n, dtype=np.int8)
    for k, probs in enumerate((small, mid, large)):
        mask = cls == k
        out[mask] = np.searchsorted(np.cumsum(probs), u[mask], side="right").clip(0, len(probs) - 1)
    return out


def _assign_owners(rng: np.random.Generator, region: np.ndarray, owners: Owners) -> np.ndarray:
    out = np.zeros(len(region), dtype=np.int32)
    all_owners = np.arange(len(owners))
    for r in range(len(catalog.REGIONS)):
        mask = region == r
        pool = all_owners[owners.region == r]
        if len(pool) == 0:
            pool = all_owners
        out[mask] = rng.choice(pool, int(mask.sum()))
    return out


def company_blocks(companies: Companies) -> list[tuple[int, int]]:
    """Blocks of companies generated together: at least COMPANY_BLOCK, at most ~8 blocks per world."""
    n = len(companies)
    step = max(COMPANY_BLOCK, -(-n // 8))
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def make_contacts(
    seed: int,
    companies: Companies,
    block: tuple[int, int],
    history_start: float,
    today: float,
    *,
    purpose: str = "contacts",
    created_at: np.ndarray | None = None,
    company_index: np.ndarray | None = None,
    first_index: int | None = None,
) -> Contacts:
    """The contacts of companies [a, b) (or of `company_index` for new contacts in `advance`)."""
    a, b = block
    rng = stream(seed, purpose, a)
    if company_index is None:
        company = np.repeat(np.arange(a, b), companies.n_contacts[a:b])
        start_index = int(companies.first_contact[a]) if b > a else 0
    else:
        company = np.asarray(company_index, dtype=np.int64)
        start_index = int(first_index or 0)
    n = len(company)
    index = start_index + np.arange(n, dtype=np.int64)
    co_country = companies.country[company]
    same_country = rng.random(n) < 0.85
    country = np.where(
        same_country, co_country, rng.choice(len(catalog.COUNTRIES), n, p=catalog.COUNTRY_WEIGHTS)
    ).astype(np.int16)
    tz = np.where(
        same_country & (rng.random(n) < 0.8), companies.timezone[company], _pick_timezones(rng, country)
    )
    seniority = rng.choice(len(catalog.SENIORITIES), n, p=catalog.SENIORITY_WEIGHTS).astype(np.int8)
    clevel = seniority == 0
    function = np.where(
        clevel,
        rng.choice(len(catalog.JOB_FUNCTIONS), n, p=catalog.FUNCTION_WEIGHTS_CLEVEL),
        rng.choice(len(catalog.JOB_FUNCTIONS), n, p=catalog.FUNCTION_WEIGHTS_OTHER),
    ).astype(np.int8)
    first = rng.choice(np.array(catalog.FIRST_NAMES), n)
    last = rng.choice(np.array(catalog.LAST_NAMES), n)
    email = _emails(rng, first, last, companies.domain[company], company)
    title_pick = rng.integers(0, 1000, n)
    jobtitle = np.array(
        [
            _title(catalog.JOB_FUNCTIONS[f], catalog.SENIORITIES[s], k)
            for f, s, k in zip(function, seniority, title_pick, strict=True)
        ]
    )
    has_li = rng.random(n) < 0.85
    slug = np.char.add(
        np.char.add(np.char.add(np.char.lower(first), "-"), np.char.lower(last)),
        np.char.add("-", token_hex(rng, n, 6)),
    )
    slug = np.where(has_li, slug, "")
    source = rng.choice(len(catalog.LEAD_SOURCES), n, p=catalog.LEAD_SOURCE_WEIGHTS).astype(np.int8)
    needs_consent = catalog.COUNTRY_NEEDS_CONSENT[country]
    consent = np.where(
        needs_consent,
        rng.choice(3, n, p=[0.55, 0.10, 0.35]),
        rng.choice(3, n, p=[0.30, 0.05, 0.65]),
    ).astype(np.int8)
    if created_at is None:
        # 55% of contacts existed before the history starts; the rest arrive over the year.
        before = rng.random(n) < 0.55
        pre = history_start - np.minimum(rng.exponential(400.0, n), 4 * 365.0) * DAY
        during = history_start + (today - history_start) * np.sqrt(rng.random(n))
        created_at = np.where(before, pre, during)
        created_at = np.floor(created_at + rng.random(n) * 3600.0)
    certs = companies.certifications[company]
    region = catalog.COUNTRY_REGION[country]
    fit = behaviour.fit_logit(
        segment=companies.segment[company],
        seniority=seniority,
        function=function,
        revenue_band=companies.revenue_band[company],
        funding=companies.funding[company],
        sbti=companies.sbti[company],
        esg_score=companies.esg_score[company],
        renewable_share=companies.renewable_share[company],
        emissions_intensity=companies.emissions_intensity[company],
        has_b_corp=certs[:, 0],
        has_iso_14001=certs[:, 1],
        certification_count=certs.sum(axis=1),
        source=source,
        region=region,
    )
    return Contacts(
        index=index,
        id=CONTACT_ID_BASE + index,
        company=company,
        first_name=first,
        last_name=last,
        email=email,
        jobtitle=jobtitle,
        seniority=seniority,
        function=function,
        country=country,
        region=region,
        timezone=tz.astype(np.int16),
        linkedin_slug=slug,
        source=source,
        consent=consent,
        needs_consent=needs_consent,
        created_at=np.asarray(created_at, dtype=np.float64),
        fit=fit,
        latent=rng.normal(0.0, behaviour.LATENT_SD, n),
        responsiveness=rng.normal(0.0, behaviour.RESPONSIVENESS_SD, n),
        apple=rng.random(n) < behaviour.APPLE_MAIL_SHARE,
        invalid_email=rng.random(n) < behaviour.INVALID_EMAIL_SHARE,
        residual=rng.exponential(1.0, n),
    )


def _title(function: str, seniority: str, pick: int) -> str:
    options = catalog.FUNCTION_TITLES[function][seniority]
    return options[pick % len(options)]


def _emails(
    rng: np.random.Generator, first: np.ndarray, last: np.ndarray, domain: np.ndarray, company: np.ndarray
) -> np.ndarray:
    f = np.char.lower(first)
    la = np.char.lower(last)
    pattern = rng.choice(4, len(first), p=[0.55, 0.25, 0.10, 0.10])
    local = np.where(
        pattern == 0,
        np.char.add(np.char.add(f, "."), la),
        np.where(
            pattern == 1,
            np.char.add(np.char.add(np.array([x[:1] for x in f]) if len(f) else f, ""), la),
            np.where(pattern == 2, np.char.add(np.char.add(f, "_"), la), f),
        ),
    )
    address = np.char.add(np.char.add(local, "@"), domain)
    # Same address twice in a company: append a number to the later ones.
    occurrence = _occurrence(address)
    local = np.where(occurrence == 0, local, np.char.add(local, (occurrence + 1).astype(str)))
    return np.char.add(np.char.add(local, "@"), domain)


def _occurrence(values: np.ndarray) -> np.ndarray:
    """For each value, how many equal values come before it (0 for the first occurrence)."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = np.arange(n) - run_start
    return occurrence
