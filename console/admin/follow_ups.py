"""The follow-up page, where customer success works a revoked consent: who to call, about which
meters (with their data freshness), what has been done, and what can be done next."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timesince

from common.exports import Column, ExportPermissionMixin, export_actions, iso
from common.users import user_display_name
from consents.admin_filters import AssigneeFilter, OverdueFilter
from consents.forms import FollowUpForm, FollowUpWorkForm, WontFixForm
from consents.models import FollowUp
from consents.selectors import follow_up_open_first_ordering
from consents.services import (
    follow_up_assign,
    follow_up_due_set,
    follow_up_mark_contacted,
    follow_up_mark_wont_fix,
    follow_up_note_add,
    follow_up_resolve,
)
from console.pages.follow_ups import follow_up_page

FOLLOW_UP_COLUMNS = [
    Column("id", lambda f: f.pk),
    Column("status", lambda f: f.status),
    Column("reason", lambda f: f.reason),
    Column("consent", lambda f: f.consent.external_id),
    Column("customer", lambda f: f.customer_name),
    Column("customer_email", lambda f: f.customer_email),
    Column("meter_numbers", lambda f: " ".join(f.meter_numbers)),
    Column("assignee", lambda f: f.assignee.get_username() if f.assignee else ""),
    Column("due_on", lambda f: f.due_on.isoformat() if f.due_on else ""),
    Column("opened_at", lambda f: iso(f.opened_at)),
    Column("revoked_at", lambda f: iso(f.revoked_at)),
]


@admin.register(FollowUp)
class FollowUpAdmin(ExportPermissionMixin, admin.ModelAdmin):
    """Follow-ups are worked here: assigned, noted, moved open → contacted → resolved or won't
    fix. The status changes only through services, which keep the history."""

    form = FollowUpForm
    change_form_template = "admin/consents/followup/change_form.html"
    list_display = ["customer", "status_badge", "assignee_name", "due", "opened", "meters"]
    list_display_links = ["customer"]
    list_filter = ["status", AssigneeFilter, OverdueFilter]
    # The dashboard links to the follow-ups still open.
    extra_lookups = ("status__in",)
    list_select_related = ["consent", "assignee"]
    search_fields = ["customer_name", "customer_email", "=consent__external_id"]
    search_help_text = "Customer name or e-mail (contains), or the exact consent id."
    fieldsets = [("Who works it, and by when", {"fields": ["assignee", "due_on"]})]
    actions = [
        "assign_to_me",
        "mark_contacted",
        "mark_resolved",
        "mark_wont_fix",
        *export_actions(FOLLOW_UP_COLUMNS),
    ]

    def get_ordering(self, request):
        return follow_up_open_first_ordering()

    def has_add_permission(self, request):
        # A follow-up starts from a revocation; a closed one stays, as the record of it.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            # Without the admin's add/edit/delete-user buttons: people are not managed here.
            return self.formfield_for_foreignkey(db_field, request, **kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_open:
            return ["assignee", "due_on"]
        return []

    def get_urls(self):
        work = path(
            "<path:object_id>/work/",
            self.admin_site.admin_view(self.work_view),
            name="consents_followup_work",
        )
        return [work, *super().get_urls()]

    @admin.display(description="customer", ordering="customer_name")
    def customer(self, follow_up):
        return follow_up.customer_name or follow_up.customer_email or f"Follow-up {follow_up.pk}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, follow_up):
        return format_html(
            '<span class="sb-badge sb-{}">{}</span>',
            follow_up.status,
            follow_up.get_status_display(),
        )

    @admin.display(description="assignee", ordering="assignee__username")
    def assignee_name(self, follow_up):
        if follow_up.assignee is None:
            return "—"
        return user_display_name(follow_up.assignee)

    @admin.display(description="due", ordering="due_on")
    def due(self, follow_up):
        if follow_up.due_on is None:
            return "—"
        due_on = date_format(follow_up.due_on, "D j M Y")
        if follow_up.is_overdue:
            return format_html('<span class="sb-badge sb-overdue">{}, overdue</span>', due_on)
        return due_on

    @admin.display(description="opened", ordering="opened_at")
    def opened(self, follow_up):
        opened = date_format(timezone.localtime(follow_up.opened_at), "j M Y")
        if not follow_up.is_open:
            return opened
        # How long the customer has been waiting: what the list is ordered by.
        waiting = timesince(follow_up.opened_at, depth=1)
        return format_html('{} <span class="sb-quiet">({} ago)</span>', opened, waiting)

    @admin.display(description="meters")
    def meters(self, follow_up):
        return ", ".join(follow_up.meter_numbers) or "—"

    def save_model(self, request, obj, form, change):
        # The form changed obj in memory only: the services write it, with the history.
        if "assignee" in form.changed_data:
            follow_up_assign(follow_up=obj, assignee=form.cleaned_data["assignee"], by=request.user)
        if "due_on" in form.changed_data:
            follow_up_due_set(follow_up=obj, due_on=form.cleaned_data["due_on"], by=request.user)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(follow_up_page(request, obj, self.has_change_permission(request, obj)))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def work_view(self, request, object_id):
        """The box under the history: add a note, take it, or move its status."""
        follow_up = self.get_object(request, object_id)
        if follow_up is None:
            raise Http404("No such follow-up.")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request, follow_up):
            raise PermissionDenied
        form = FollowUpWorkForm(request.POST)
        page = reverse("admin:consents_followup_change", args=[follow_up.pk])
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    self.message_user(request, error, messages.ERROR)
            # To the top of the page, where the message shows.
            return HttpResponseRedirect(page)
        do, note = form.cleaned_data["do"], form.cleaned_data["note"]
        try:
            with transaction.atomic():
                done = _work(follow_up, do=do, note=note, by=request.user)
        except ValidationError as refused:
            for message in refused.messages:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(page)
        self.log_change(request, follow_up, done)
        self.message_user(request, done, messages.SUCCESS)
        # Down to the history, where what they just did now shows.
        return HttpResponseRedirect(page + "#history")

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda follow_up: follow_up_assign(
                follow_up=follow_up, assignee=request.user, by=request.user
            ),
            done="assigned to you",
        )

    @admin.action(description="Mark contacted", permissions=["change"])
    def mark_contacted(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda follow_up: follow_up_mark_contacted(follow_up=follow_up, by=request.user),
            done="marked contacted",
        )

    @admin.action(description="Mark resolved", permissions=["change"])
    def mark_resolved(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda follow_up: follow_up_resolve(follow_up=follow_up, by=request.user),
            done="marked resolved",
        )

    @admin.action(description="Won't fix (asks for the reason)", permissions=["change"])
    def mark_wont_fix(self, request, queryset):
        form = WontFixForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._each(
                request,
                queryset,
                lambda follow_up: follow_up_mark_wont_fix(
                    follow_up=follow_up, by=request.user, reason=reason
                ),
                done="marked won't fix",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Won't fix: why?",
            "form": form,
            "follow_ups": list(queryset),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/consents/followup/wont_fix.html", context)

    def _each(self, request, queryset, change, *, done):
        """Apply `change` to each selected follow-up; say how many it changed and why any
        were refused (a resolved one cannot be marked contacted, and so on)."""
        changed, refusals = 0, []
        for follow_up in queryset.order_by("pk"):
            try:
                change(follow_up)
            except ValidationError as refused:
                refusals.extend(refused.messages)
            else:
                changed += 1
                self.log_change(request, follow_up, done.capitalize())
        if changed:
            noun = "follow-up" if changed == 1 else "follow-ups"
            self.message_user(request, f"{changed} {noun} {done}.", messages.SUCCESS)
        for refusal in refusals:
            self.message_user(request, f"Skipped: {refusal}", messages.WARNING)


def _work(follow_up: FollowUp, *, do: str, note: str, by) -> str:
    """Carry out what the box under the history asked; returns what was done, in words."""
    if do == "note":
        follow_up_note_add(follow_up=follow_up, author=by, text=note)
        return "Note added."
    if do == "assign_me":
        follow_up_assign(follow_up=follow_up, assignee=by, by=by)
        if note:
            follow_up_note_add(follow_up=follow_up, author=by, text=note)
        return "Assigned to you."
    if do == "contacted":
        follow_up_mark_contacted(follow_up=follow_up, by=by, note=note)
        return "Marked contacted."
    if do == "resolved":
        follow_up_resolve(follow_up=follow_up, by=by, note=note)
        return "Marked resolved."
    follow_up_mark_wont_fix(follow_up=follow_up, by=by, reason=note)
    return "Marked won't fix."
