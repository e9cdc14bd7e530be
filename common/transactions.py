"""Whether a database transaction is open: calls to other services (an API, a mail server, a
chat webhook) are made outside one, so that no lock or snapshot waits on them."""

from django.db import connection


def transaction_open() -> bool:
    """True inside `transaction.atomic()`. The transactions a test case wraps each test in
    do not count: they are the test's, not the code's."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)
