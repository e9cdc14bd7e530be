"""The staff roles, as groups of permissions: what each may see and do in the console.

    Customer success   views every delivery, mirror and consent, but no endpoint settings and
                       no signing secrets; works follow-ups (change them, add notes); exports;
                       sees alerts, acknowledges and resolves them, sends a test alert;
                       sees who is locked out of the admin and unlocks them; re-fetches
                       the half-hours a meter is missing.
    Integration admin  all of that, plus endpoints and their secrets, e-mail subscriptions,
                       reprocessing deliveries, the log of exports, and staff's authenticator
                       apps (a reset makes their owner enrol again; never their keys).

One definition serves the data migration that made the groups and `manage.py sync_roles`,
which re-applies it when a later migration has added models (whose view permissions the
groups then lack). Applying it makes each group hold exactly these permissions.
"""

from dataclasses import dataclass

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Q

CUSTOMER_SUCCESS = "Customer success"
INTEGRATION_ADMIN = "Integration admin"
ROLE_NAMES = (CUSTOMER_SUCCESS, INTEGRATION_ADMIN)

# Customer success may view every model of these apps...
VIEWED_APPS = ("events", "meters", "consents")
# ...but these: an endpoint's settings and its signing secrets.
ENDPOINT_MODELS = ("events.webhookendpoint", "events.endpointsecret")


@dataclass(frozen=True)
class Grant:
    """Permissions on one model, by codename."""

    app_label: str
    model_name: str
    codenames: tuple[str, ...]


def _manage(app_label: str, model_name: str) -> Grant:
    actions = ("view", "add", "change", "delete")
    return Grant(app_label, model_name, tuple(f"{action}_{model_name}" for action in actions))


# Alerts are for whoever is on duty, in either role: acknowledging and resolving are the
# `change` of an alert (its fields stay read-only), which no rule undoes.
ALERT_GRANTS = (
    Grant("console", "alert", ("view_alert", "change_alert")),
    Grant("console", "alertnotice", ("view_alertnotice",)),
)
CUSTOMER_SUCCESS_GRANTS = (
    Grant("consents", "followup", ("change_followup",)),
    Grant("consents", "followupnote", ("add_followupnote",)),
    Grant("console", "exportlog", ("export_data",)),
    # Asks Openvolt again for a meter's missing half-hours (events/refetch.py).
    Grant("meters", "meter", ("refetch_gaps",)),
    *ALERT_GRANTS,
    # Unlocking forgets a user name and address's failed logins (console/admin/sign_in.py).
    Grant("axes", "accessattempt", ("view_accessattempt", "delete_accessattempt")),
)
INTEGRATION_ADMIN_GRANTS = (
    *CUSTOMER_SUCCESS_GRANTS,
    _manage("events", "webhookendpoint"),
    _manage("events", "endpointsecret"),
    _manage("events", "emailsubscription"),
    Grant("events", "delivery", ("reprocess_delivery",)),
    Grant("console", "exportlog", ("view_exportlog",)),
    # Resetting removes the device; the admin shows no key (console/admin/sign_in.py).
    Grant("otp_totp", "totpdevice", ("view_totpdevice", "delete_totpdevice")),
)


def role_permissions(*, apps=global_apps, strict: bool = False) -> dict[str, set[tuple[str, str]]]:
    """Each role's permissions as (app label, codename), for the models `apps` holds.

    In a migration `apps` is the project as it was at that point of its history, where a
    model granted here may not exist yet: its grant is left for a later `sync_roles`. With
    `strict`, a grant naming a model that does not exist is an error (a typo, surely).
    """
    viewed = {
        (model._meta.app_label, f"view_{model._meta.model_name}")
        for app_label in VIEWED_APPS
        for model in apps.get_app_config(app_label).get_models()
        if model._meta.label_lower not in ENDPOINT_MODELS
    }
    return {
        CUSTOMER_SUCCESS: viewed | _granted(CUSTOMER_SUCCESS_GRANTS, apps=apps, strict=strict),
        INTEGRATION_ADMIN: viewed | _granted(INTEGRATION_ADMIN_GRANTS, apps=apps, strict=strict),
    }


def _granted(grants, *, apps, strict: bool) -> set[tuple[str, str]]:
    permissions = set()
    for grant in grants:
        try:
            apps.get_model(grant.app_label, grant.model_name)
        except LookupError:
            if strict:
                raise
            continue
        permissions.update((grant.app_label, codename) for codename in grant.codenames)
    return permissions


def roles_apply(
    *, apps=global_apps, using: str = DEFAULT_DB_ALIAS, strict: bool = False
) -> dict[str, int]:
    """Creates or updates the groups to hold exactly their roles' permissions.

    Returns how many permissions each group holds. Idempotent.
    """
    wanted = role_permissions(apps=apps, strict=strict)
    _permissions_create(apps=apps, using=using)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    counts = {}
    for name, codenames in wanted.items():
        permissions = _permissions_find(permission_model, codenames, using=using)
        group, _ = group_model.objects.using(using).get_or_create(name=name)
        group.permissions.set(permissions)
        counts[name] = len(permissions)
    return counts


def roles_remove(*, apps=global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    apps.get_model("auth", "Group").objects.using(using).filter(name__in=ROLE_NAMES).delete()


def _permissions_create(*, apps, using: str) -> None:
    """Every app's permissions, now.

    Django creates permissions after `migrate` has run (post_migrate): on a fresh database
    none exists yet while the migrations run, so a migration granting them creates them.
    """
    for app_config in apps.get_app_configs():
        # A migration's app configs have no models module, which create_permissions reads
        # as "no models".
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            app_config.models_module = models_module


def _permissions_find(permission_model, codenames: set[tuple[str, str]], *, using: str) -> list:
    wanted = Q(pk__in=[])
    for app_label, codename in codenames:
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(
        permission_model.objects.using(using).filter(wanted).select_related("content_type")
    )
    found = {(p.content_type.app_label, p.codename) for p in permissions}
    if missing := codenames - found:
        raise LookupError(f"Permissions missing: {', '.join(sorted(map('.'.join, missing)))}")
    return permissions
