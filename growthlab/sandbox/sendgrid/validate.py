"""Validate a v3 mail send request like SendGrid: the OpenAPI schema, then SendGrid's own rules.

The schema is the request body of `POST /v3/mail/send` in the OpenAPI spec
(../shared/reference/sendgrid/mail_send_v3.openapi.json, a copy ships as mail_send_v3.schema.json).
One deliberate difference: the spec types the top-level `custom_args` as a string, but SendGrid
accepts (and its Python helper sends) an object there, so an object is accepted too.

Errors come back as SendGrid's `{"errors": [{"message", "field", "help"}]}`, one per problem,
naming the field (`personalizations.0.to.0.email`).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("mail_send_v3.schema.json")
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.{}"
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_SEND_AT_HOURS = 72
MAX_CUSTOM_ARGS_BYTES = 10_000
EMAIL = re.compile(
    r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
RESERVED_HEADERS = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}


def error(message: str, field: str | None, anchor: str = "") -> dict:
    return {"message": message, "field": field, "help": HELP.format(anchor or (field or "").split(".")[0])}


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft4Validator

    doc = json.loads(SCHEMA_FILE.read_text())
    schema = copy.deepcopy(
        doc["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    )
    schema["properties"]["custom_args"] = {"type": ["object", "string"]}
    schema["components"] = doc["components"]
    return Draft4Validator(schema)


def _path(error_path) -> str:
    return ".".join(str(p) for p in error_path)


def validate_mail(body: Any, now: datetime) -> list[dict]:
    """Problems with a mail send request (empty: valid). `now` is the sandbox clock (for send_at)."""
    if not isinstance(body, dict):
        return [error("Bad Request", None, "")]
    problems: list[dict] = []
    seen_fields: set[str | None] = set()

    def add(message: str, field: str | None, anchor: str = "") -> None:
        if field not in seen_fields:
            seen_fields.add(field)
            problems.append(error(message, field, anchor))

    # SendGrid's own rules first: they carry its wording.
    sender = body.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        add(
            "The from object must be provided for every email send. It is an object that requires the email "
            'parameter, but may also contain a name parameter.  e.g. {"email" : "example@example.com"}  or '
            '{"email" : "example@example.com", "name" : "Example Recipient"}.',
            "from.email",
            "from",
        )
    elif not EMAIL.match(str(sender["email"])):
        add("The from email does not contain a valid address.", "from.email", "from")
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        add(
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
            "personalizations",
        )
        personalizations = []
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        add(
            f"The personalizations field is limited to {MAX_PERSONALIZATIONS} personalizations per API request. "
            f"You have provided {len(personalizations)}. Please consider splitting this into multiple requests.",
            "personalizations",
            "personalizations",
        )
    template = body.get("template_id")
    top_subject = body.get("subject")
    recipients = 0
    for i, p in enumerate(personalizations):
        if not isinstance(p, dict):
            add("Each personalization must be an object.", f"personalizations.{i}", "personalizations")
            continue
        to = p.get("to")
        if not isinstance(to, list) or not to:
            add(
                "The to array is required for all personalization objects, and must have at least one email "
                "object with a valid email address.",
                f"personalizations.{i}.to",
                "personalizations.to",
            )
            to = []
        addresses: set[str] = set()
        for kind in ("to", "cc", "bcc"):
            for j, r in enumerate(p.get(kind) or []):
                email = r.get("email") if isinstance(r, dict) else None
                if not email or not EMAIL.match(str(email)):
                    add(
                        "Does not contain a valid address.",
                        f"personalizations.{i}.{kind}.{j}.email",
                        "personalizations.to",
                    )
                    continue
                recipients += 1
                key = str(email).lower()
                if key in addresses:
                    add(
                        "Each email address in the personalization block should be unique between to, cc, and bcc. "
                        f"We found the first duplicate instance of [{email}] in the personalizations.{i}.{kind} field.",
                        f"personalizations.{i}.{kind}",
                        "personalizations",
                    )
                addresses.add(key)
        if not top_subject and not template and not p.get("subject"):
            add(
                "The subject is required. You can get around this requirement if you use a template with a "
                "subject defined or if every personalization has a subject defined.",
                "subject",
                "subject",
            )
        if "send_at" in p:
            _check_send_at(p["send_at"], f"personalizations.{i}.send_at", now, add)
        _check_headers(p.get("headers"), f"personalizations.{i}.headers", add)
        _check_custom_args(p.get("custom_args"), f"personalizations.{i}.custom_args", add)
    if recipients > MAX_RECIPIENTS:
        add(
            f"The total number of recipients must be less than {MAX_RECIPIENTS}. This includes all recipients "
            "defined within the to, cc, and bcc parameters, across each object that you include in the "
            "personalizations array.",
            "personalizations",
            "personalizations",
        )
    content = body.get("content")
    if not template:
        if not isinstance(content, list) or not content:
            add(
                "Unless a valid template_id is provided, the content parameter is required. There must be at least "
                "one defined content block. We typically suggest both text/plain and text/html blocks are included, "
                "but only one block is required.",
                "content",
                "contents",
            )
        else:
            types = [c.get("type") for c in content if isinstance(c, dict)]
            if "text/plain" in types and types.index("text/plain") != 0:
                add(
                    "If present, text/plain content must be first, followed by text/html, followed by any other content.",
                    "content",
                    "contents",
                )
            for k, c in enumerate(content):
                if not isinstance(c, dict) or not c.get("value"):
                    add(
                        "The content value must be a string at least one character in length.",
                        f"content.{k}.value",
                        "contents",
                    )
    categories = body.get("categories")
    if isinstance(categories, list):
        if len(categories) > MAX_CATEGORIES:
            add(
                f"Too many categories. You may only provide up to {MAX_CATEGORIES} categories per request.",
                "categories",
                "categories",
            )
        for k, c in enumerate(categories):
            if not isinstance(c, str) or len(c) > 255:
                add(
                    "A category cannot have more than 255 characters and must be a string.",
                    f"categories.{k}",
                    "categories",
                )
    if "send_at" in body:
        _check_send_at(body["send_at"], "send_at", now, add)
    _check_headers(body.get("headers"), "headers", add)
    _check_custom_args(body.get("custom_args"), "custom_args", add)
    asm = body.get("asm")
    if asm is not None and (not isinstance(asm, dict) or not isinstance(asm.get("group_id"), int)):
        add("The asm object requires an integer group_id.", "asm.group_id", "asm")
    # Then the OpenAPI schema, for what the rules above do not cover.
    for e in sorted(_validator().iter_errors(body), key=lambda e: list(e.path)):
        field = _path(e.path) or None
        if field in seen_fields or any(field and field.startswith(f"{s}.") for s in seen_fields if s):
            continue
        if e.validator == "required":
            missing = e.message.split("'")[1] if "'" in e.message else ""
            field = f"{field}.{missing}" if field else missing
            if field in seen_fields:
                continue
        add(f"Invalid value: {e.message}", field)
    return problems


def _check_send_at(value: Any, field: str, now: datetime, add) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        add("The send_at parameter must be a unix timestamp (an integer).", field, "send_at")
        return
    if value - now.timestamp() > MAX_SEND_AT_HOURS * 3600:
        add(
            f"The send_at parameter can't be scheduled more than {MAX_SEND_AT_HOURS} hours in advance.",
            field,
            "send_at",
        )


def _check_headers(headers: Any, field: str, add) -> None:
    if headers is None:
        return
    if not isinstance(headers, dict):
        add("The headers parameter must be an object of header names to string values.", field, "headers")
        return
    for name, value in headers.items():
        if str(name).lower() in RESERVED_HEADERS:
            add(f"The header {name} is reserved and cannot be set.", f"{field}.{name}", "headers")
        elif not isinstance(value, str):
            add(f"The value of header {name} must be a string.", f"{field}.{name}", "headers")


def _check_custom_args(args: Any, field: str, add) -> None:
    if args is None:
        return
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            add("The custom_args parameter must be an object.", field, "custom_args")
            return
    if not isinstance(args, dict):
        add("The custom_args parameter must be an object.", field, "custom_args")
        return
    for key, value in args.items():
        if not isinstance(value, str):
            add(f"Custom args values must be strings; {key} is not.", f"{field}.{key}", "custom_args")
    if len(json.dumps(args).encode()) > MAX_CUSTOM_ARGS_BYTES:
        add(f"The custom_args total size can't exceed {MAX_CUSTOM_ARGS_BYTES:,} bytes.", field, "custom_args")
