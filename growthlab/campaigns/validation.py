"""Load and validate the campaign catalog: `campaigns/*.yaml` and `campaigns/templates/`.

Everything is checked before anything is planned or sent, and every problem is reported at once,
each as `file:line: reason`:

* YAML syntax and duplicate keys (growthlab.campaigns.yamlsource);
* the schema (growthlab.campaigns.definitions): types, allowed values, unknown keys (with a
  "did you mean" hint);
* the sequence: unique step and variant ids, `after` naming an earlier step, one follow-up per
  condition, waits on every follow-up;
* the sender's postal address (the campaign's or GROWTHLAB_SENDER_POSTAL_ADDRESS);
* every template: Jinja syntax, the required blocks, and a render against sample leads with
  StrictUndefined (a misspelt variable names the template file and line).
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from growthlab.campaigns import definitions as d
from growthlab.campaigns.content import sample_contexts
from growthlab.campaigns.templates import make_environment, validate_template
from growthlab.campaigns.yamlsource import Located, LocatedError, load_located


class CatalogError(ValueError):
    """One or more campaign files or templates are invalid. Nothing was planned or sent."""

    def __init__(self, errors: list[LocatedError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(
            f"{len(errors)} problem(s) in the campaign definitions; fix them and run "
            f"`growthlab campaigns validate` again:\n{lines}"
        )


@dataclass(frozen=True)
class LoadedCampaign:
    campaign: d.Campaign
    file: Path
    sha256: str  # of the YAML file and every template it uses
    postal_address: str


@dataclass(frozen=True)
class Catalog:
    root: Path
    campaigns: dict[str, LoadedCampaign] = field(default_factory=dict)

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    def active(self) -> list[LoadedCampaign]:
        return [c for c in self.campaigns.values() if c.campaign.status == "active"]


def campaigns_dir() -> Path:
    from growthlab.config import get_settings

    override = (os.environ.get("GROWTHLAB_CAMPAIGNS_DIR") or "").strip()
    return Path(override).resolve() if override else get_settings().project_root / "campaigns"


def _all_field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    seen = seen or set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for f in model.model_fields.values():
        for arg in _model_types(f.annotation):
            names |= _all_field_names(arg, seen)
    return names


def _model_types(annotation: object) -> list[type[BaseModel]]:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_model_types(arg))
    return out


_KNOWN_KEYS = sorted(_all_field_names(d.Campaign))


def _schema_errors(doc: Located, exc: ValidationError) -> list[LocatedError]:
    errors = []
    raw = exc.errors()
    locs = [tuple(e["loc"]) for e in raw]
    for err in raw:
        loc = tuple(err["loc"])
        if any(other != loc and other[: len(loc)] == loc for other in locs):
            continue  # a consequence of a more precise error below it (e.g. a list left empty)
        path_text = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            hint = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
            reason = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        elif err["type"] == "missing":
            reason = f"{path_text}: required key missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            shown = err.get("input")
            value = "" if isinstance(shown, dict | list) else f" (got {shown!r})"
            reason = f"{path_text}: {msg}{value}"
        errors.append(doc.error(loc, reason))
    return errors


def _normalise_steps(doc: Located) -> None:
    """Follow-up steps without `after` follow the previous step."""
    steps = doc.value.get("steps") if isinstance(doc.value, dict) else None
    if not isinstance(steps, list):
        return
    for i, step in enumerate(steps):
        if i > 0 and isinstance(step, dict) and "after" not in step and isinstance(steps[i - 1], dict):
            step["after"] = steps[i - 1].get("id")


def _sequence_errors(doc: Located, campaign: d.Campaign) -> list[LocatedError]:
    errors: list[LocatedError] = []
    seen: dict[str, int] = {}
    first = campaign.steps[0]
    raw_first = doc.value["steps"][0]
    if "after" in raw_first or "when" in raw_first or "wait_days" in raw_first:
        errors.append(
            doc.error(
                ("steps", 0), f"the first step {first.id!r} starts the sequence: remove after/when/wait_days"
            )
        )
    for i, step in enumerate(campaign.steps):
        if step.id in seen:
            errors.append(
                doc.error(
                    ("steps", i, "id"), f"step id {step.id!r} is used twice (also step {seen[step.id] + 1})"
                )
            )
        if i > 0:
            if step.after not in seen:
                errors.append(
                    doc.error(
                        ("steps", i, "after"),
                        f"step {step.id!r} follows {step.after!r}, which is not an earlier step",
                    )
                )
            if step.wait_days is None:
                errors.append(doc.error(("steps", i), f"follow-up step {step.id!r} needs wait_days"))
        seen.setdefault(step.id, i)
        variant_ids: set[str] = set()
        for j, variant in enumerate(step.variants):
            if variant.id in variant_ids:
                errors.append(
                    doc.error(
                        ("steps", i, "variants", j, "id"),
                        f"variant id {variant.id!r} is used twice in step {step.id!r}",
                    )
                )
            variant_ids.add(variant.id)
    by_parent: dict[str, list[tuple[int, d.Step]]] = {}
    for i, step in enumerate(campaign.steps[1:], start=1):
        by_parent.setdefault(step.after or "", []).append((i, step))
    for parent, children in by_parent.items():
        conditions = [(i, s.when or d.Condition.NO_REPLY) for i, s in children]
        counts: dict[str, int] = {}
        for i, cond in conditions:
            counts[cond] = counts.get(cond, 0) + 1
            if counts[cond] == 2:
                errors.append(
                    doc.error(
                        ("steps", i, "when"),
                        f"two steps follow {parent!r} on the same condition {cond.value!r}",
                    )
                )
        if d.Condition.NO_REPLY in counts and len(children) > 1:
            i = next(i for i, c in conditions if c == d.Condition.NO_REPLY)
            errors.append(
                doc.error(
                    ("steps", i, "when"),
                    f"'no_reply' overlaps the other conditions of the steps after {parent!r}; use no_open, "
                    "opened_no_click and clicked_no_reply instead",
                )
            )
    return errors


def load_campaign_file(path: Path, templates_dir: Path) -> LoadedCampaign:
    """One campaign file, fully validated (raises CatalogError with every problem found)."""
    errors: list[LocatedError] = []
    try:
        doc = load_located(path)
    except LocatedError as exc:
        raise CatalogError([exc]) from None
    if not isinstance(doc.value, dict):
        raise CatalogError([doc.error((), "a campaign definition must be a YAML mapping")])
    _normalise_steps(doc)
    try:
        campaign = d.Campaign.model_validate(doc.value)
    except ValidationError as exc:
        raise CatalogError(_schema_errors(doc, exc)) from None
    if campaign.id != path.stem:
        errors.append(
            doc.error(("id",), f"campaign id {campaign.id!r} must match the file name {path.stem!r}")
        )
    errors.extend(_sequence_errors(doc, campaign))
    postal = (
        campaign.sender.postal_address or (os.environ.get("GROWTHLAB_SENDER_POSTAL_ADDRESS") or "").strip()
    )
    if not postal:
        errors.append(
            doc.error(
                ("sender",),
                "no postal address: set sender.postal_address or GROWTHLAB_SENDER_POSTAL_ADDRESS "
                "(every email must carry the sender's postal address)",
            )
        )
    env = make_environment(templates_dir)
    contexts = sample_contexts(
        {"id": campaign.id, "name": campaign.name},
        campaign.sender.model_dump(),
        campaign.links.model_dump(),
    )
    digest = hashlib.sha256(path.read_bytes())
    for i, step in enumerate(campaign.steps):
        for j, variant in enumerate(step.variants):
            template_path = templates_dir / variant.template
            if not template_path.is_file():
                errors.append(
                    doc.error(
                        ("steps", i, "variants", j, "template"),
                        f"template {variant.template!r} not found in {templates_dir}",
                    )
                )
                continue
            errors.extend(validate_template(env, variant.template, contexts))
            digest.update(variant.template.encode() + b"\0" + template_path.read_bytes())
    if errors:
        raise CatalogError(_dedupe(errors))
    return LoadedCampaign(campaign=campaign, file=path, sha256=digest.hexdigest(), postal_address=postal)


def _dedupe(errors: list[LocatedError]) -> list[LocatedError]:
    seen: set[str] = set()
    out = []
    for e in errors:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out


_CACHE: dict[Path, tuple[tuple, Catalog]] = {}


def _fingerprint(root: Path) -> tuple:
    """What a catalog depends on: every file's path, size and mtime, and the postal-address fallback."""
    files = tuple(
        sorted(
            (str(p.relative_to(root)), st.st_size, st.st_mtime_ns)
            for p in root.rglob("*")
            if (st := p.stat()) and p.is_file()
        )
    )
    return files, os.environ.get("GROWTHLAB_SENDER_POSTAL_ADDRESS")


def load_catalog(root: Path | None = None) -> Catalog:
    """Every campaign under `root` (default: campaigns_dir()). Raises CatalogError listing all problems.

    A valid catalog is cached per folder until a file in it changes."""
    root = (root or campaigns_dir()).resolve()
    if root.is_dir():
        fingerprint = _fingerprint(root)
        cached = _CACHE.get(root)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        catalog = _load_catalog(root)
        _CACHE[root] = (fingerprint, catalog)
        return catalog
    return _load_catalog(root)


def _load_catalog(root: Path) -> Catalog:
    if not root.is_dir():
        raise CatalogError(
            [LocatedError(root, None, "campaign folder not found; set GROWTHLAB_CAMPAIGNS_DIR")]
        )
    templates_dir = root / "templates"
    errors: list[LocatedError] = []
    loaded: dict[str, LoadedCampaign] = {}
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    for path in files:
        try:
            item = load_campaign_file(path, templates_dir)
        except CatalogError as exc:
            errors.extend(exc.errors)
            continue
        loaded[item.campaign.id] = item
    if errors:
        raise CatalogError(_dedupe(errors))
    return Catalog(root=root, campaigns=loaded)
