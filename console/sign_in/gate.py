"""Until a person has given their second factor, their session signs nobody in.

While REQUIRE_2FA is on, a session that has passed the password but not a code sees
`request.user` as anonymous everywhere: no page that asks for a login (the admin's, the API
docs, any added later) opens on a password alone. Only the second-factor pages look past it,
at `request.password_user`.
"""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.functional import SimpleLazyObject


def second_factor_missing(user) -> bool:
    """Whether `user`, as django-otp's middleware leaves it, gave a password and owes a code."""
    return bool(settings.REQUIRE_2FA and user.is_authenticated and not user.is_verified())


def _gated(user):
    return AnonymousUser() if second_factor_missing(user) else user


class SecondFactorMiddleware:
    """Installed after django-otp's OTPMiddleware, which tells whether a code was given."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        password_user = request.user
        request.password_user = password_user
        request.user = SimpleLazyObject(lambda: _gated(password_user))
        password_auser = request.auser

        async def auser():
            return _gated(await password_auser())

        request.auser = auser
        return self.get_response(request)
