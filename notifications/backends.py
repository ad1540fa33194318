"""Hands a rendered message to the channel's backend. Email goes through Django's
email machinery (EMAIL_BACKEND: console by default, SMTP via EMAIL_URL); SMS through
`notifications.sms`. Any exception raised here counts as a failed attempt."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email

from .models import Channel, Notification
from .rendering import Rendered
from .sms import get_sms_backend


class InvalidRecipient(ValueError):
    pass


def normalize_recipient(channel: str, recipient: str) -> str:
    """The address or E.164 number to store; raises InvalidRecipient."""
    recipient = (recipient or "").strip()
    if channel == Channel.EMAIL:
        try:
            validate_email(recipient)
        except ValidationError:
            raise InvalidRecipient(f"{recipient!r} is not an email address.") from None
        return recipient
    try:
        number = phonenumbers.parse(recipient, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidRecipient(f"{recipient!r} is not a phone number in E.164 form (+14155550100).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def dispatch(notification: Notification, message: Rendered, *, connection=None) -> None:
    """Send one message; `connection` (an open e-mail connection) lets a batch
    share one SMTP session instead of opening one per message."""
    if notification.channel == Channel.SMS:
        get_sms_backend().send(notification.recipient, message.text)
        return
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
        # Lets a bounce or a support ticket be traced back to the row.
        headers={"X-Orderly-Notification": str(notification.pk)},
        connection=connection or get_connection(fail_silently=False),
    )
    if message.html:
        email.attach_alternative(message.html, "text/html")
    email.send()
