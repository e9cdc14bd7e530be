"""The worker's supervisor (events/supervisor.py) with stand-in children and a stand-in
database; tests/events/test_fault_drill.py runs it for real against a crashed PostgreSQL."""

import logging
import signal
import subprocess
import sys
import threading

import pytest
from django.conf import settings

from events.supervisor import WorkerSupervisor
from tests.support.waiting import wait_for


def supervisor_of(script: str, **options) -> WorkerSupervisor:
    options.setdefault("reachable", lambda: "")
    return WorkerSupervisor(
        [sys.executable, "-c", script], first_wait=0.01, longest_wait=0.05, **options
    )


def run_in_background(supervisor: WorkerSupervisor) -> tuple[threading.Thread, list[int]]:
    statuses = []
    thread = threading.Thread(target=lambda: statuses.append(supervisor._supervise()))
    thread.start()
    return thread, statuses


def test_a_child_that_stops_by_itself_is_started_again(caplog):
    supervisor = supervisor_of("import sys; sys.exit(0)")
    thread, _ = run_in_background(supervisor)

    wait_for(lambda: supervisor.starts >= 3, timeout=30, what="three starts")
    supervisor.stop()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert "The worker stopped by itself (exit status 0" in caplog.text


def test_an_unreachable_database_is_awaited_and_said_once(caplog):
    answers = iter(["connection refused"] * 5)
    supervisor = supervisor_of("import time; time.sleep(60)", reachable=lambda: next(answers, ""))
    caplog.set_level(logging.INFO, logger="events.supervisor")
    thread, statuses = run_in_background(supervisor)

    wait_for(lambda: supervisor.starts == 1, timeout=30, what="the worker to start")
    supervisor.stop()
    thread.join(timeout=30)

    assert caplog.text.count("The database is unreachable (connection refused)") == 1
    assert caplog.text.count("The database answers again") == 1
    assert statuses == [-signal.SIGTERM]


def test_no_child_is_started_when_a_stop_comes_during_an_outage():
    supervisor = supervisor_of("import sys; sys.exit(0)", reachable=lambda: "down")
    thread, statuses = run_in_background(supervisor)

    supervisor.stop()
    thread.join(timeout=30)

    assert supervisor.starts == 0
    assert statuses == [0]


def test_a_stop_reaches_the_child_once_and_its_status_is_returned(tmp_path):
    signals = tmp_path / "signals"
    script = (
        "import signal, sys, time\n"
        f"def leave(signum, frame):\n"
        f"    open({str(signals)!r}, 'a').write(str(signum) + '\\n')\n"
        "    sys.exit(3)\n"
        "signal.signal(signal.SIGTERM, leave)\n"
        f"open({str(signals)!r}, 'w').close()\n"
        "time.sleep(60)\n"
    )
    supervisor = supervisor_of(script)
    thread, statuses = run_in_background(supervisor)
    wait_for(signals.exists, timeout=30, what="the child to be ready")

    supervisor.stop()
    thread.join(timeout=30)

    assert signals.read_text() == f"{int(signal.SIGTERM)}\n"
    assert statuses == [3]
    assert supervisor.starts == 1


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_the_child_does_not_outlive_its_supervisor(tmp_path):
    """Killed with SIGKILL, the supervisor cannot pass a stop on: its child is told by the
    kernel instead."""
    marker = tmp_path / "child.pid"
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from events.supervisor import WorkerSupervisor; "
            "WorkerSupervisor([sys.executable, '-c', "
            f"\"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); "
            "time.sleep(60)\"], reachable=lambda: '').run()",
        ],
        cwd=settings.BASE_DIR,
    )
    wait_for(lambda: marker.exists() and marker.read_text(), timeout=30, what="the child")
    child_pid = int(marker.read_text())

    supervisor.kill()
    supervisor.wait()

    def child_gone():
        try:
            with open(f"/proc/{child_pid}/stat") as stat:  # "Z": exited, not yet reaped
                return stat.read().split()[2] == "Z"
        except FileNotFoundError:
            return True

    wait_for(child_gone, timeout=30, what="the child to stop")
