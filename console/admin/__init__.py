"""The console's admin: its own records, and the pages that join apps."""

from console.admin import (  # noqa: F401  (registers them)
    alerts,
    export_log,
    follow_ups,
    meters,
    sign_in,
)
