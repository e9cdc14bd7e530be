"""The forms staff fill in to work a follow-up."""

from django import forms
from django.contrib.auth import get_user_model

from consents.models import FollowUp


class FollowUpForm(forms.ModelForm):
    """Who works it and by when; the status moves only through the buttons of the page."""

    class Meta:
        model = FollowUp
        fields = ["assignee", "due_on"]
        labels = {"assignee": "Assigned to", "due_on": "Due by"}
        # The browser's date picker reads and writes ISO dates, whatever the locale.
        widgets = {"due_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = (
                get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
            )
            self.fields["assignee"].label_from_instance = _person

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and not self.instance.is_open and self.has_changed():
            raise forms.ValidationError("This follow-up is closed: it is no longer assigned.")
        return cleaned


class FollowUpWorkForm(forms.Form):
    """The box under the history: a note, and what to do with the follow-up."""

    DO_CHOICES = [
        ("note", "Add note"),
        ("assign_me", "Assign to me"),
        ("contacted", "Mark contacted"),
        ("resolved", "Mark resolved"),
        ("wont_fix", "Won't fix"),
    ]

    note = forms.CharField(
        required=False,
        strip=True,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What happened, what was said…"}),
    )
    do = forms.ChoiceField(choices=DO_CHOICES)

    def clean(self):
        cleaned = super().clean()
        do, note = cleaned.get("do"), cleaned.get("note", "")
        if do == "note" and not note:
            self.add_error("note", "Write the note first.")
        if do == "wont_fix" and not note:
            self.add_error("note", "Say why it won't be fixed: write the reason in the note.")
        return cleaned


class WontFixForm(forms.Form):
    """The reason asked by the changelist's "Won't fix" action."""

    reason = forms.CharField(
        strip=True,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept in the history of each selected follow-up.",
    )


def _person(user) -> str:
    full_name = user.get_full_name()
    return f"{full_name} ({user.get_username()})" if full_name else user.get_username()
