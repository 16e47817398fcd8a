"""The MLflow registry of `lead_scoring`: versions, the champion/challenger gate, promote, rollback.

Aliases only (registry stages are deprecated): `champion` is what scoring loads, `challenger` the
newest version that has not (yet) replaced it. A new version becomes champion only when, on the
same newest labelled holdout, it beats the champion's ROC AUC by GROWTHLAB_ML_GATE_MIN_AUC_GAIN
(default 0.005) without worse calibration (ECE and Brier within their tolerances). The first model
ever becomes champion. Both sets of numbers and the decision are tagged on the version; every change
of champion, automatic or by a human (`growthlab model promote|rollback VERSION`), is written to
ops.audit_log.
"""

from __future__ import annotations

import getpass
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from ml.config import MLSettings
from ml.evaluate import Metrics, evaluate
from ml.features import LABEL
from ml.tracking import client, quiet

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"


class RegistryError(RuntimeError):
    """A registry operation cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class GateDecision:
    version: str
    decision: str  # first_model | promoted | kept_challenger | already_champion
    reason: str
    holdout_date: str
    challenger: Metrics | None
    champion: Metrics | None
    champion_version: str | None

    @property
    def promoted(self) -> bool:
        return self.decision in ("first_model", "promoted")

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "decision": self.decision,
            "reason": self.reason,
            "holdout_date": self.holdout_date,
            "champion_version": self.champion_version,
            "challenger": self.challenger.as_dict() if self.challenger else None,
            "champion": self.champion.as_dict() if self.champion else None,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def register(settings: MLSettings, model_uri: str, model_id: str, run_id: str, tags: dict[str, str]) -> str:
    """Register the logged model as a new version of settings.model_name; alias it `challenger`."""
    c = client(settings)
    with quiet():
        try:
            c.create_registered_model(
                settings.model_name,
                description="Lead scoring (growthlab): calibrated LightGBM with fit and engagement scores; "
                "serve alias `champion`.",
            )
        except Exception as exc:  # already registered
            if "already exists" not in str(exc).lower() and "RESOURCE_ALREADY_EXISTS" not in str(exc):
                raise
        mv = c.create_model_version(
            settings.model_name,
            source=model_uri,
            run_id=run_id,
            tags={"run_id": run_id, **tags},
            model_id=model_id,
        )
        c.set_registered_model_alias(settings.model_name, CHALLENGER, mv.version)
    log.info("registered %s version %s (alias %s)", settings.model_name, mv.version, CHALLENGER)
    return str(mv.version)


def alias_version(settings: MLSettings, alias: str) -> str | None:
    c = client(settings)
    with quiet():
        try:
            return str(c.get_model_version_by_alias(settings.model_name, alias).version)
        except Exception as exc:  # no such model or alias
            if (
                "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", ""))
                or "not found" in str(exc).lower()
            ):
                return None
            if "does not exist" in str(exc).lower() or "RESOURCE_DOES_NOT_EXIST" in str(exc):
                return None
            raise


def version_tags(settings: MLSettings, version: str) -> dict[str, str]:
    c = client(settings)
    with quiet():
        try:
            return dict(c.get_model_version(settings.model_name, version).tags)
        except Exception as exc:
            raise RegistryError(
                f"{settings.model_name} has no version {version}: see `growthlab model status`"
            ) from exc


def load_bundle(settings: MLSettings, version: str):
    """The ScoringBundle of one registered version, loaded through MLflow's pyfunc flavour."""
    import mlflow.pyfunc

    with quiet():
        model = mlflow.pyfunc.load_model(f"models:/{settings.model_name}/{version}")
        return model.unwrap_python_model().bundle


def _metrics_of(bundle, holdout: pd.DataFrame) -> Metrics:
    """A version's metrics on a holdout, from the model fitted without it (`judged`)."""
    probability = bundle.judged.predict_frame(holdout)["probability"].to_numpy()
    return evaluate(holdout[LABEL].to_numpy(), probability)


def compare(challenger: Metrics, champion: Metrics, settings: MLSettings) -> tuple[bool, str]:
    """The gate rule, pure: (promote?, reason in words)."""
    gain = challenger.roc_auc - champion.roc_auc
    problems = []
    if not (gain >= settings.min_auc_gain):
        problems.append(
            f"ROC AUC {challenger.roc_auc:.4f} vs champion {champion.roc_auc:.4f} (gain {gain:+.4f} < required "
            f"{settings.min_auc_gain:+.4f})"
        )
    if not challenger.ece <= champion.ece + settings.max_ece_increase:
        problems.append(
            f"calibration error {challenger.ece:.4f} vs champion {champion.ece:.4f} (tolerance "
            f"+{settings.max_ece_increase:.4f})"
        )
    if not challenger.brier <= champion.brier + settings.max_brier_increase:
        problems.append(
            f"Brier {challenger.brier:.4f} vs champion {champion.brier:.4f} (tolerance +{settings.max_brier_increase:.4f})"
        )
    if problems:
        return False, "not promoted: " + "; ".join(problems)
    return True, (
        f"promoted: ROC AUC {challenger.roc_auc:.4f} vs champion {champion.roc_auc:.4f} (gain {gain:+.4f}), "
        f"ECE {challenger.ece:.4f} vs {champion.ece:.4f}, Brier {challenger.brier:.4f} vs {champion.brier:.4f}"
    )


def _gate_tags(decision: GateDecision, settings: MLSettings) -> dict[str, str]:
    tags = {
        "gate.decision": decision.decision,
        "gate.reason": decision.reason[:4000],
        "gate.holdout_date": decision.holdout_date,
        "gate.decided_at": _now(),
        "gate.min_auc_gain": str(settings.min_auc_gain),
        "gate.max_ece_increase": str(settings.max_ece_increase),
        "gate.max_brier_increase": str(settings.max_brier_increase),
        "gate.champion_version": decision.champion_version or "none",
    }
    for side, metrics in (("challenger", decision.challenger), ("champion", decision.champion)):
        if metrics is not None:
            for key in ("roc_auc", "pr_auc", "brier", "ece", "lift_top_decile", "rows", "positives"):
                value = getattr(metrics, key)
                tags[f"gate.{side}.{key}"] = f"{value:.6f}" if isinstance(value, float) else str(value)
    return tags


def _decision_from_tags(version: str, tags: dict[str, str]) -> GateDecision:
    return GateDecision(
        version=version,
        decision=tags["gate.decision"],
        reason=tags.get("gate.reason", ""),
        holdout_date=tags.get("gate.holdout_date", ""),
        challenger=None,
        champion=None,
        champion_version=None
        if tags.get("gate.champion_version") in (None, "none")
        else tags["gate.champion_version"],
    )


def run_gate(
    settings: MLSettings,
    version: str,
    holdout: pd.DataFrame,
    holdout_date: str,
    audit_url: str | None,
    actor: str,
    force: bool = False,
) -> GateDecision:
    """Compare `version` with the champion on `holdout`; promote it or keep it as challenger.

    Idempotent: a version that was already gated keeps its decision (unless `force`).
    """
    c = client(settings)
    tags = version_tags(settings, version)
    if "gate.decision" in tags and not force:
        log.info("version %s was already gated: %s", version, tags["gate.decision"])
        return _decision_from_tags(version, tags)
    champion_version = alias_version(settings, CHAMPION)
    challenger_metrics = _metrics_of(load_bundle(settings, version), holdout)
    champion_metrics = None
    if champion_version is None:
        promote, decision, reason = True, "first_model", "first model of this registry: champion by default"
    elif champion_version == version:
        promote, decision, reason = False, "already_champion", "this version is already the champion"
    else:
        try:
            champion_metrics = _metrics_of(load_bundle(settings, champion_version), holdout)
        except Exception as exc:
            promote, decision = False, "kept_challenger"
            reason = (
                f"not promoted: the champion v{champion_version} could not be evaluated ({exc}); "
                f"promote by hand with `growthlab model promote {version}` after checking it"
            )
        else:
            promote, reason = compare(challenger_metrics, champion_metrics, settings)
            decision = "promoted" if promote else "kept_challenger"
    result = GateDecision(
        version, decision, reason, holdout_date, challenger_metrics, champion_metrics, champion_version
    )
    with quiet():
        for key, value in _gate_tags(result, settings).items():
            c.set_model_version_tag(settings.model_name, version, key, value)
    if promote:
        _set_champion(settings, version, champion_version)
    log.info("gate for %s v%s: %s", settings.model_name, version, reason)
    if audit_url:
        audit(
            audit_url,
            actor,
            "model.promoted" if promote else "model.kept_challenger",
            settings,
            version,
            {"gate": result.as_dict(), "previous_champion": champion_version},
        )
    return result


def _set_champion(settings: MLSettings, version: str, previous: str | None) -> None:
    c = client(settings)
    with quiet():
        c.set_registered_model_alias(settings.model_name, CHAMPION, version)
        c.set_model_version_tag(settings.model_name, version, "champion_since", _now())
        c.set_model_version_tag(settings.model_name, version, "was_champion", "true")
        if previous and previous != version:
            c.set_model_version_tag(settings.model_name, previous, "champion_until", _now())
        if alias_version(settings, CHALLENGER) == version:
            c.delete_registered_model_alias(settings.model_name, CHALLENGER)


def audit(url: str, actor: str, action: str, settings: MLSettings, version: str, details: dict) -> None:
    from growthlab.warehouse.db import connect

    def clean(value):
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    with connect(url) as conn:
        conn.execute(
            "insert into ops.audit_log (actor, action, subject_type, subject_id, details) values (%s, %s, %s, %s, %s)",
            (actor, action, "model_version", f"{settings.model_name}/{version}", json.dumps(clean(details))),
        )
        conn.commit()


def promote(
    settings: MLSettings, version: str, audit_url: str, reason: str = "", actor: str | None = None
) -> str | None:
    """Make `version` the champion by hand. Returns the previous champion's version."""
    version_tags(settings, version)  # raises a clear error for an unknown version
    previous = alias_version(settings, CHAMPION)
    if previous == version:
        raise RegistryError(f"version {version} is already the champion of {settings.model_name}")
    _set_champion(settings, version, previous)
    c = client(settings)
    with quiet():
        c.set_model_version_tag(settings.model_name, version, "promoted_by", actor or getpass.getuser())
    audit(
        audit_url,
        actor or f"cli:{getpass.getuser()}",
        "model.promoted",
        settings,
        version,
        {"previous_champion": previous, "reason": reason or "manual promotion", "manual": True},
    )
    log.info("%s v%s is now champion (was v%s)", settings.model_name, version, previous)
    return previous


def rollback(
    settings: MLSettings, version: str, audit_url: str, reason: str = "", actor: str | None = None
) -> str | None:
    """Make an earlier champion the champion again. Returns the champion it replaces."""
    tags = version_tags(settings, version)
    if tags.get("was_champion") != "true":
        raise RegistryError(
            f"version {version} of {settings.model_name} has never been champion, so there is nothing to roll "
            f"back to; to put it in production anyway use `growthlab model promote {version}`"
        )
    previous = alias_version(settings, CHAMPION)
    if previous == version:
        raise RegistryError(f"version {version} is already the champion of {settings.model_name}")
    _set_champion(settings, version, previous)
    audit(
        audit_url,
        actor or f"cli:{getpass.getuser()}",
        "model.rolled_back",
        settings,
        version,
        {"previous_champion": previous, "reason": reason or "manual rollback", "manual": True},
    )
    log.info("%s rolled back to v%s (was v%s)", settings.model_name, version, previous)
    return previous


def versions(settings: MLSettings) -> list[dict]:
    """Every version, newest first: aliases, holdout metrics, gate decision."""
    c = client(settings)
    with quiet():
        try:
            model = c.get_registered_model(settings.model_name)
        except Exception:
            return []
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        found = c.search_model_versions(f"name = '{settings.model_name}'")
    rows = []
    for mv in sorted(found, key=lambda m: int(m.version), reverse=True):
        tags = dict(mv.tags)
        rows.append(
            {
                "version": str(mv.version),
                "aliases": sorted(aliases.get(str(mv.version), [])),
                "created": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                "as_of": tags.get("as_of", ""),
                "holdout_roc_auc": tags.get("holdout_roc_auc", ""),
                "holdout_ece": tags.get("holdout_ece", ""),
                "gate": tags.get("gate.decision", ""),
                "gate_reason": tags.get("gate.reason", ""),
                "run_id": tags.get("run_id", mv.run_id or ""),
            }
        )
    return rows
