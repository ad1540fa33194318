"""Turns a template name and its stored context into a subject, text and HTML.

Templates live in `templates/notifications/<name>/`: `subject.txt`, `body.txt` and
optionally `body.html` for email, `sms.txt` for SMS. A missing context key renders
as empty text (Django's default), so old rows still render after a template change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template

from .models import Channel

TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
REQUIRED_FILES = {Channel.EMAIL: ("subject.txt", "body.txt"), Channel.SMS: ("sms.txt",)}
SUBJECT_LENGTH = 200


@dataclass(frozen=True)
class Rendered:
    subject: str = ""
    text: str = ""
    html: str = ""


def template_path(template: str, filename: str) -> str:
    # The name becomes a path: refuse anything that could climb out of the folder.
    if not TEMPLATE_NAME.match(template or ""):
        raise TemplateDoesNotExist(f"notifications/{template}/{filename}")
    return f"notifications/{template}/{filename}"


def check_template(template: str, channel: str) -> None:
    """Raise TemplateDoesNotExist unless every file the channel needs is there."""
    for filename in REQUIRED_FILES[channel]:
        get_template(template_path(template, filename))


def render_message(template: str, channel: str, context: dict) -> Rendered:
    if channel == Channel.SMS:
        return Rendered(text=_one_paragraph(_render_text(template, "sms.txt", context)))
    subject = _one_paragraph(_render_text(template, "subject.txt", context))[:SUBJECT_LENGTH]
    return Rendered(
        subject=subject,
        text=_tidy(_render_text(template, "body.txt", context)),
        html=_render_html(template, context),
    )


def _render_text(template: str, filename: str, context: dict) -> str:
    # Plain text must not be HTML-escaped ("Tom & Jerry", not "Tom &amp; Jerry"):
    # render the engine's own Template with autoescape off.
    compiled = get_template(template_path(template, filename)).template
    return compiled.render(Context(dict(context), autoescape=False))


def _render_html(template: str, context: dict) -> str:
    try:
        compiled = get_template(template_path(template, "body.html"))
    except TemplateDoesNotExist:
        return ""  # text-only email
    return compiled.render(dict(context))


def _one_paragraph(text: str) -> str:
    # Subjects and SMS are one line: a newline in a subject is a header injection.
    return " ".join(text.split())


def _tidy(text: str) -> str:
    """Template tags leave trailing spaces and runs of blank lines; drop them."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
