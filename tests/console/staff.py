"""Staff users for the console's tests, in the groups the roles migration made."""

from django.contrib.auth.models import Group, User


def staff_in(*group_names: str, username: str = "") -> User:
    """A staff user (allowed to log in to the admin) in the named groups, or in none."""
    username = username or "-".join(name.lower().replace(" ", "-") for name in group_names)
    user = User.objects.create_user(username or "no-group", password="pw", is_staff=True)
    user.groups.add(*(Group.objects.get(name=name) for name in group_names))
    return user


def action_names(response) -> set[str]:
    """The actions a changelist offers to the user who asked for it."""
    form = response.context.get("action_form")
    return {name for name, _ in form.fields["action"].choices if name} if form else set()
