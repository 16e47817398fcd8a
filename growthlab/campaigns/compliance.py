"""Compliance rules every email obeys: consent, unsubscribe (link and headers), postal address.

* Consent (docs/architecture.md, "Consent rule"): contacts in the EU, EEA, UK and Switzerland need
  `marketing_consent = granted`; elsewhere anything but `denied` (legitimate interest);
  `hs_email_optout = true` never. A contact whose country is unknown (neither the contact's nor the
  company's) is treated as needing consent. A campaign with `consent: strict` needs `granted`
  everywhere.
* Every email carries an unsubscribe link, `List-Unsubscribe` (a mailto: address and, when
  `GROWTHLAB_UNSUBSCRIBE_URL` is set, an https URL) and, with the https URL,
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058); and the sender's postal address.
  `assert_compliant` refuses to hand over an email that lacks any of these.
* Unsubscribe tokens are HMAC-signed outbox ids (`unsubscribe_token` / `verify_unsubscribe_token`),
  so whoever serves the unsubscribe URL can trust them without a database lookup.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from growthlab.config import ConfigError

# ISO 3166 alpha-2 codes and English names of the countries where consent is required.
_CONSENT_COUNTRIES = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "HR": "Croatia", "CY": "Cyprus",
    "CZ": "Czechia", "DK": "Denmark", "EE": "Estonia", "FI": "Finland", "FR": "France",
    "DE": "Germany", "GR": "Greece", "HU": "Hungary", "IE": "Ireland", "IT": "Italy",
    "LV": "Latvia", "LT": "Lithuania", "LU": "Luxembourg", "MT": "Malta", "NL": "Netherlands",
    "PL": "Poland", "PT": "Portugal", "RO": "Romania", "SK": "Slovakia", "SI": "Slovenia",
    "ES": "Spain", "SE": "Sweden",
    "IS": "Iceland", "LI": "Liechtenstein", "NO": "Norway",
    "GB": "United Kingdom", "CH": "Switzerland",
}  # fmt: skip
_ALIASES = {
    "EL", "UK", "CZECH REPUBLIC", "GREAT BRITAIN", "ENGLAND", "SCOTLAND", "WALES", "NORTHERN IRELAND",
    "THE NETHERLANDS", "HOLLAND", "SWISS CONFEDERATION", "EU", "EEA", "EUROPEAN UNION",
}  # fmt: skip
CONSENT_REQUIRED = (
    {c.upper() for c in _CONSENT_COUNTRIES} | {n.upper() for n in _CONSENT_COUNTRIES.values()} | _ALIASES
)


def consent_required(country: str | None) -> bool:
    """True when the country (code or English name) needs explicit consent, or is unknown."""
    if country is None or not str(country).strip():
        return True
    return str(country).strip().upper() in CONSENT_REQUIRED


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1", "yes", "t"}


def may_email(
    country: str | None,
    company_country: str | None,
    marketing_consent: str | None,
    email_optout: object,
    policy: str = "standard",
    requires_consent: bool | None = None,
) -> tuple[bool, str]:
    """(allowed, reason) for one contact under the consent rule.

    `requires_consent` is the warehouse's own verdict for the contact's country
    (marts.dim_contacts.requires_consent); when it is unknown the country lists here decide.
    """
    if _truthy(email_optout):
        return False, "hs_email_optout"
    consent = (marketing_consent or "unknown").strip().lower()
    if consent == "denied":
        return False, "consent_denied"
    if consent == "granted":
        return True, "consent_granted"
    if policy == "strict":
        return False, "consent_required_by_campaign"
    where = country if country and str(country).strip() else company_country
    needs = requires_consent if requires_consent is not None else consent_required(where)
    if needs or not (where and str(where).strip()):
        return False, "consent_required" if where else "consent_required_country_unknown"
    return True, "legitimate_interest"


# SQL twin of `may_email` for set-based checks (planner and send-time gate); keep them in step.
# Parameter: %(consent_countries)s (text[] of upper-case codes and names).
CONSENT_SQL = """
(
    coalesce(lower({optout}::text), 'false') not in ('true', 't', '1', 'yes')
    and coalesce(lower({consent}), 'unknown') <> 'denied'
    and (
        coalesce(lower({consent}), 'unknown') = 'granted'
        or (
            {policy} <> 'strict'
            and nullif(trim(coalesce(nullif(trim({country}), ''), {company_country})), '') is not null
            and not coalesce(
                {requires_consent},
                upper(trim(coalesce(nullif(trim({country}), ''), {company_country})))
                    = any(%(consent_countries)s::text[])
            )
        )
    )
)
"""


def consent_sql(
    optout: str, consent: str, country: str, company_country: str, policy: str, requires_consent: str = "null"
) -> str:
    return CONSENT_SQL.format(
        optout=optout,
        consent=consent,
        country=country,
        company_country=company_country,
        policy=policy,
        requires_consent=f"{requires_consent}::boolean",
    )


def consent_countries() -> list[str]:
    return sorted(CONSENT_REQUIRED)


def email_sha256(email: str) -> str:
    """The suppression key of an address: sha256 of the trimmed, lower-cased address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class UnsubscribeConfig:
    secret: bytes
    https_url: str | None  # e.g. https://growth.example.com/unsubscribe (token appended as a path)


def _secret_file(home: Path) -> Path:
    return home / "campaigns.secret"


def load_unsubscribe_config(home: Path) -> UnsubscribeConfig:
    """From GROWTHLAB_UNSUBSCRIBE_SECRET / GROWTHLAB_UNSUBSCRIBE_URL; a secret is generated once under
    GROWTHLAB_HOME (mode 0600) when none is set, so tokens stay valid across runs."""
    url = (os.environ.get("GROWTHLAB_UNSUBSCRIBE_URL") or "").strip() or None
    if url is not None and not url.startswith("https://"):
        raise ConfigError(
            f"GROWTHLAB_UNSUBSCRIBE_URL={url!r} must be an https:// URL (RFC 8058 one-click unsubscribe)"
        )
    raw = (os.environ.get("GROWTHLAB_UNSUBSCRIBE_SECRET") or "").strip()
    if raw:
        return UnsubscribeConfig(raw.encode(), url)
    path = _secret_file(home)
    if not path.exists():
        # Create it atomically and only once, even with several workers starting together: write a
        # private temp file, then hard-link it into place (fails if someone else won the race).
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode())
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return UnsubscribeConfig(path.read_text().strip().encode(), url)


def _sign(secret: bytes, outbox_id: int) -> str:
    mac = hmac.new(secret, f"unsubscribe:{outbox_id}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def unsubscribe_token(secret: bytes, outbox_id: int) -> str:
    return f"{outbox_id}.{_sign(secret, outbox_id)}"


def verify_unsubscribe_token(secret: bytes, token: str) -> int | None:
    """The outbox id a token was made for, or None when it is forged or malformed."""
    head, _, sig = token.strip().partition(".")
    if not head.isdigit() or not sig:
        return None
    outbox_id = int(head)
    return outbox_id if hmac.compare_digest(sig, _sign(secret, outbox_id)) else None


@dataclass(frozen=True)
class UnsubscribeLinks:
    url: str  # the link in the footer
    header: str  # List-Unsubscribe
    one_click: bool  # List-Unsubscribe-Post applies


def unsubscribe_links(cfg: UnsubscribeConfig, outbox_id: int, mailbox: str) -> UnsubscribeLinks:
    token = unsubscribe_token(cfg.secret, outbox_id)
    local, _, domain = mailbox.partition("@")
    mailto = f"mailto:{local}@{domain}?subject={quote('unsubscribe ' + token)}"
    if cfg.https_url:
        https = f"{cfg.https_url.rstrip('/')}/{token}"
        return UnsubscribeLinks(url=https, header=f"<{https}>, <{mailto}>", one_click=True)
    return UnsubscribeLinks(url=mailto, header=f"<{mailto}>", one_click=False)


def list_unsubscribe_headers(links: UnsubscribeLinks) -> dict[str, str]:
    headers = {"List-Unsubscribe": links.header}
    if links.one_click:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


class ComplianceError(RuntimeError):
    pass


def assert_compliant(
    html: str, text: str, headers: dict[str, str], unsubscribe_url: str, postal_address: str
) -> None:
    """Refuse an email without unsubscribe link, List-Unsubscribe header or postal address."""
    import html as html_lib

    problems = []
    if "List-Unsubscribe" not in headers:
        problems.append("no List-Unsubscribe header")
    if unsubscribe_url not in text or html_lib.escape(unsubscribe_url, quote=True) not in html:
        problems.append("no unsubscribe link in both the HTML and the text part")
    if postal_address not in text or html_lib.escape(postal_address) not in html:
        problems.append("no postal address in both parts")
    if problems:
        raise ComplianceError("; ".join(problems))
