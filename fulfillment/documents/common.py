"""Shared reportlab set-up for fulfillment documents (A4, Helvetica)."""

from __future__ import annotations

from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

STYLES = getSampleStyleSheet()
TABLE_STYLE = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def para(text: str, style: str = "BodyText") -> Paragraph:
    # Paragraphs take reportlab's mini-markup: customer text must be escaped.
    return Paragraph(escape(text), STYLES[style])


def table(rows: list[list], widths: list[float]) -> Table:
    t = Table(rows, colWidths=[w * mm for w in widths], repeatRows=1)
    t.setStyle(TABLE_STYLE)
    return t


def build(story: list, *, title: str, compress: bool = True) -> bytes:
    """The PDF bytes. `compress=False` keeps content streams readable (tests)."""
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="Orderly",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        pageCompression=1 if compress else 0,
        invariant=1,  # same input, same bytes
    )
    doc.build(story)
    return buffer.getvalue()
