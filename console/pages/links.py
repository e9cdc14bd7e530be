"""Links from a console page to the admin pages of what it shows, for those who may open them."""

from typing import Any

from django.db import models

from common.admin import admin_change_url, admin_changelist_url


def change_url_if(obj: models.Model | None, *, allowed: bool) -> str:
    """The admin page of obj; empty when there is none or the user may not see it."""
    return admin_change_url(obj) if obj is not None and allowed else ""


def changelist_url_if(model: type[models.Model], *, allowed: bool, **query) -> str:
    """The admin list of the model, filtered by `query`; empty when the user may not see it."""
    return admin_changelist_url(model, **query) if allowed else ""


def with_urls(objects, *, allowed: bool) -> list[tuple[Any, str]]:
    """Each object with the URL of its admin page ("" when the user may not see it)."""
    return [(obj, change_url_if(obj, allowed=allowed)) for obj in objects]
