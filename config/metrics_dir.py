"""Where the processes of one machine share their Prometheus counters (multiprocess mode).

prometheus-client reads PROMETHEUS_MULTIPROC_DIR when it is first imported, so the settings
and the gunicorn configuration call `metrics_dir_ensure()` before anything imports it. When
the operator sets nothing, every process started from this checkout by the same user (the web
processes, the workers, the tests) meets in one directory under the system's temporary one.
"""

import hashlib
import os
import re
import tempfile
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_BASE_DIR = Path(__file__).resolve().parent.parent
# prometheus-client names its files <kind>_<pid>.db, or live<kind>_<pid>.db for live gauges.
_FILE = re.compile(r"^[a-z_]+_(\d+)\.db$")


def metrics_dir_ensure() -> Path:
    """The shared directory, created if missing; sets the variable when it was unset."""
    if not os.environ.get(VARIABLE):
        checkout = hashlib.sha256(str(_BASE_DIR).encode()).hexdigest()[:10]
        user = os.getuid() if hasattr(os, "getuid") else "user"
        os.environ[VARIABLE] = str(
            Path(tempfile.gettempdir()) / f"switchboard-metrics-{user}-{checkout}"
        )
    path = Path(os.environ[VARIABLE])
    path.mkdir(parents=True, exist_ok=True)
    return path


def metrics_dir_prune(path: Path) -> int:
    """Remove the files of processes that no longer run; returns how many.

    Run when gunicorn starts: a previous run's files would otherwise pile up (one set per
    process ever started). Files of running processes (a worker started a moment before the
    web, say) are left alone, so the counters they are writing stay counted.
    """
    removed = 0
    for file in path.glob("*.db"):
        match = _FILE.match(file.name)
        if match and not _running(int(match.group(1))):
            file.unlink(missing_ok=True)
            removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
