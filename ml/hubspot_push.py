"""Push scores to HubSpot contact properties: only what changed since the last push.

What HubSpot shows per contact is `growthlab_score` (calibrated probability in %, 0-100),
`growthlab_grade` (A-D), `growthlab_reasons` (the top reasons in one line: "+ Opened 4 emails in
the last 30 days; - Company is not a B Corp") and `growthlab_model_version`. ml.hubspot_push_state
keeps exactly what was last accepted for each contact; a contact is pushed when any of those four
values differs, so HubSpot mirrors ml.lead_scores and nothing is sent twice.

Calls go through the ingestion area's paced, retrying client (growthlab.sources.hubspot_api: the
real `hubspot-api-client`, 429/5xx retries, a rolling rate limiter learnt from HubSpot's headers),
as batch updates of at most 100 contacts. A contact HubSpot rejects (deleted, merged) keeps its
error in the state table, is retried on the next run, and the run raises one ops.alerts row.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from growthlab.warehouse.db import connect

log = logging.getLogger(__name__)

PROPERTIES = {
    "growthlab_score": {"type": "number", "fieldType": "number", "label": "growthlab score"},
    "growthlab_grade": {
        "type": "enumeration",
        "fieldType": "select",
        "label": "growthlab grade",
        "options": [{"label": g, "value": g, "displayOrder": i} for i, g in enumerate("ABCD")],
    },
    "growthlab_reasons": {"type": "string", "fieldType": "textarea", "label": "growthlab reasons"},
    "growthlab_model_version": {"type": "string", "fieldType": "text", "label": "growthlab model version"},
}
MAX_BATCH = 100
MAX_REASONS_CHARS = 1000

# The one-line reasons text, computed in SQL so that "changed" is decided in the database.
_REASONS_TEXT = """
coalesce((
    select string_agg(
        case when (r.item->>'contribution')::double precision >= 0 then '+ ' else '- ' end || (r.item->>'text'),
        '; ' order by r.ord)
    from jsonb_array_elements(l.reasons) with ordinality as r(item, ord)
), '')
"""
CHANGED = f"""
select l.contact_id, round(100 * l.probability)::smallint as score, l.grade,
       left({_REASONS_TEXT}, {MAX_REASONS_CHARS}) as reasons_text, l.model_version
from ml.lead_scores l
left join ml.hubspot_push_state p on p.contact_id = l.contact_id
where p.pushed_at is null
   or p.score is distinct from round(100 * l.probability)::smallint
   or p.grade is distinct from l.grade
   or p.model_version is distinct from l.model_version
   or p.reasons_text is distinct from left({_REASONS_TEXT}, {MAX_REASONS_CHARS})
order by l.contact_id
"""


@dataclass(frozen=True)
class PushRow:
    contact_id: str
    score: int
    grade: str
    reasons_text: str
    model_version: str

    def properties(self) -> dict[str, str]:
        return {
            "growthlab_score": str(self.score),
            "growthlab_grade": self.grade,
            "growthlab_reasons": self.reasons_text,
            "growthlab_model_version": self.model_version,
        }


@dataclass
class PushResult:
    candidates: int = 0
    pushed: int = 0
    failed: int = 0
    calls: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "candidates": self.candidates,
            "pushed": self.pushed,
            "failed": self.failed,
            "calls": self.calls,
            "seconds": round(self.seconds, 2),
            "failed_examples": dict(list(self.failures.items())[:10]),
        }


def changed_rows(url: str) -> list[PushRow]:
    """Contacts whose HubSpot properties differ from ml.lead_scores (what a push would send)."""
    with connect(url) as conn:
        return [PushRow(*row) for row in conn.execute(CHANGED).fetchall()]


def make_api(host: str, token: str, requests_per_10s: int = 100):
    """The paced, retrying HubSpot client of growthlab.sources, extended with what we write."""
    from growthlab.sources.hubspot_api import HubSpotApi

    class ScorePushApi(HubSpotApi):
        def batch_update_contacts(self, inputs: list[dict]) -> dict:
            if len(inputs) > MAX_BATCH:
                raise ValueError(f"HubSpot batch update takes at most {MAX_BATCH} inputs, got {len(inputs)}")
            api = self.client.crm.contacts.batch_api
            body = {"inputs": inputs}
            return self._call(
                "contacts.batch_update",
                lambda: api.update_with_http_info(
                    batch_input_simple_public_object_batch_input=body,
                    _preload_content=False,
                    _request_timeout=self.timeout,
                ),
            )

        def ensure_contact_properties(self) -> list[str]:
            """Create the growthlab_* contact properties that do not exist yet. Returns those created."""
            from growthlab.sources.hubspot_api import HubSpotError

            core = self.client.crm.properties.core_api
            created = []
            for name, spec in PROPERTIES.items():
                try:
                    self._call(
                        "properties.get",
                        lambda name=name: core.get_by_name_with_http_info(
                            "contacts", name, _preload_content=False, _request_timeout=self.timeout
                        ),
                    )
                except HubSpotError as exc:
                    if exc.status != 404:
                        raise
                    body = {"name": name, "groupName": "contactinformation", **spec}
                    self._call(
                        "properties.create",
                        lambda body=body: core.create_with_http_info(
                            "contacts",
                            property_create=body,
                            _preload_content=False,
                            _request_timeout=self.timeout,
                        ),
                    )
                    created.append(name)
            return created

    if not host:
        host = "https://api.hubapi.com"
    if "://" not in host:
        host = "https://" + host
    return ScorePushApi(host, token, limit=requests_per_10s, interval_s=10.0)


def _failed_ids(response: dict) -> dict[str, str]:
    out = {}
    for error in response.get("errors") or []:
        message = str(error.get("message") or error.get("category") or "rejected")
        for contact_id in (error.get("context") or {}).get("ids") or []:
            out[str(contact_id)] = message
    return out


def _record(conn, pushed: list[PushRow], failed: dict[str, str]) -> None:
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        if pushed:
            cur.executemany(
                "insert into ml.hubspot_push_state (contact_id, score, grade, reasons_text, model_version, pushed_at, "
                "last_error, last_error_at) values (%s, %s, %s, %s, %s, %s, null, null) "
                "on conflict (contact_id) do update set score = excluded.score, grade = excluded.grade, "
                "reasons_text = excluded.reasons_text, model_version = excluded.model_version, "
                "pushed_at = excluded.pushed_at, last_error = null, last_error_at = null",
                [(r.contact_id, r.score, r.grade, r.reasons_text, r.model_version, now) for r in pushed],
            )
        if failed:
            cur.executemany(
                "insert into ml.hubspot_push_state (contact_id, last_error, last_error_at) values (%s, %s, %s) "
                "on conflict (contact_id) do update set last_error = excluded.last_error, "
                "last_error_at = excluded.last_error_at",
                [(cid, message[:1000], now) for cid, message in failed.items()],
            )
    conn.commit()


def _push_batch(api, rows: list[PushRow], result: PushResult) -> tuple[list[PushRow], dict[str, str]]:
    """Send one batch; on a whole-batch rejection split it to isolate the contacts HubSpot refuses."""
    from growthlab.sources.hubspot_api import HubSpotError

    result.calls += 1
    try:
        response = api.batch_update_contacts(
            [{"id": r.contact_id, "properties": r.properties()} for r in rows]
        )
    except HubSpotError as exc:
        if exc.status is None or exc.status in (401, 403) or exc.status == 429 or exc.status >= 500:
            raise  # not about these contacts: the token, the rate limit or HubSpot itself
        if len(rows) == 1:
            return [], {rows[0].contact_id: str(exc)}
        half = len(rows) // 2
        ok_a, bad_a = _push_batch(api, rows[:half], result)
        ok_b, bad_b = _push_batch(api, rows[half:], result)
        return ok_a + ok_b, {**bad_a, **bad_b}
    failed = _failed_ids(response)
    return [r for r in rows if r.contact_id not in failed], failed


def push_changed_scores(
    url: str, api, batch_size: int = MAX_BATCH, ensure_properties: bool = True, actor: str = "ml.hubspot_push"
) -> PushResult:
    """Push every changed contact, `batch_size` (<= 100) per call; state recorded batch by batch,
    so an interrupted run resumes where it stopped."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
    started = time.perf_counter()
    result = PushResult()
    if ensure_properties:
        created = api.ensure_contact_properties()
        if created:
            log.info("created HubSpot contact properties: %s", ", ".join(created))
    with connect(url) as read_conn, connect(url) as write_conn:
        with read_conn.cursor(name="hubspot_push_changed") as cur:
            cur.itersize = 5000
            cur.execute(CHANGED)
            batch: list[PushRow] = []
            for row in cur:
                batch.append(PushRow(*row))
                if len(batch) == batch_size:
                    _flush(api, batch, result, write_conn)
                    batch = []
            if batch:
                _flush(api, batch, result, write_conn)
        read_conn.commit()
    result.seconds = time.perf_counter() - started
    if result.failed:
        message = (
            f"HubSpot refused the score update of {result.failed} contact(s) (e.g. "
            f"{', '.join(list(result.failures)[:5])}): {next(iter(result.failures.values()))}. "
            f"They stay pending and are retried on the next run; check whether they were deleted or merged"
        )
        log.warning(message)
        with connect(url) as conn:
            conn.execute(
                "insert into ops.alerts (source, severity, message, details) values ('ml.hubspot_push', 'warning', %s, %s)",
                (message, json.dumps(result.as_dict())),
            )
            conn.commit()
    log.info(
        "HubSpot push: %d changed, %d pushed, %d refused, %d calls, %.1fs",
        result.candidates,
        result.pushed,
        result.failed,
        result.calls,
        result.seconds,
    )
    return result


def _flush(api, batch: list[PushRow], result: PushResult, write_conn) -> None:
    result.candidates += len(batch)
    ok, failed = _push_batch(api, batch, result)
    _record(write_conn, ok, failed)
    result.pushed += len(ok)
    result.failed += len(failed)
    result.failures.update(failed)
