"""Signing in to the admin as a person does: the login form, then the authenticator app's code."""

from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def log_in(client, username: str, password: str, **extra):
    """POSTs the admin's login form; `extra` goes into the request (e.g. REMOTE_ADDR)."""
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
        **extra,
    )


def app_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the person's authenticator app shows now, or `steps_ahead` periods (30 s) on:
    a code, once accepted, is refused until the next period."""
    return f"{totp(device.bin_key, step=device.step, drift=steps_ahead):06d}"


def enrol(client, user) -> TOTPDevice:
    """Opens the enrolment page (after the password) and confirms the app with its code."""
    client.get(reverse("admin:sign_in_enrol"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("admin:sign_in_enrol"), {"code": app_code(device)})
    assert response.status_code == 302, response.content.decode()
    device.refresh_from_db()
    return device
