"""Bar charts drawn as SVG on the server: no JavaScript, no CDN, nothing for a CSP to allow.

A chart is a list of bars, each with stacked segments; every segment carries a tooltip and may
link somewhere (a changelist filtered to what it counts).
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# Colours that stay apart for common colour-blindness (Okabe-Ito).
PALETTE = {
    "processed": "#009E73",
    "ignored": "#999999",
    "pending": "#56B4E9",
    "processing": "#0072B2",
    "failed": "#E69F00",
    "dead": "#D55E00",
    "rejected": "#CC79A7",
    "value": "#0072B2",
}


@dataclass
class Segment:
    name: str
    value: float | int | Decimal
    link: str = ""
    # Words for the tooltip when the name (the colour's key) is not for people.
    label: str = ""


@dataclass
class Bar:
    label: str
    segments: list[Segment] = field(default_factory=list)

    @property
    def total(self) -> float:
        return float(sum(segment.value for segment in self.segments))


def bar_chart(
    bars: list[Bar],
    *,
    title: str,
    unit: str = "",
    width: int = 720,
    height: int = 180,
    label_every: int = 7,
) -> SafeString:
    """A stacked bar chart; `label_every` labels every nth bar on the x axis."""
    top = max((bar.total for bar in bars), default=0) or 1
    left, bottom, gap = 44, 20, 1
    plot_height = height - bottom - 6
    step = (width - left) / max(len(bars), 1)
    shapes = []
    for index, bar in enumerate(bars):
        x = left + index * step
        y = height - bottom
        for segment in bar.segments:
            if not segment.value:
                continue
            h = float(segment.value) / top * plot_height
            y -= h
            tip = f"{bar.label}: {_number(segment.value)}{unit} {segment.label or segment.name}"
            rect = format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
                _at(x),
                _at(y),
                _at(max(step - gap, 1)),
                _at(h),
                PALETTE.get(segment.name, PALETTE["value"]),
                tip,
            )
            shapes.append(
                format_html('<a href="{}">{}</a>', segment.link, rect) if segment.link else rect
            )
        if index % label_every == 0:
            shapes.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" fill="currentColor">{}</text>',
                    _at(x),
                    height - 5,
                    bar.label,
                )
            )
    axis = format_html(
        '<text x="0" y="12" font-size="10" fill="currentColor">{}{}</text>'
        '<text x="0" y="{}" font-size="10" fill="currentColor">0</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" stroke-opacity=".3"/>',
        _number(top),
        unit,
        height - bottom,
        left,
        height - bottom,
        width,
        height - bottom,
    )
    return format_html(
        '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}{}</svg>',
        title,
        width,
        height,
        title,
        axis,
        mark_safe("".join(shapes)),  # each shape was escaped by format_html above
    )


def legend(names: list[str]) -> SafeString:
    return format_html(
        '<ul class="chart-legend">{}</ul>',
        format_html_join(
            "",
            # A drawn swatch, not a style attribute: the Content-Security-Policy allows no inline
            # style.
            '<li><svg viewBox="0 0 10 10" width="10" height="10" aria-hidden="true">'
            '<rect width="10" height="10" fill="{}"/></svg>{}</li>',
            ((PALETTE.get(name, PALETTE["value"]), name) for name in names),
        ),
    )


def _at(coordinate: float) -> str:
    return f"{coordinate:.1f}"


def _number(value) -> str:
    value = float(value)
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.1f}"
