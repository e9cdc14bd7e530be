"""Which query-string lookups a changelist accepts: those its own filters offer, no others.

Django's `ModelAdmin.lookup_allowed` takes any lookup on a model's own fields, and on the
relations its list filters name. On the delivery changelist `?endpoint__id__startswith=e`
then narrows the list by the first characters of an endpoint's id, which is an Openvolt
endpoint's only credential: guessing one character at a time gives all of it away. And
`?payload__icontains=…` or `?error_traceback__regex=…` each scan the largest table.

Here a changelist accepts the parameters of its `list_filter` and `date_hierarchy`, and those
its admin names in `extra_lookups` (the links other pages make to it); any other parameter
is refused with a 400, as Django refuses a lookup it does not allow. The admin site applies
this to every model admin it registers (console/admin_site.py), Django's and other apps' too.
"""

from django.contrib import admin
from django.contrib.admin import widgets
from django.contrib.admin.utils import get_fields_from_path
from django.db import models

HIERARCHY_PARTS = ("year", "month", "day")


class DeclaredLookupsOnly:
    """A model admin mixin: `lookup_allowed` admits only the lookups declared (see above).

    An admin may name lookups beyond its list filters' own in `extra_lookups`, e.g.
    `("status__in",)` for the dashboard's links. (No default here: placed first in the MRO
    by the admin site, it would hide the admin's own.)
    """

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in declared_lookups(self, request):
            return True
        return _limit_choices_lookup(self.model, lookup, value)


def declared_lookups(model_admin: admin.ModelAdmin, request=None) -> frozenset[str]:
    """Every query-string lookup the changelist of `model_admin` offers."""
    lookups = set(getattr(model_admin, "extra_lookups", ()))
    if hierarchy := model_admin.date_hierarchy:
        lookups.update(f"{hierarchy}__{part}" for part in HIERARCHY_PARTS)
    list_filter = (
        model_admin.get_list_filter(request) if request is not None else model_admin.list_filter
    )
    for list_filter_item in list_filter:
        lookups.update(_filter_parameters(model_admin.model, list_filter_item))
    return frozenset(lookups)


def _filter_parameters(model: type[models.Model], list_filter_item) -> set[str]:
    if isinstance(list_filter_item, type) and issubclass(list_filter_item, admin.SimpleListFilter):
        return {list_filter_item.parameter_name}
    if isinstance(list_filter_item, type) and issubclass(list_filter_item, admin.ListFilter):
        # Any other filter class says which parameters it reads (events/delivery_filters.py).
        return set(list_filter_item.parameters)
    if isinstance(list_filter_item, (list, tuple)):
        path, filter_class = list_filter_item
        if isinstance(filter_class, type) and issubclass(filter_class, admin.EmptyFieldListFilter):
            return {f"{path}__isempty"}
    else:
        path = list_filter_item
    return _field_filter_parameters(model, path)


def _field_filter_parameters(model: type[models.Model], path: str) -> set[str]:
    """The parameters of the filter Django picks for the field at `path`, in its order:
    related, boolean, choices, date, and for any other field a list of the values it holds."""
    field = get_fields_from_path(model, path)[-1]
    if field.is_relation:
        return {f"{path}__{field.target_field.name}__exact", f"{path}__isnull"}
    if isinstance(field, models.BooleanField) or field.flatchoices:
        return {f"{path}__exact", f"{path}__isnull"}
    if isinstance(field, models.DateField):  # DateTimeField too
        return {f"{path}__gte", f"{path}__lt", f"{path}__isnull"}
    return {path, f"{path}__isnull"}


def _limit_choices_lookup(model: type[models.Model], lookup: str, value) -> bool:
    """Django's own exception: the lookups of a raw-id popup for a `limit_choices_to`."""
    for fk_lookup in model._meta.related_fkey_lookups:
        if callable(fk_lookup):
            fk_lookup = fk_lookup()
        if (lookup, value) in widgets.url_params_from_lookup_dict(fk_lookup).items():
            return True
    return False


def with_declared_lookups_only(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """`admin_class` if it admits only declared lookups already, else a subclass that does."""
    if issubclass(admin_class, DeclaredLookupsOnly):
        return admin_class
    return type(
        admin_class.__name__,
        (DeclaredLookupsOnly, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )
