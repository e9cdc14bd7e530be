"""Signing in, seen from the admin: who is locked out (and unlocking them), and staff's
authenticator apps (and resetting one). Keys are never shown.

django-axes and django-otp register admins of their own; these replace them.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django_otp.plugins.otp_totp.models import TOTPDevice

admin.site.unregister(AccessAttempt)
admin.site.unregister(TOTPDevice)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """Failed logins per user name and address; at LOGIN_FAILURE_LIMIT the pair is locked out
    for LOGIN_LOCKOUT_MINUTES. Forgetting a pair's failures unlocks it at once."""

    actions = ["unlock"]

    @admin.action(description="Unlock: forget these failed logins", permissions=["delete"])
    def unlock(self, request, queryset):
        pairs = sorted({f"{a.username} from {a.ip_address}" for a in queryset})
        queryset.delete()
        self.message_user(request, f"Unlocked {len(pairs)}: {', '.join(pairs)}.")


@admin.register(TOTPDevice)
class AuthenticatorAppAdmin(admin.ModelAdmin):
    """A reset removes the app: its owner enrols a new one at their next sign-in, and their
    open sessions stop counting as verified. Only a superuser resets a superuser's."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    fields = ["user", "name", "confirmed", "created_at", "last_used_at"]
    readonly_fields = fields
    actions = ["reset"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        # The reset is the one way to remove them: it keeps superusers' apps out of reach.
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.user.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(
        description="Reset: its owner sets up an app again at next login",
        permissions=["delete"],
    )
    def reset(self, request, queryset):
        if not request.user.is_superuser:
            kept = queryset.filter(user__is_superuser=True).count()
            if kept:
                self.message_user(
                    request,
                    f"{kept} belong to superusers: only a superuser can reset those.",
                    messages.WARNING,
                )
            queryset = queryset.exclude(user__is_superuser=True)
        owners = sorted({device.user.get_username() for device in queryset})
        queryset.delete()
        if owners:
            self.message_user(request, f"Reset for {', '.join(owners)}.")
