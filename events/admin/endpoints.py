"""Endpoints and their signing secrets, and who is e-mailed about which deliveries."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from common.admin import ReadOnlyInline
from events.dispatch import known_event_types
from events.models import EmailSubscription, EndpointSecret, Source, WebhookEndpoint
from events.services import endpoint_secret_add, endpoint_secret_rotate
from events.sources.nectar import is_valid_secret


class SecretInline(ReadOnlyInline):
    model = EndpointSecret
    fields = readonly_fields = ["secret_masked", "created_at", "expires_at"]
    verbose_name_plural = "signing secrets (shown once, when created)"

    @admin.display(description="secret")
    def secret_masked(self, secret):
        return secret.masked


class EndpointForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Nectar only. Paste the whsec_… secret from Nectar's webhook portal, "
        "or leave empty to generate one.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["source", "description", "enabled", "openvolt_subscription_id"]

    def clean(self):
        cleaned = super().clean()
        source, secret = cleaned.get("source"), cleaned.get("secret")
        if secret and source != Source.NECTAR:
            self.add_error("secret", "Only Nectar endpoints are signed.")
        elif secret and not is_valid_secret(secret):
            self.add_error("secret", "A secret looks like whsec_ followed by base64.")
        if cleaned.get("openvolt_subscription_id") and source != Source.OPENVOLT:
            self.add_error("openvolt_subscription_id", "Only Openvolt endpoints have one.")
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["description", "source", "enabled", "path", "created_at"]
    list_filter = ["source", "enabled"]
    search_fields = ["description", "=id"]
    readonly_fields = ["id", "path", "created_at"]
    inlines = [SecretInline]
    actions = ["rotate_secret"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["source", "description", "enabled", "openvolt_subscription_id", "secret"]
        return ["id", "path", "source", "description", "enabled", "openvolt_subscription_id"]

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_readonly_fields(self, request, obj=None):
        # The source decides how requests are authenticated: fixed once created.
        return [*self.readonly_fields, "source"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and obj.source == Source.NECTAR:
            request.new_endpoint_secret = endpoint_secret_add(
                endpoint=obj, secret=form.cleaned_data.get("secret") or None
            )

    def response_add(self, request, obj, post_url_continue=None):
        # The one time the secret is shown: rendered, never put in a message or the session.
        return self._secret_once(request, obj, getattr(request, "new_endpoint_secret", None))

    @admin.action(description="Rotate the signing secret (Nectar)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        endpoints = list(queryset)
        if len(endpoints) != 1 or endpoints[0].source != Source.NECTAR:
            self.message_user(request, "Select one Nectar endpoint to rotate.", messages.ERROR)
            return None
        secret = endpoint_secret_rotate(endpoint=endpoints[0])
        return self._secret_once(request, endpoints[0], secret, rotated=True)

    def _secret_once(self, request, endpoint, secret, rotated=False):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "endpoint": endpoint,
            "url": request.build_absolute_uri(endpoint.path),
            "secret": secret,
            "rotated": rotated,
            "title": "Endpoint ready",
        }
        return TemplateResponse(request, "admin/events/webhookendpoint/secret_once.html", context)


@admin.register(EmailSubscription)
class EmailSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["email", "event_type", "active", "created_at"]
    list_filter = ["event_type", "active"]
    list_editable = ["active"]
    search_fields = ["email"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "event_type":
            choices = [(EmailSubscription.ALL, "Every event type (*)")]
            choices += [(event_type, event_type) for event_type in known_event_types()]
            return forms.ChoiceField(choices=choices, label="Event type")
        return super().formfield_for_dbfield(db_field, request, **kwargs)
