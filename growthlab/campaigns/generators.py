"""Content generators: who writes an email's subject and body.

* `TemplateGenerator` (the default) renders the variant's Jinja2 template: deterministic, the same
  contact and variant always give the same email.
* `LLMGenerator` asks any OpenAI-compatible chat-completions endpoint (GROWTHLAB_LLM_BASE_URL,
  GROWTHLAB_LLM_API_KEY, GROWTHLAB_LLM_MODEL) to rewrite the template's draft for the recipient. Its
  output must pass the same checks as a template's, may only link the campaign's own URLs, and on
  any failure (HTTP error, timeout, malformed answer, guardrail) the template's draft is used and
  the reason recorded. After `max_consecutive_failures` failures in a row it stops calling the
  endpoint for the rest of the run.

Every result names its generator (`template` or `llm:<model>`); the outbox stores it with the
variant.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jinja2

from growthlab.campaigns.templates import URL_RE, Draft, check_draft, render_draft
from growthlab.campaigns.yamlsource import LocatedError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    draft: Draft
    generator: str  # "template" or "llm:<model>"
    note: str | None = None  # e.g. why the LLM's draft was not used


@dataclass(frozen=True)
class GenerationRequest:
    template: jinja2.Template
    context: Mapping[str, Any]
    angle: str
    instructions: str | None = None


class ContentGenerator(Protocol):
    def generate(self, request: GenerationRequest) -> Generated: ...


class TemplateGenerator:
    name = "template"

    def generate(self, request: GenerationRequest) -> Generated:
        draft = render_draft(request.template, request.context)
        check_draft(draft, request.template.filename or request.template.name or "?")
        return Generated(draft, self.name)


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    api_key: str | None
    model: str
    timeout: float = 20.0

    @classmethod
    def from_env(cls) -> LLMConfig | None:
        base = (os.environ.get("GROWTHLAB_LLM_BASE_URL") or "").strip()
        if not base:
            return None
        return cls(
            base_url=base.rstrip("/"),
            api_key=(os.environ.get("GROWTHLAB_LLM_API_KEY") or "").strip() or None,
            model=(os.environ.get("GROWTHLAB_LLM_MODEL") or "gpt-4o-mini").strip(),
            timeout=float(os.environ.get("GROWTHLAB_LLM_TIMEOUT_SECONDS") or 20),
        )


SYSTEM_PROMPT = (
    "You write short, specific B2B emails for a clean-tech company. Rewrite the draft you are given "
    "for this recipient. Keep its facts, its offer and its call to action; do not invent numbers, "
    "customers or claims; use no links except the ones in the draft; no footer, no signature block "
    "beyond the sender's first name, no unsubscribe text (it is added later). Answer with a JSON "
    'object only: {"subject": "...", "body": "..."}; body is plain text, paragraphs separated by '
    "blank lines, at most 150 words."
)


class LLMError(RuntimeError):
    pass


class LLMGenerator:
    """Rewrites the template's draft with an OpenAI-compatible model; falls back to the draft."""

    def __init__(
        self,
        config: LLMConfig,
        client: httpx.Client | None = None,
        max_consecutive_failures: int = 3,
    ) -> None:
        self.config = config
        self.name = f"llm:{config.model}"
        self._client = client or httpx.Client(timeout=config.timeout)
        self._fallback = TemplateGenerator()
        self._failures = 0
        self._max_failures = max_consecutive_failures

    def close(self) -> None:
        self._client.close()

    def generate(self, request: GenerationRequest) -> Generated:
        base = self._fallback.generate(request)
        if self._failures >= self._max_failures:
            return Generated(base.draft, "template", f"llm skipped after {self._failures} failures in a row")
        try:
            draft = self._rewrite(base.draft, request)
        except (LLMError, LocatedError, httpx.HTTPError, ValueError) as exc:
            self._failures += 1
            reason = exc.reason if isinstance(exc, LocatedError) else str(exc)
            log.warning("LLM generation failed, using the template (%s)", reason[:200])
            return Generated(base.draft, "template", f"llm fallback: {reason[:300]}")
        self._failures = 0
        return Generated(draft, self.name)

    def _rewrite(self, draft: Draft, request: GenerationRequest) -> Draft:
        facts = {
            "recipient": request.context.get("contact"),
            "company": request.context.get("company"),
            "why_them": (request.context.get("score") or {}).get("reason_line"),
            "angle": request.angle,
            "sender": request.context.get("sender"),
        }
        user = json.dumps(
            {
                "draft": {"subject": draft.subject, "body": draft.body},
                "facts": facts,
                "instructions": request.instructions,
            },
            default=str,
        )
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        response = self._client.post(
            f"{self.config.base_url}/chat/completions",
            headers=headers,
            json={
                "model": self.config.model,
                "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
                "temperature": 0.4,
            },
        )
        if response.status_code != 200:
            raise LLMError(f"HTTP {response.status_code} from the LLM endpoint")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError, ValueError):
            raise LLMError("the LLM answer has no choices[0].message.content") from None
        parsed = _parse_json_object(content)
        subject = " ".join(str(parsed.get("subject") or "").split())
        body = str(parsed.get("body") or "").strip()
        candidate = Draft(subject=subject, body=body, preheader=draft.preheader)
        check_draft(candidate, self.name)
        allowed = {u for u in URL_RE.findall(draft.body)} | {
            v for v in (request.context.get("links") or {}).values() if v
        }
        foreign = [u for u in URL_RE.findall(body) if u.rstrip(".,;:!?") not in allowed]
        if foreign:
            raise LLMError(f"the LLM added links that are not the campaign's: {foreign[:3]}")
        if len(body) > max(1500, 3 * len(draft.body)):
            raise LLMError(f"the LLM body is too long ({len(body)} characters)")
        return candidate


def _parse_json_object(content: str) -> dict[str, Any]:
    text = content.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise LLMError("the LLM answer is not a JSON object") from None
    if not isinstance(value, dict):
        raise LLMError("the LLM answer is not a JSON object")
    return value


def generator_for(kind: str, llm: LLMConfig | None) -> tuple[ContentGenerator, str | None]:
    """The generator a campaign asks for, and a note when it cannot have it."""
    if kind == "llm":
        if llm is None:
            return TemplateGenerator(), "llm requested but GROWTHLAB_LLM_BASE_URL is not set"
        return LLMGenerator(llm), None
    return TemplateGenerator(), None
