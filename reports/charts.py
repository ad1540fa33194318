"""Server-side SVG charts: geometry is computed here, the templates
(`admin/reports/_bar_chart.html`, `_column_chart.html`) draw rectangles and
labels. No JavaScript, nothing fetched from elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    display: str  # the figure as written beside the bar
    x: float
    y: float
    width: float
    height: float
    href: str = ""

    @property
    def text_y(self) -> float:
        return round(self.y + self.height / 2, 1)

    @property
    def value_x(self) -> float:
        return round(self.x + self.width + 6, 1)


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    label_width: int = 0
    baseline_y: float = 0
    caption: str = ""

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)

    @property
    def label_x(self) -> int:
        return self.label_width - 8

    @property
    def last_label(self) -> str:
        return self.bars[-1].label if self.bars else ""


def _scale(values: list[float], span: float) -> list[float]:
    top = max(values, default=0) or 1
    return [round(span * v / top, 1) for v in values]


def bar_chart(
    title: str,
    rows: list[tuple[str, float | int | Decimal, str, str]],
    *,
    width: int = 520,
    bar_height: int = 20,
    gap: int = 6,
    label_width: int = 150,
    value_width: int = 110,
) -> Chart:
    """Horizontal bars, one per (label, value, display, href), on one scale."""
    values = [float(value) for _, value, _, _ in rows]
    span = width - label_width - value_width
    lengths = _scale(values, span)
    bars = [
        Bar(
            label=label,
            value=values[i],
            display=display,
            x=label_width,
            y=gap + i * (bar_height + gap),
            width=max(lengths[i], 1 if values[i] else 0),
            height=bar_height,
            href=href,
        )
        for i, (label, _, display, href) in enumerate(rows)
    ]
    height = gap + len(rows) * (bar_height + gap)
    return Chart(title, width, height, bars, label_width=label_width)


def column_chart(
    title: str,
    points: list[tuple[str, float | int | Decimal, str]],
    *,
    caption: str = "",
    width: int = 300,
    height: int = 110,
    gap: int = 2,
) -> Chart:
    """Vertical columns along a time axis, one per (label, value, display)."""
    values = [float(value) for _, value, _ in points]
    plot = height - 4
    lengths = _scale(values, plot)
    step = width / max(len(points), 1)
    column = max(step - gap, 1)
    bars = [
        Bar(
            label=label,
            value=values[i],
            display=display,
            x=round(i * step + gap / 2, 1),
            y=round(plot - lengths[i], 1),
            width=round(column, 1),
            height=lengths[i],
        )
        for i, (label, _, display) in enumerate(points)
    ]
    return Chart(title, width, height, bars, baseline_y=plot, caption=caption)
