"""Small inline SVG charts for the run report: horizontal bar charts and histograms.

The report must open on air-gapped machines, so charts are plain SVG text drawn
here rather than by a JavaScript library from a CDN.  Every chart is a few
dozen elements whatever the data size: callers bin their data first.  All text
placed in the SVG is escaped; hovering a bar shows its exact value through an
SVG ``<title>``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

PALETTE: Final = ("#3b6ea5", "#9cbbdc", "#d08c2e", "#6b8e5a", "#8a6fb0")
POSITIVE: Final = "#2e7d4f"
NEGATIVE: Final = "#b5473a"
_AXIS: Final = "#8a94a3"
_GRID: Final = "#e3e7ec"
_TEXT: Final = "#2b3440"
_FONT: Final = 12
_MAX_LABEL_WIDTH: Final = 220

ValueFormat = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Marker:
    """A labelled vertical line on a histogram (a decision threshold)."""

    x: float
    label: str
    color: str = NEGATIVE


def format_number(value: float) -> str:
    """Integers with thousands separators, other numbers with three significant digits."""
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def text_width(text: str, font_size: float = _FONT) -> float:
    """Rough rendered width: wide (CJK) characters take a full em, others about 0.62 em."""
    return sum(
        font_size if unicodedata.east_asian_width(ch) in "WF" else 0.62 * font_size for ch in text
    )


def _clip(text: str, max_width: float) -> str:
    if text_width(text) <= max_width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…") > max_width:
            break
        out += ch
    return out + "…"


def _svg_open(width: float, height: float, label: str) -> str:
    return (
        # no xmlns: inline SVG in HTML5 needs none, and the report holds no URL at all
        f'<svg class="chart" role="img" '
        f'aria-label="{escape(label)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-size="{_FONT}" fill="{_TEXT}">'
        f"<title>{escape(label)}</title>"
    )


def bar_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    colors: Sequence[str] = PALETTE,
    signed: bool = False,
    log_scale: bool = False,
    value_format: ValueFormat = format_number,
    width: int = 640,
) -> str:
    """Horizontal bars: one group per label, one bar per series, the value printed at the right.

    ``signed`` draws bars from a zero line, positive ones green and negative ones
    red (log2 m/u).  ``log_scale`` (non-negative values only) scales bar lengths
    by log10(1 + value), for counts that span orders of magnitude.
    """
    names = list(series)
    columns = [list(series[n]) for n in names]
    if any(len(col) != len(labels) for col in columns):
        raise ValueError("every series needs one value per label")
    if log_scale and (signed or any(v < 0 for col in columns for v in col)):
        raise ValueError("log_scale needs non-negative values")
    bar_h, bar_gap, group_gap = 14, 2, 8
    legend_h = 22 if len(names) > 1 else 0
    label_w = min(_MAX_LABEL_WIDTH, max([30.0, *(text_width(lb) for lb in labels)]) + 14)
    value_w = (
        max(
            (text_width(value_format(v)) for col in columns for v in col if math.isfinite(v)),
            default=0,
        )
        + 12
    )
    plot_x, plot_w = label_w, max(80.0, width - label_w - value_w)
    group_h = len(names) * bar_h + (len(names) - 1) * bar_gap
    height = legend_h + len(labels) * (group_h + group_gap) + group_gap

    def scaled(v: float) -> float:
        return math.log10(1.0 + v) if log_scale else v

    finite = [scaled(v) for col in columns for v in col if math.isfinite(v)]
    lo, hi = min([0.0, *finite]), max([0.0, *finite])
    span = (hi - lo) or 1.0

    def x_of(v: float) -> float:
        v = min(max(scaled(v), lo), hi)  # infinite values run to the edge
        return plot_x + (v - lo) / span * plot_w

    zero = x_of(0.0)
    out = [_svg_open(width, height, title or ", ".join(names))]
    if legend_h:
        lx = plot_x
        for i, name in enumerate(names):
            color = colors[i % len(colors)]
            out.append(f'<rect x="{lx:.1f}" y="5" width="10" height="10" fill="{color}"/>')
            out.append(f'<text x="{lx + 14:.1f}" y="14">{escape(name)}</text>')
            lx += 30 + text_width(name)
    y = float(legend_h + group_gap)
    for i, label in enumerate(labels):
        shown = _clip(label, label_w - 10)
        out.append(
            f'<text x="{label_w - 8:.1f}" y="{y + group_h / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(shown)}</text>"
        )
        for j, name in enumerate(names):
            v = columns[j][i]
            by = y + j * (bar_h + bar_gap)
            if signed:
                color = POSITIVE if v >= 0 else NEGATIVE
            else:
                color = colors[j % len(colors)]
            x0, x1 = sorted((zero, x_of(v)))
            tip = (
                f"{label} · {name}: {value_format(v)}"
                if len(names) > 1
                else f"{label}: {value_format(v)}"
            )
            out.append(
                f'<rect x="{x0:.1f}" y="{by:.1f}" width="{max(x1 - x0, 0.0):.1f}" '
                f'height="{bar_h}" fill="{color}"><title>{escape(tip)}</title></rect>'
            )
            out.append(
                f'<text x="{width - 2:.1f}" y="{by + bar_h - 3:.1f}" text-anchor="end" '
                f'class="v">{escape(value_format(v))}</text>'
            )
        y += group_h + group_gap
    out.append(
        f'<line x1="{zero:.1f}" y1="{legend_h + 2}" x2="{zero:.1f}" y2="{height - 2:.1f}" '
        f'stroke="{_AXIS}" stroke-width="1"/>'
    )
    out.append("</svg>")
    return "".join(out)


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    count = math.floor((hi - first) / step + 1e-9) + 1
    return [round(first + k * step, 10) for k in range(count)]


def histogram(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    log_scale: bool = False,
    markers: Sequence[Marker] = (),
    bar_color: str = PALETTE[0],
    width: int = 720,
    height: int = 260,
) -> str:
    """Vertical bars over numeric bins ``[edges[i], edges[i+1])``, with optional marker lines.

    ``log_scale`` uses a log10 count axis, so a bimodal distribution with peaks
    of very different heights shows both; bins of count 0 are left empty.
    """
    if len(edges) != len(counts) + 1 or not counts:
        raise ValueError("histogram needs len(edges) == len(counts) + 1 >= 2")
    left, right, top, bottom = 64, 16, 38, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    x_lo = min([edges[0], *(m.x for m in markers if math.isfinite(m.x))])
    x_hi = max([edges[-1], *(m.x for m in markers if math.isfinite(m.x))])
    x_span = (x_hi - x_lo) or 1.0

    def x_of(v: float) -> float:
        return left + (v - x_lo) / x_span * plot_w

    peak = max(max(counts), 1)
    if log_scale:
        y_top = math.ceil(math.log10(peak)) if peak > 1 else 1
        y_ticks = [10.0**k for k in range(y_top + 1)]

        def h_of(c: float) -> float:
            return 0.0 if c <= 0 else max(1.0, (math.log10(c) + 0.3) / (y_top + 0.3) * plot_h)
    else:
        y_ticks = nice_ticks(0, peak, 4)
        y_max = max(y_ticks[-1], peak)

        def h_of(c: float) -> float:
            return c / y_max * plot_h

    base = top + plot_h
    out = [_svg_open(width, height, title or "histogram")]
    for t in y_ticks:
        ty = base - h_of(t) if (t > 0 or not log_scale) else base
        out.append(
            f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" stroke="{_GRID}"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" class="v">'
            f"{escape(format_number(t))}</text>"
        )
    for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True):
        if c <= 0:
            continue
        x0, x1 = x_of(a), x_of(b)
        h = h_of(c)
        tip = f"[{format_number(a)}, {format_number(b)}): {format_number(c)}"
        out.append(
            f'<rect x="{x0 + 0.5:.1f}" y="{base - h:.1f}" width="{max(x1 - x0 - 1, 0.8):.1f}" '
            f'height="{h:.1f}" fill="{bar_color}"><title>{escape(tip)}</title></rect>'
        )
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="{_AXIS}"/>')
    for t in nice_ticks(x_lo, x_hi, 10):
        tx = x_of(t)
        out.append(
            f'<line x1="{tx:.1f}" y1="{base}" x2="{tx:.1f}" y2="{base + 4}" stroke="{_AXIS}"/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{base + 16}" text-anchor="middle" class="v">'
            f"{escape(format_number(t))}</text>"
        )
    for i, m in enumerate(markers):
        if not math.isfinite(m.x):
            continue
        mx = x_of(m.x)
        out.append(
            f'<line x1="{mx:.1f}" y1="{17 + 14 * (i % 2)}" x2="{mx:.1f}" y2="{base}" stroke="{m.color}" '
            f'stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
        # alternate label rows so two close thresholds stay readable
        anchor = "start" if mx < left + plot_w * 0.8 else "end"
        dx = 4 if anchor == "start" else -4
        out.append(
            f'<text x="{mx + dx:.1f}" y="{13 + 14 * (i % 2)}" text-anchor="{anchor}" '
            f'fill="{m.color}">{escape(m.label)}</text>'
        )
    if x_label:
        out.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
            f"{escape(x_label)}</text>"
        )
    if y_label:
        out.append(
            f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
