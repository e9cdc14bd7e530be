"""The rules' turn on the web side: `/health/ready` calls `alert_rules_poke()`.

The worker runs the rules every minute, but a missing worker cannot say it is missing, nor
send the e-mail that says so. So each web process, at most every ALERT_EVALUATION_SECONDS,
runs them in a thread of its own (the probe answers at once); the AlertCheck row keeps the
processes together to one run per interval. When no worker is alive, that thread also sends
the notices the worker would have sent.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_next_turn = 0.0


def alert_rules_poke() -> bool:
    """Start a run in the background if this process's turn has come; returns whether."""
    global _next_turn
    now = time.monotonic()
    with _lock:
        if now < _next_turn:
            return False
        _next_turn = now + settings.ALERT_EVALUATION_SECONDS
    threading.Thread(target=alert_rules_web_turn, name="alert-rules", daemon=True).start()
    return True


def alert_rules_web_turn() -> None:
    from console.alerts.notify import alert_notices_send_pending
    from console.alerts.services import alert_rules_run_if_due
    from console.operations import workers_alive

    try:
        alert_rules_run_if_due()
        if not workers_alive():
            alert_notices_send_pending()
    except Exception:
        logger.exception("The alert rules could not run from the web process")
    finally:
        connections.close_all()
