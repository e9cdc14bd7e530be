"""'Retry everything failed since …': the admin page in front of reprocess_deliveries.

GET without a time shows the form; GET with one shows how many deliveries it covers and
asks to confirm; the confirming POST queues them through the same service as the command.
"""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from events.dispatch import known_event_types
from events.processing import deliveries_reprocess_matching
from events.selectors import FAILED_STATUSES, deliveries_matching

# Past this many, the page points to the command: each delivery costs a few statements
# (about 2 ms), and a request that ran for minutes would outlive the proxy's timeout.
RETRY_LIMIT = 5_000


class RetryFailedForm(forms.Form):
    since = forms.DateTimeField(
        label="Received since",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the site's time zone.",
    )
    event_type = forms.ChoiceField(required=False, label="Event type")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Any event type")]
        choices += [(event_type, event_type) for event_type in known_event_types()]
        self.fields["event_type"].choices = choices

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since > timezone.now():
            raise forms.ValidationError("That is in the future: nothing was received since.")
        return since

    def deliveries(self):
        return deliveries_matching(
            statuses=FAILED_STATUSES,
            since=self.cleaned_data["since"],
            event_type=self.cleaned_data["event_type"],
        )


def retry_failed_view(model_admin, request):
    """The page; `model_admin` is the DeliveryAdmin it is reached from."""
    if not model_admin.has_reprocess_permission(request):
        raise PermissionDenied
    changelist = reverse("admin:events_delivery_changelist")
    if request.method == "POST":
        form = RetryFailedForm(request.POST)
        if form.is_valid():
            deliveries = form.deliveries()
            if deliveries.count() > RETRY_LIMIT:
                model_admin.message_user(request, _too_many_message(form), messages.ERROR)
                return HttpResponseRedirect(request.path)
            queued, skipped = deliveries_reprocess_matching(deliveries=deliveries)
            model_admin.message_user(
                request, f"{queued} failed deliveries queued for processing.", messages.SUCCESS
            )
            if skipped:
                model_admin.message_user(
                    request,
                    f"{skipped} skipped: they were retried or processed in the meantime.",
                    messages.WARNING,
                )
            return HttpResponseRedirect(changelist)
    elif "since" in request.GET:
        form = RetryFailedForm(request.GET)
    else:
        this_hour = timezone.localtime().replace(minute=0, second=0, microsecond=0)
        form = RetryFailedForm(initial={"since": this_hour - timedelta(days=1)})

    count = form.deliveries().count() if form.is_bound and form.is_valid() else None
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Retry everything failed since …",
        "form": form,
        "count": count,
        "too_many": count is not None and count > RETRY_LIMIT,
        "limit": RETRY_LIMIT,
        "command": _command_line(form) if count else "",
        "changelist": changelist,
    }
    return TemplateResponse(request, "admin/events/delivery/retry_failed.html", context)


def _command_line(form) -> str:
    since = form.cleaned_data["since"].isoformat()
    event_type = form.cleaned_data["event_type"]
    return (
        "python manage.py reprocess_deliveries --since "
        + since
        + (f" --event-type {event_type}" if event_type else "")
    )


def _too_many_message(form) -> str:
    return (
        f"That is more than {RETRY_LIMIT} deliveries: narrow it down, or run {_command_line(form)}"
    )
