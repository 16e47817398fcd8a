"""The model's inputs: which columns of `marts.lead_features` are features, and how they are encoded.

The lists follow the contract in docs/architecture.md. `ml/` reads nothing else: keys identify a
row, the label columns are never features (`converted_at` and `converted_90d` are known only after
the as-of date), and every feature belongs to exactly one group, fit (who they are) or engagement
(what they did).

Encoding is deliberately plain so that training, serving and the benchmark share one matrix: a
float64 array, numeric columns as they are (missing: NaN), categorical columns as integer codes of
a vocabulary learned on the training rows (unseen or missing: NaN, which LightGBM routes like a
missing value).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

KEY_COLUMNS: tuple[str, ...] = ("contact_id", "as_of_date", "company_id")
LABEL: str = "converted_90d"
LABEL_COLUMNS: tuple[str, ...] = ("converted_90d", "converted_at")

FIT_CATEGORICAL: tuple[str, ...] = (
    "cleantech_segment",
    "country_region",
    "revenue_band",
    "funding_stage",
    "sbti_status",
    "seniority",
    "job_function",
    "lead_source",
)
FIT_NUMERIC: tuple[str, ...] = (
    "employees",
    "annual_revenue",
    "company_age_years",
    "emissions_intensity",
    "renewable_share",
    "esg_disclosure_score",
    "certification_count",
    "has_b_corp",
    "has_iso_14001",
    "days_since_created",
)
ENGAGEMENT_NUMERIC: tuple[str, ...] = (
    "emails_delivered_30d",
    "emails_delivered_90d",
    "human_opens_30d",
    "human_opens_90d",
    "machine_opens_90d",
    "clicks_30d",
    "clicks_90d",
    "replies_90d",
    "linkedin_connected",
    "linkedin_messages_90d",
    "linkedin_replies_90d",
    "meetings_90d",
    "meetings_completed_90d",
    "days_since_last_engagement",
    "unsubscribed",
    "bounced",
)

FIT_FEATURES: tuple[str, ...] = FIT_CATEGORICAL + FIT_NUMERIC
ENGAGEMENT_FEATURES: tuple[str, ...] = ENGAGEMENT_NUMERIC
FEATURES: tuple[str, ...] = FIT_FEATURES + ENGAGEMENT_FEATURES
CATEGORICAL: frozenset[str] = frozenset(FIT_CATEGORICAL)

# Features that grow by one every day by construction. Reasons are recomputed when one of them
# crosses a bucket boundary, not every day (see ml/score.py).
CLOCK_BUCKETS: dict[str, tuple[float, ...]] = {
    "days_since_created": (7, 14, 30, 60, 90, 180, 365, 730),
    "days_since_last_engagement": (7, 14, 30, 60, 90, 180, 365, 730),
}

# Columns of marts.lead_features and their Postgres types (the enforced dbt contract).
CONTRACT_TYPES: dict[str, str] = {
    "contact_id": "text",
    "as_of_date": "date",
    "company_id": "text",
    **{c: "text" for c in FIT_CATEGORICAL},
    **{
        c: "double precision"
        for c in (
            "employees",
            "annual_revenue",
            "company_age_years",
            "emissions_intensity",
            "renewable_share",
            "esg_disclosure_score",
            "certification_count",
        )
    },
    "has_b_corp": "integer",
    "has_iso_14001": "integer",
    "days_since_created": "integer",
    **{c: "integer" for c in ENGAGEMENT_NUMERIC},
    "converted_90d": "integer",
    "converted_at": "timestamp with time zone",
}

MAX_CATEGORIES = 250


def _check_disjoint() -> None:
    assert not set(FIT_FEATURES) & set(ENGAGEMENT_FEATURES)
    assert not set(FEATURES) & set(LABEL_COLUMNS) and not set(FEATURES) & set(KEY_COLUMNS)
    assert set(CONTRACT_TYPES) == set(KEY_COLUMNS) | set(FEATURES) | set(LABEL_COLUMNS)


_check_disjoint()


def group_of(feature: str) -> str:
    if feature in FIT_FEATURES:
        return "fit"
    if feature in ENGAGEMENT_FEATURES:
        return "engagement"
    raise KeyError(f"{feature!r} is not a feature of marts.lead_features")


def assert_no_label_features(features: Iterable[str]) -> None:
    """Refuse label-derived columns as features, whatever a caller passes."""
    bad = [f for f in features if f in LABEL_COLUMNS or f.startswith("converted")]
    if bad:
        raise ValueError(f"label columns cannot be features: {', '.join(bad)}")


@dataclass
class FeatureEncoder:
    """Frame -> float64 matrix for a fixed list of features; categorical vocabularies included."""

    features: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, features: Sequence[str], categorical: Iterable[str] = CATEGORICAL
    ) -> FeatureEncoder:
        assert_no_label_features(features)
        cats = set(categorical)
        categories: dict[str, list[str]] = {}
        for name in features:
            if name in cats:
                counts = frame[name].dropna().astype(str).value_counts()
                # Most frequent first, ties by name: the vocabulary is deterministic.
                ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
                categories[name] = [level for level, _ in ordered]
        return cls(list(features), categories)

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, name in enumerate(self.features) if name in self.categories]

    def missing_columns(self, frame: pd.DataFrame) -> list[str]:
        return [name for name in self.features if name not in frame.columns]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        missing = self.missing_columns(frame)
        if missing:
            raise KeyError(
                f"the feature frame lacks column(s) {', '.join(missing)}; "
                f"marts.lead_features must follow the contract in docs/architecture.md"
            )
        out = np.empty((len(frame), len(self.features)), dtype=np.float64)
        for j, name in enumerate(self.features):
            column = frame[name]
            if name in self.categories:
                if not pd.api.types.is_string_dtype(column.dtype):
                    column = column.astype("string")
                codes = pd.Categorical(column, categories=self.categories[name]).codes.astype(np.float64)
                codes[codes < 0] = np.nan
                out[:, j] = codes
            else:
                out[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def transform_arrow(self, table) -> np.ndarray:
        """The same matrix from an Arrow table (the scoring path: no pandas, no Python objects)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        missing = [name for name in self.features if name not in table.column_names]
        if missing:
            raise KeyError(
                f"the feature table lacks column(s) {', '.join(missing)}; "
                f"marts.lead_features must follow the contract in docs/architecture.md"
            )
        out = np.empty((table.num_rows, len(self.features)), dtype=np.float64)
        for j, name in enumerate(self.features):
            column = table.column(name)
            if name in self.categories:
                if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
                    column = pc.cast(column, pa.string())
                codes = pc.index_in(column, value_set=pa.array(self.categories[name], pa.string()))
                out[:, j] = codes.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            else:
                if not pa.types.is_floating(column.type):
                    column = pc.cast(column, pa.float64())
                out[:, j] = column.to_numpy(zero_copy_only=False)
        return out

    def decode(self, feature: str, value: float) -> object:
        """The original value of one encoded cell (for reasons): a category name, a number or None."""
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        if feature in self.categories:
            return self.categories[feature][int(value)]
        return float(value)

    def to_dict(self) -> dict:
        return {"features": self.features, "categories": self.categories}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureEncoder:
        return cls(list(data["features"]), {k: list(v) for k, v in data.get("categories", {}).items()})
