"""Campaign definitions: the typed shape of `campaigns/<id>.yaml` (see campaigns/README.md).

These are pure data classes (pydantic, extra keys forbidden, so a misspelt key is an error rather
than a silently ignored setting). Loading, file/line error reporting and cross-checks that need the
file system live in `growthlab.campaigns.validation`.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from growthlab.portal import ANGLES, JOB_FUNCTIONS, LIFECYCLE_STAGES, SBTI_STATUSES, SEGMENTS, SENIORITIES

GRADES = ("A", "B", "C", "D")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Condition(StrEnum):
    """When a follow-up step fires, judged on the email of the step it follows.

    Opens are human opens: machine opens (Apple Mail Privacy Protection, `sg_machine_open`) do
    not count. A reply always ends the sequence, so every condition implies "no reply".
    """

    NO_OPEN = "no_open"
    OPENED_NO_CLICK = "opened_no_click"
    CLICKED_NO_REPLY = "clicked_no_reply"
    NO_REPLY = "no_reply"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _slug(value: str, what: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError(
            f"{what} {value!r} must be 2-48 characters of lower-case letters, digits and underscores, "
            f"starting with a letter"
        )
    return value


class Sender(_Strict):
    from_email: str
    from_name: str = Field(min_length=1)
    reply_to: str | None = None
    # CAN-SPAM / ePrivacy: the sender's postal address in every email. Falls back to
    # GROWTHLAB_SENDER_POSTAL_ADDRESS; validation fails when neither is set.
    postal_address: str | None = None

    @field_validator("from_email", "reply_to")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not EMAIL_RE.match(v):
            raise ValueError(f"{v!r} is not an email address")
        return v


class Exclusions(_Strict):
    lifecycle_stages: tuple[Literal[LIFECYCLE_STAGES], ...] = ("opportunity", "customer")  # type: ignore[valid-type]
    domains: tuple[str, ...] = ()
    # Skip contacts who got any growthlab email (any campaign) in the last N days.
    contacted_within_days: int = Field(default=14, ge=0, le=365)
    # Skip contacts already enrolled in another active campaign.
    other_active_campaigns: bool = True


class Audience(_Strict):
    segments: tuple[Literal[SEGMENTS], ...] = ()  # type: ignore[valid-type]
    seniority: tuple[Literal[SENIORITIES], ...] = ()  # type: ignore[valid-type]
    job_functions: tuple[Literal[JOB_FUNCTIONS], ...] = ()  # type: ignore[valid-type]
    countries: tuple[str, ...] = ()
    sbti_statuses: tuple[Literal[SBTI_STATUSES], ...] = ()  # type: ignore[valid-type]
    lifecycle_stages: tuple[Literal[LIFECYCLE_STAGES], ...] = ()  # type: ignore[valid-type]
    min_score: float | None = Field(default=None, ge=0, le=100)
    grades: tuple[Literal[GRADES], ...] = ()  # type: ignore[valid-type]
    # Contacts without a lead score: enrol them (score treated as 0) or not.
    include_unscored: bool = False
    exclude: Exclusions = Exclusions()
    max_new_per_day: int = Field(default=200, ge=1, le=100_000)


class Window(_Strict):
    """When mail may arrive, in the recipient's local time (their time zone, else their company's,
    else the campaign's default)."""

    days: tuple[Literal[WEEKDAYS], ...] = ("mon", "tue", "wed", "thu", "fri")  # type: ignore[valid-type]
    start: time = time(9, 0)
    end: time = time(17, 0)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, v: object) -> object:
        # YAML 1.1 reads an unquoted 09:00 as a sexagesimal integer (540): refuse it clearly.
        if isinstance(v, int):
            raise ValueError('write times as quoted strings "HH:MM" (unquoted 09:00 is read as a number)')
        if isinstance(v, str) and not re.fullmatch(r"\d{1,2}:\d{2}", v):
            raise ValueError(f'{v!r} is not a time "HH:MM"')
        return v

    @model_validator(mode="after")
    def _order(self) -> Window:
        if not self.days:
            raise ValueError("days: name at least one weekday")
        if self.start >= self.end:
            raise ValueError(f"start {self.start:%H:%M} must be before end {self.end:%H:%M}")
        return self


class Schedule(_Strict):
    start: date
    end: date | None = None
    window: Window = Window()
    default_timezone: str = "UTC"
    daily_cap: int = Field(default=500, ge=1, le=1_000_000)

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone such as Europe/Berlin") from None
        return v

    @model_validator(mode="after")
    def _order(self) -> Schedule:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Fatigue(_Strict):
    """Widen follow-up gaps for contacts who keep receiving mail without engaging."""

    after_unengaged: int = Field(default=2, ge=1, le=50)
    gap_multiplier: float = Field(default=1.5, ge=1.0, le=10.0)
    max_gap_days: float = Field(default=21, gt=0, le=365)
    lookback_days: int = Field(default=60, ge=1, le=365)


class FollowUp(_Strict):
    # A click on the previous email brings the next step forward to this many days after it.
    fast_track_days: float = Field(default=1, ge=0, le=60)
    fatigue: Fatigue = Fatigue()


class Content(_Strict):
    generator: Literal["template", "llm"] = "template"
    # Extra guidance for the LLM (tone, claims to avoid); the template's draft is always the base.
    llm_instructions: str | None = None


class Variant(_Strict):
    id: str
    angle: Literal[ANGLES]  # type: ignore[valid-type]
    template: str
    weight: float = Field(default=1.0, gt=0)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _slug(v, "variant id")

    @field_validator("template")
    @classmethod
    def _template(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError(f"template {v!r} must be a path inside campaigns/templates/")
        return v


class Step(_Strict):
    id: str
    # The step this one follows (default: none for the first step, the previous step otherwise).
    after: str | None = None
    wait_days: float | None = Field(default=None, ge=0, le=365)
    when: Condition | None = None
    variants: tuple[Variant, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _slug(v, "step id")


class Links(_Strict):
    cta: str
    website: str | None = None

    @field_validator("cta", "website")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s]+$", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v


class Campaign(_Strict):
    id: str
    name: str = Field(min_length=1)
    description: str = ""
    status: Literal["active", "paused", "draft"] = "draft"
    sender: Sender
    links: Links
    audience: Audience = Audience()
    schedule: Schedule
    consent: Literal["standard", "strict"] = "standard"
    content: Content = Content()
    follow_up: FollowUp = FollowUp()
    steps: tuple[Step, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _slug(v, "campaign id")

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(f"campaign {self.id} has no step {step_id!r}")

    def step_number(self, step_id: str) -> int:
        """1-based position of the step in the file (custom_args gl_step)."""
        for i, s in enumerate(self.steps, start=1):
            if s.id == step_id:
                return i
        raise KeyError(f"campaign {self.id} has no step {step_id!r}")

    @property
    def first_step(self) -> Step:
        return self.steps[0]

    def followers(self, step_id: str) -> list[Step]:
        """The steps that may follow `step_id`, in file order."""
        return [s for s in self.steps if s.after == step_id]

    def templates(self) -> set[str]:
        return {v.template for s in self.steps for v in s.variants}
