"""Staff's authenticator apps (django-otp's TOTP devices): enrolment, then a code at each sign-in.

A person holds at most one confirmed device. Enrolment keeps one unconfirmed device, with the
same key on every visit, until a code from the app proves the app holds the key. Wrong codes
make django-otp wait longer before the next one is checked (1 s, 2 s, 4 s, …).
"""

import math
from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "Authenticator app"


def totp_device_confirmed(*, user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_device_for_enrolment(*, user) -> TOTPDevice:
    """The device being enrolled: made at the first visit, the same on the next ones."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def totp_enrolment_confirm(*, device: TOTPDevice, code: str) -> bool:
    """Confirms `device` when `code` is its current one; other unconfirmed devices go."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if device.confirmed or not device.verify_token(code):
            return False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user_id=device.user_id, confirmed=False).delete()
    return True


def totp_code_check(*, user, code: str) -> TOTPDevice | None:
    """The device that accepts `code`, or None (also while wrong codes are being slowed)."""
    device = totp_device_confirmed(user=user)
    return verify_token(user, device.persistent_id, code) if device else None


def totp_wait_seconds(*, device: TOTPDevice) -> int:
    """How long wrong codes keep `device` from checking the next one; 0 when it checks now."""
    allowed, details = device.verify_is_allowed()
    if allowed or not details or "locked_until" not in details:
        return 0
    return max(1, math.ceil((details["locked_until"] - timezone.now()).total_seconds()))


def totp_key_text(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed in: base32, in groups of four."""
    key = b32encode(device.bin_key).decode()
    return " ".join(key[start : start + 4] for start in range(0, len(key), 4))


def totp_qr_svg(device: TOTPDevice) -> SafeString:
    """The otpauth:// URL as an inline SVG QR code: drawn here, nothing fetched elsewhere."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=10
    )
    # The SVG holds one path drawn from the URL's bits, and none of its text: safe as it is.
    return mark_safe(image.to_string(encoding="unicode"))
