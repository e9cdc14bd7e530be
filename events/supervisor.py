"""Keep a worker running through database outages, with nobody to restart it.

procrastinate's worker stops, cleanly and with status 0, as soon as one of its connections to
PostgreSQL breaks (its heartbeat or its listener fails). So the `worker` process of the
Procfile is this supervisor: it runs procrastinate's worker as a child process and, when the
child stops without being asked to, waits for the database (trying again with backoff,
logging once per outage rather than once per try) and starts a new one. The jobs the old child
was running are not lost: its heartbeat stops, and `recover_stalled_jobs` queues them again
after WORKER_STALLED_AFTER_SECONDS; a delivery left without a job is queued again by the
sweeper.

A stop asked of the supervisor (SIGTERM from the platform, Ctrl-C) is passed on to the child,
which finishes its jobs and exits; the supervisor then exits with the child's status.
"""

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

# Waits between two tries to reach the database, and between two starts of a child that
# stopped soon after it started: doubling from the first to the last.
FIRST_WAIT_SECONDS = 1.0
LONGEST_WAIT_SECONDS = 30.0
# A child that ran this long was healthy: the next restart waits the first wait again.
HEALTHY_AFTER_SECONDS = 60.0


def database_reachable() -> str:
    """ "" when the database answers, else why not."""
    connection = connections["default"]
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return ""
    except DatabaseError as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    finally:
        connection.close()


class WorkerSupervisor:
    """Run `command` until asked to stop, starting it again whenever it stops by itself."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        reachable: Callable[[], str] = database_reachable,
        first_wait: float = FIRST_WAIT_SECONDS,
        longest_wait: float = LONGEST_WAIT_SECONDS,
    ):
        self.command = list(command)
        self.reachable = reachable
        self.first_wait = first_wait
        self.longest_wait = longest_wait
        self.child: subprocess.Popen | None = None
        self.starts = 0
        self._stopping = threading.Event()

    def run(self) -> int:
        """Supervise until a stop is asked; returns the last child's exit status."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._supervise()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        self._stop(signal.SIGTERM, None)

    def _supervise(self) -> int:
        restart_wait = self.first_wait
        status = 0
        while not self._stopping.is_set():
            if not self._database_wait():
                break
            started = time.monotonic()
            status = self._child_run()
            if self._stopping.is_set():
                break
            lived = time.monotonic() - started
            logger.warning(
                "The worker stopped by itself (exit status %s after %.0f s); starting a new one.",
                status,
                lived,
            )
            restart_wait = self.first_wait if lived >= HEALTHY_AFTER_SECONDS else restart_wait
            # A child that stops at once, again and again, is not started in a tight loop.
            if self._stopping.wait(restart_wait):
                break
            restart_wait = min(restart_wait * 2, self.longest_wait)
        return status

    def _database_wait(self) -> bool:
        """Wait until the database answers; False when a stop is asked meanwhile."""
        reason = self.reachable()
        if not reason:
            return True
        outage_began = time.monotonic()
        logger.error(
            "The database is unreachable (%s); the worker waits for it, trying again with "
            "backoff up to every %.0f s.",
            reason,
            self.longest_wait,
        )
        wait = self.first_wait
        while reason:
            if self._stopping.wait(wait):
                return False
            wait = min(wait * 2, self.longest_wait)
            reason = self.reachable()
        logger.warning(
            "The database answers again after %.0f s; starting the worker.",
            time.monotonic() - outage_began,
        )
        return True

    def _child_run(self) -> int:
        self.child = subprocess.Popen(
            self.command,
            # Its own process group: a Ctrl-C at the terminal or a group-wide SIGTERM reaches
            # the child once, through the supervisor. A second signal would abort its jobs.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.starts += 1
        if self._stopping.is_set():  # asked to stop while it was starting
            self.child.send_signal(signal.SIGTERM)
        return self.child.wait()

    def _stop(self, signum, frame) -> None:
        self._stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signum)


def _die_with_parent() -> None:
    """In the child, before it runs: be sent SIGTERM if the supervisor dies (killed with
    SIGKILL, say), so that no worker outlives it unsupervised."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
