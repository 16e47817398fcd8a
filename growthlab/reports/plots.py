"""The report's figures (matplotlib, Agg backend), as base64 PNG for embedding in HTML."""

from __future__ import annotations

import base64
import io

import matplotlib
import matplotlib.ticker
import pandas as pd

GREEN = "#2f7d4f"
PALETTE = ["#2f7d4f", "#d08c2e", "#3b6fb6", "#a23b72", "#6b8e23", "#7f7f7f", "#17becf", "#bcbd22"]
LABELS = {
    "sends": "sent",
    "delivered": "delivered",
    "human_opened": "opened (human)",
    "clicked": "clicked",
    "replied": "replied",
    "conversions": "converted",
}


def _pyplot():
    """pyplot on the Agg backend (no display; safe in Airflow workers)."""
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def funnel(stages: pd.Series, title: str = "Email funnel (growthlab campaigns)") -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = [LABELS.get(s, s) for s in stages.index][::-1]
    values = [int(v) for v in stages.values][::-1]
    bars = ax.barh(names, values, color=GREEN)
    top = max(values) if values and max(values) > 0 else 1
    for bar, value in zip(bars, values, strict=True):
        share = f"  {value:,}  ({value / top:.1%})" if top else f"  {value:,}"
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, share, va="center", fontsize=9)
    ax.set_xlim(0, top * 1.35)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def rates_over_time(weekly: pd.DataFrame) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharex=True)
    if weekly.empty:
        for ax in axes:
            ax.text(0.5, 0.5, "no sends yet", ha="center", va="center", transform=ax.transAxes)
        return _png(fig)
    frame = weekly.copy()
    frame["key"] = frame["campaign_id"].astype(str) + " / " + frame["variant"].astype(str)
    for i, (key, group) in enumerate(frame.groupby("key")):
        g = group.groupby("week")[["delivered", "human_opened", "clicked"]].sum().sort_index()
        delivered = g["delivered"].where(g["delivered"] > 0)
        color = PALETTE[i % len(PALETTE)]
        axes[0].plot(g.index, g["human_opened"] / delivered, marker="o", color=color, label=key)
        axes[1].plot(g.index, g["clicked"] / delivered, marker="o", color=color, label=key)
    axes[0].set_title("Human open rate by week and variant")
    axes[1].set_title("Click rate by week and variant")
    import matplotlib.dates as mdates

    for ax in axes:
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(axis="x", rotation=30)
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    return _png(fig)


def score_deciles(deciles: pd.DataFrame) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if deciles.empty:
        ax.text(0.5, 0.5, "no lead scores yet", ha="center", va="center", transform=ax.transAxes)
        return _png(fig)
    ax.bar(
        deciles["decile"].astype(int),
        deciles["conversion_rate"].astype(float),
        color=GREEN,
        label="converted",
    )
    ax.plot(
        deciles["decile"].astype(int),
        deciles["mean_probability"].astype(float),
        color="#d08c2e",
        marker="o",
        label="mean predicted probability",
    )
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("lead score decile (1 = lowest)")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title("Conversion by lead score decile")
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
