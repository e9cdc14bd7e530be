"""How staff are named to each other."""


def user_display_name(user) -> str:
    """A person's full name, or their username when they gave none."""
    return user.get_full_name() or user.get_username()
