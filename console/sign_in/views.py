"""The admin's sign-in with a second factor: the password (Django's login page), then a code.

After the password, a person with no authenticator app yet enrols one (a QR code and the key,
then a code to confirm); everyone else gives the code their app shows. Both pages offer to
leave, which signs the half-done session out.
"""

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login

from console.sign_in.devices import (
    totp_code_check,
    totp_device_confirmed,
    totp_device_for_enrolment,
    totp_enrolment_confirm,
    totp_key_text,
    totp_qr_svg,
    totp_wait_seconds,
)
from console.sign_in.gate import second_factor_missing

WRONG_CODE = "That is not the code the app shows now for Switchboard: try again."


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "size": 8,
            }
        ),
    )

    def clean_code(self):
        return "".join(self.cleaned_data["code"].split())


def second_factor_urls(site) -> list:
    """The pages of the second factor, in the admin's namespace."""
    return [
        path("second-factor/enrol/", never_cache(_site_view(enrol, site)), name="sign_in_enrol"),
        path("second-factor/code/", never_cache(_site_view(verify, site)), name="sign_in_verify"),
    ]


def login_then_second_factor(request, password_login):
    """The admin's login page, followed by the second factor when REQUIRE_2FA is on."""
    if request.method == "GET" and second_factor_missing(request.password_user):
        return redirect(_step_url(request.password_user, request.GET.get(REDIRECT_FIELD_NAME)))
    response = password_login()
    signed_in = request.method == "POST" and isinstance(response, HttpResponseRedirect)
    if signed_in and settings.REQUIRE_2FA and request.user.is_authenticated:
        # A code given in an earlier sign-in of the same session does not count for this one.
        request.session.pop(DEVICE_ID_SESSION_KEY, None)
        return redirect(_step_url(request.user, response.url))
    return response


def enrol(request, site):
    user = request.password_user
    if (early := _early_exit(request, site)) is not None:
        return early
    if totp_device_confirmed(user=user):
        return redirect(_step_url(user, _next(request, site)))
    device = totp_device_for_enrolment(user=user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid() and _code_may_be_checked(form, device):
        if totp_enrolment_confirm(device=device, code=form.cleaned_data["code"]):
            return _signed_in(request, site, device)
        form.add_error("code", WRONG_CODE)
    context = {
        "title": "Set up your authenticator app",
        "qr_svg": totp_qr_svg(device),
        "key": totp_key_text(device),
    }
    return _page(request, site, "admin/sign_in/enrol.html", form, context)


def verify(request, site):
    user = request.password_user
    if (early := _early_exit(request, site)) is not None:
        return early
    device = totp_device_confirmed(user=user)
    if device is None:
        return redirect(_step_url(user, _next(request, site)))
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid() and _code_may_be_checked(form, device):
        if verified := totp_code_check(user=user, code=form.cleaned_data["code"]):
            return _signed_in(request, site, verified)
        form.add_error("code", WRONG_CODE)
    return _page(request, site, "admin/sign_in/verify.html", form, {"title": "Enter your code"})


def _code_may_be_checked(form, device) -> bool:
    """False, with a word on the form, while wrong codes keep `device` from checking one."""
    if seconds := totp_wait_seconds(device=device):
        form.add_error("code", f"Too many wrong codes in a row: wait {seconds} s, then try again.")
        return False
    return True


def _site_view(view, site):
    @sensitive_post_parameters("code")
    def site_view(request):
        return view(request, site)

    return site_view


def _early_exit(request, site):
    """Where a visit that owes no code goes: to log in, away (signed out), or on."""
    user = request.password_user
    if not user.is_authenticated:
        login = reverse("admin:login", current_app=site.name)
        return redirect(f"{login}?{urlencode({REDIRECT_FIELD_NAME: _next(request, site)})}")
    if request.method == "POST" and "leave" in request.POST:
        request.user = user  # so that the signal of the sign-out names who left
        logout(request)
        return redirect("admin:login")
    if not second_factor_missing(user):
        return redirect(_next(request, site))
    return None


def _signed_in(request, site, device):
    request.user = request.password_user
    otp_login(request, device)
    return redirect(_next(request, site))


def _page(request, site, template: str, form, context: dict):
    return TemplateResponse(
        request,
        template,
        {
            **site.each_context(request),
            **context,
            "form": form,
            "username": request.password_user.get_username(),
            "next": _next(request, site),
        },
    )


def _step_url(user, next_url: str | None) -> str:
    step = "admin:sign_in_verify" if totp_device_confirmed(user=user) else "admin:sign_in_enrol"
    query = urlencode({REDIRECT_FIELD_NAME: next_url}) if next_url else ""
    return reverse(step) + (f"?{query}" if query else "")


def _next(request, site) -> str:
    """Where the person was going: a page of this site, else the admin's front page."""
    wanted = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("admin:index", current_app=site.name)
