"""Build the HTML performance report: figures from growthlab.reports.plots, numbers from
growthlab.reports.data, one self-contained file (images inline as base64 PNG)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from growthlab.reports import plots
from growthlab.reports.data import ReportData, load
from growthlab.warehouse.db import connect

log = logging.getLogger(__name__)
MIN_SENDS_FOR_BEST = 30


@dataclass(frozen=True)
class Report:
    path: Path
    summary: list[str]


def _rate(num: float, den: float) -> str:
    return f"{num / den:.1%}" if den else "n/a"


def summarise(data: ReportData) -> list[str]:
    f = data.funnel
    lines = []
    if data.first_day is None:
        return ["no growthlab email has been sent yet"]
    lines.append(
        f"{data.first_day} to {data.last_day}: {int(f['sends']):,} emails sent, {_rate(f['delivered'], f['sends'])} "
        f"delivered, human open rate {_rate(f['human_opened'], f['delivered'])}, click rate "
        f"{_rate(f['clicked'], f['delivered'])}, reply rate {_rate(f['replied'], f['delivered'])}, "
        f"{int(f['conversions']):,} conversions"
    )
    eligible = data.variants[data.variants["sends"] >= MIN_SENDS_FOR_BEST]
    if len(eligible):
        best = eligible.sort_values(["reply_rate", "click_rate"], ascending=False, na_position="last").iloc[0]
        lines.append(
            f"best variant by replies: {best['campaign_id']} step {best['step']} '{best['variant']}' "
            f"({best['angle']}): reply rate {_fmt(best['reply_rate'])}, click rate {_fmt(best['click_rate'])} "
            f"over {int(best['sends']):,} sends"
        )
    if not data.deciles.empty and len(data.deciles) >= 2:
        top = data.deciles.iloc[-1]
        bottom = data.deciles.iloc[0]
        lines.append(
            f"lead score: top decile converts at {_fmt(top['conversion_rate'])}, bottom decile at "
            f"{_fmt(bottom['conversion_rate'])}"
        )
    return lines


def _fmt(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(number) else f"{number:.1%}"


TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>growthlab performance report</title>
<style>
body{font-family:Arial,Helvetica,sans-serif;color:#1f2a24;margin:32px auto;max-width:1100px;padding:0 16px}
h1{margin-bottom:4px} .muted{color:#6b756f} img{max-width:100%} table{border-collapse:collapse;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #e3e7e4;text-align:right} th:first-child,td:first-child{text-align:left}
</style></head><body>
<h1>growthlab performance report</h1>
<p class="muted">Generated {{ generated }} from the marts (email_campaign_performance, lead score history).</p>
<ul>{% for line in summary %}<li>{{ line }}</li>{% endfor %}</ul>
<h2>Funnel</h2><img alt="funnel" src="data:image/png;base64,{{ funnel }}">
<h2>Rates over time by variant</h2><img alt="rates over time" src="data:image/png;base64,{{ rates }}">
<h2>Variants</h2>
<table><tr><th>campaign</th><th>step</th><th>variant</th><th>angle</th><th>sends</th><th>delivered</th>
<th>open rate</th><th>click rate</th><th>reply rate</th><th>unsubscribe rate</th><th>conversions</th></tr>
{% for v in variants %}<tr><td>{{ v.campaign_id }}</td><td>{{ v.step }}</td><td>{{ v.variant }}</td><td>{{ v.angle }}</td>
<td>{{ v.sends }}</td><td>{{ v.delivered }}</td><td>{{ v.open_rate }}</td><td>{{ v.click_rate }}</td>
<td>{{ v.reply_rate }}</td><td>{{ v.unsubscribe_rate }}</td><td>{{ v.conversions }}</td></tr>{% endfor %}
</table>
<h2>Lead score against conversion</h2><img alt="score deciles" src="data:image/png;base64,{{ deciles }}">
</body></html>
"""
)


def render(data: ReportData, generated: datetime) -> tuple[str, list[str]]:
    summary = summarise(data)
    rows = [
        {
            **{k: r[k] for k in ("campaign_id", "step", "variant", "angle")},
            "sends": f"{int(r['sends']):,}",
            "delivered": f"{int(r['delivered']):,}",
            "open_rate": _fmt(r.get("open_rate")),
            "click_rate": _fmt(r.get("click_rate")),
            "reply_rate": _fmt(r.get("reply_rate")),
            "unsubscribe_rate": _fmt(r.get("unsubscribe_rate")),
            "conversions": f"{int(r['conversions']):,}",
        }
        for r in data.variants.to_dict("records")
    ]
    html = TEMPLATE.render(
        generated=generated.strftime("%Y-%m-%d %H:%M UTC"),
        summary=summary,
        funnel=plots.funnel(data.funnel, f"Email funnel ({data.scope})"),
        rates=plots.rates_over_time(data.weekly),
        deciles=plots.score_deciles(data.deciles),
        variants=rows,
    )
    return html, summary


def write_report(url: str, out_dir: Path, include_history: bool = False, name: str | None = None) -> Report:
    """Write the report under out_dir (created) and return its path and text summary."""
    with connect(url) as conn:
        data = load(conn, include_history)
    generated = datetime.now(UTC)
    html, summary = render(data, generated)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (name or f"performance-{generated:%Y%m%dT%H%M%S}.html")
    path.write_text(html, encoding="utf-8")
    log.info("report written to %s", path)
    return Report(path, summary)
