"""Signing staff in to the admin: the second factor, and what a locked-out person is told.

Passwords are Django's. django-axes counts failed logins and locks a user name and address
pair out (settings: LOGIN_FAILURE_LIMIT, LOGIN_LOCKOUT_MINUTES); django-otp keeps each person's
authenticator app (a TOTP device), checks its codes and slows down wrong ones (REQUIRE_2FA).
"""
