"""Jinja2 templates of campaign emails: loading, strict validation, rendering and the layout.

A variant template (`campaigns/templates/<name>.j2`) defines the blocks `subject`, `body` and
optionally `preheader`. The body is plain text: paragraphs separated by blank lines, bare http(s)
URLs become links. The layout around it (growthlab/campaigns/layouts/) is code, not content: it
adds the unsubscribe link and the sender's postal address to every email, so no template can
forget them.

Templates run in Jinja's sandbox with `StrictUndefined`: a misspelt variable is an error at
validation time (rendered against `content.sample_contexts`), naming the template file and line.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from growthlab.campaigns.yamlsource import LocatedError

BLOCKS_REQUIRED = ("subject", "body")
BLOCKS_ALLOWED = ("subject", "preheader", "body")
SUBJECT_MAX = 150
LAYOUTS = Path(__file__).resolve().parent / "layouts"
URL_RE = re.compile(r"https?://[^\s<>\"')]+")


@dataclass(frozen=True)
class Draft:
    """What a generator produces for one email, before the compliance layout."""

    subject: str
    body: str
    preheader: str | None = None


@dataclass(frozen=True)
class Footer:
    unsubscribe_url: str
    postal_address: str
    sender_name: str
    reason: str  # why the recipient gets this email, in one sentence


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def _pct(value: Any, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{float(value):.{digits}f}%"


def make_environment(templates_dir: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # the body is plain text; the HTML layout escapes it
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["pct"] = _pct
    return env


@lru_cache(maxsize=4)
def _layout_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(LAYOUTS)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _template_line(exc: BaseException, template: jinja2.Template) -> int | None:
    """The template line an exception was raised on, from Jinja's debug info."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if template.filename and tb.tb_frame.f_code.co_filename == template.filename:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


def load_template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Load and compile a template; syntax errors become `LocatedError(file, line, reason)`."""
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        raise LocatedError(
            exc.filename or name, exc.lineno, f"template syntax error: {exc.message}"
        ) from None
    except jinja2.TemplateNotFound:
        raise LocatedError(name, None, "template not found") from None


def render_draft(template: jinja2.Template, context: Mapping[str, Any]) -> Draft:
    """Render a variant template's blocks. Errors name the template file and line."""
    ctx = template.new_context(dict(context))
    parts: dict[str, str] = {}
    for block in BLOCKS_ALLOWED:
        func = template.blocks.get(block)
        if func is None:
            continue
        try:
            parts[block] = "".join(func(ctx)).strip()
        except jinja2.UndefinedError as exc:
            raise LocatedError(
                template.filename or template.name or "?",
                _template_line(exc, template),
                f"block {block!r}: undefined variable: {exc.message}",
            ) from None
        except jinja2.TemplateError as exc:
            raise LocatedError(
                template.filename or template.name or "?",
                _template_line(exc, template),
                f"block {block!r}: {exc.message or type(exc).__name__}",
            ) from None
        except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
            raise LocatedError(
                template.filename or template.name or "?",
                _template_line(exc, template),
                f"block {block!r}: {type(exc).__name__}: {exc}",
            ) from None
    subject = " ".join(parts.get("subject", "").split())
    return Draft(subject=subject, body=_tidy(parts.get("body", "")), preheader=parts.get("preheader") or None)


def _tidy(body: str) -> str:
    """Normalise paragraphs: strip each line, collapse runs of blank lines to one."""
    lines = [ln.rstrip() for ln in body.strip().splitlines()]
    out: list[str] = []
    for ln in lines:
        if not ln.strip() and out and not out[-1].strip():
            continue
        out.append(ln.strip())
    return "\n".join(out)


def check_draft(draft: Draft, where: str) -> None:
    """A draft every generator must satisfy before it may be sent."""
    if not draft.subject:
        raise LocatedError(where, None, "the subject is empty")
    if len(draft.subject) > SUBJECT_MAX:
        raise LocatedError(
            where, None, f"the subject has {len(draft.subject)} characters (at most {SUBJECT_MAX})"
        )
    if not draft.body.strip():
        raise LocatedError(where, None, "the body is empty")
    if "{{" in draft.subject + draft.body or "{%" in draft.subject + draft.body:
        raise LocatedError(where, None, "unrendered template markup left in the email")


def validate_template(
    env: jinja2.Environment, name: str, contexts: Sequence[Mapping[str, Any]]
) -> list[LocatedError]:
    """Every problem of one variant template, each with its file and line."""
    try:
        template = load_template(env, name)
    except LocatedError as exc:
        return [exc]
    filename = template.filename or name
    errors: list[LocatedError] = []
    missing = [b for b in BLOCKS_REQUIRED if b not in template.blocks]
    if missing:
        errors.append(
            LocatedError(
                filename,
                None,
                f"missing block(s) {', '.join(missing)}: define {{% block subject %}}...{{% endblock %}}"
                " and {% block body %}...{% endblock %}",
            )
        )
    unknown = sorted(set(template.blocks) - set(BLOCKS_ALLOWED))
    if unknown:
        errors.append(
            LocatedError(
                filename, None, f"unknown block(s) {', '.join(unknown)}; allowed: {', '.join(BLOCKS_ALLOWED)}"
            )
        )
    if errors:
        return errors
    seen: set[str] = set()
    for i, context in enumerate(contexts):
        try:
            draft = render_draft(template, context)
            check_draft(draft, filename)
        except LocatedError as exc:
            sample = "a complete lead" if i == 0 else "a sparse lead (no name, company or score)"
            key = f"{exc.file}:{exc.line}:{exc.reason}"
            if key not in seen:
                seen.add(key)
                errors.append(LocatedError(exc.file, exc.line, f"{exc.reason} (rendering for {sample})"))
    return errors


def text_to_html(body: str) -> str:
    """Plain-text paragraphs to HTML: escaped, bare URLs linked, single newlines as <br>."""
    paragraphs = [p for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    out = []
    for para in paragraphs:
        pieces = []
        last = 0
        for match in URL_RE.finditer(para):
            pieces.append(html.escape(para[last : match.start()]))
            url = html.escape(match.group(0), quote=True)
            pieces.append(f'<a href="{url}">{url}</a>')
            last = match.end()
        pieces.append(html.escape(para[last:]))
        out.append("<p>" + "".join(pieces).replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


def compose(draft: Draft, footer: Footer) -> RenderedEmail:
    """Wrap a draft in the layout: HTML and text parts, each with unsubscribe link and address."""
    env = _layout_env()
    data = {
        "subject": draft.subject,
        "preheader": draft.preheader,
        "body_html": jinja2.utils.markupsafe.Markup(text_to_html(draft.body)),
        "body_text": draft.body,
        "footer": footer,
    }
    html_part = env.get_template("email.html.j2").render(data)
    text_part = env.get_template("email.txt.j2").render(data)
    return RenderedEmail(subject=draft.subject, html=html_part, text=text_part)
