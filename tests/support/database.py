"""What the test database holds, and a database that cannot be reached."""

import socket
from contextlib import contextmanager

from django.db import connection, connections
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import Delivery, DeliveryReceipt


def stored_counts() -> dict[str, int]:
    """How many deliveries, receipts and processing jobs exist: compare before and after."""
    return {
        "deliveries": Delivery.objects.count(),
        "receipts": DeliveryReceipt.objects.count(),
        "jobs": ProcrastinateJob.objects.count(),
    }


def rows_containing(needle: str) -> list[tuple[str, str]]:
    """Every row of every table in the test database whose text contains `needle`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        hits = []
        for table in tables:
            quoted = connection.ops.quote_name(table)
            cursor.execute(
                f"SELECT row_text FROM (SELECT t::text AS row_text FROM {quoted} t) AS rows "
                "WHERE strpos(row_text, %s) > 0",
                [needle],
            )
            hits += [(table, row_text) for (row_text,) in cursor.fetchall()]
    return hits


def _port_nobody_listens_on() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def database_unreachable():
    """Point the default connection at a port where nothing listens; restore it afterwards.

    Needs a transactional test: the test's own transaction would be lost with the connection.
    """
    default = connections["default"]
    saved = {key: default.settings_dict.get(key) for key in ("HOST", "PORT")}
    default.close()
    default.settings_dict.update(HOST="127.0.0.1", PORT=str(_port_nobody_listens_on()))
    try:
        yield
    finally:
        default.close()
        default.settings_dict.update(saved)
