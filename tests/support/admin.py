"""What the admin's pages offer the user who asked for them."""


def action_names(response) -> set[str]:
    """The actions a changelist offers to the user who asked for it."""
    form = response.context.get("action_form")
    return {name for name, _ in form.fields["action"].choices if name} if form else set()
