"""The dashboard's figures and charts: pure functions from decision rows to numbers and SVG.

Charts are drawn on the server as inline SVG (no script, nothing to download); every chart has
its numbers in a table beside it, which is also what a screen reader reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape

from gate.console.decisions import DecisionRow

VERDICTS = ("allow", "license_required", "hold", "deny")
COLOURS = {"allow": "#2e7d32", "license_required": "#b26a00", "hold": "#6a1b9a", "deny": "#c62828"}


@dataclass(frozen=True, slots=True)
class Summary:
    days: tuple[date, ...]
    per_day: dict[date, dict[str, int]]
    top_refused_models: list[tuple[str, int]]
    top_refused_recipients: list[tuple[str, int]]
    total: int


def summarise(rows: Iterable[DecisionRow], first: date, last: date, top: int = 10) -> Summary:
    """Decisions per day by verdict from `first` to `last` (inclusive), and the most refused."""
    days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    per_day: dict[date, dict[str, int]] = {d: dict.fromkeys(VERDICTS, 0) for d in days}
    models: Counter[str] = Counter()
    recipients: Counter[str] = Counter()
    total = 0
    for row in rows:
        day = row.recorded_at.date()
        if day not in per_day:
            continue
        total += 1
        counts = per_day[day]
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
        if row.verdict != "allow":
            models[row.repo_id] += 1
            recipients[row.recipient_id] += 1
    return Summary(days, per_day, models.most_common(top), recipients.most_common(top), total)


def bars_svg(summary: Summary, *, width: int = 720, height: int = 240) -> str:
    """Stacked bars, one per day, one colour per verdict."""
    left, bottom, top_pad = 40, 24, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    highest = max((sum(c.values()) for c in summary.per_day.values()), default=0) or 1
    n = max(len(summary.days), 1)
    slot = plot_w / n
    bar = max(slot * 0.7, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="chart-title" class="chart">',
        '<title id="chart-title">Decisions per day by verdict (numbers in the table)</title>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" y2="{top_pad + plot_h}" '
        'stroke="#555"/>',
        f'<text x="{left - 4}" y="{top_pad + 8}" text-anchor="end" font-size="11">{highest}</text>',
        f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, day in enumerate(summary.days):
        x = left + i * slot + (slot - bar) / 2
        y = float(top_pad + plot_h)
        for verdict in VERDICTS:
            count = summary.per_day[day].get(verdict, 0)
            if not count:
                continue
            h = plot_h * count / highest
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[verdict]}"><title>{escape(day.isoformat())} {verdict}: '
                f"{count}</title></rect>"
            )
        if n <= 14 or i % max(n // 7, 1) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'font-size="10">{day:%m-%d}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def hbars_svg(items: list[tuple[str, int]], label: str, *, width: int = 360) -> str:
    """Horizontal bars for a top-N list."""
    row_h = 22
    height = max(len(items), 1) * row_h + 4
    highest = max((c for _, c in items), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="chart"><title>{escape(label)} (numbers in the table)</title>'
    ]
    for i, (name, count) in enumerate(items):
        w = (width - 220) * count / highest
        y = i * row_h + 2
        parts.append(
            f'<text x="0" y="{y + 13}" font-size="11">{escape(name[:30])}</text>'
            f'<rect x="180" y="{y}" width="{w:.1f}" height="{row_h - 6}" fill="#c62828"/>'
            f'<text x="{184 + w:.1f}" y="{y + 13}" font-size="11">{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
