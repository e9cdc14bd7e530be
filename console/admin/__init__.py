"""The console's admin: its own records, and the pages that join apps."""

from console.admin import alerts, export_log, follow_ups, meters  # noqa: F401  (registers them)
