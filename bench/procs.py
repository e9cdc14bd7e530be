"""Processes and their CPU time, read from /proc: the machine's busy time, each process's,
the intake's sampler by role (web, db), and the procrastinate workers that would share the CPUs.
"""

import os
from pathlib import Path


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (idle and I/O wait aside)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process; OSError when it is not on this machine."""
    _, ticks = _stat(pid)
    return ticks / os.sysconf("SC_CLK_TCK")


def proc_stats() -> dict[int, tuple[int, int]]:
    """Every visible process: pid -> (parent pid, user + system clock ticks)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stats[int(entry)] = _stat(int(entry))
        except OSError:
            continue
    return stats


def children(pid: int) -> list[int]:
    return [child for child, (parent, _) in proc_stats().items() if parent == pid]


def cpu_sampler(gunicorn_pid: int, connection):
    """A function returning CPU seconds used so far: by the whole machine, and per process of
    gunicorn (the web role) and of PostgreSQL serving the bench database (the db role)."""
    ticks = os.sysconf("SC_CLK_TCK")
    backend = connection.execute("SELECT pg_backend_pid()").fetchone()[0]
    local_database = backend in proc_stats()
    # The server may serve other databases: count the bench database's backends and the
    # server's own processes (WAL writer, checkpointer, ...), not other clients' backends.
    query = """
        SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() OR backend_type <> 'client backend'
    """

    def sample() -> dict:
        stats = proc_stats()
        totals = {"machine": machine_cpu_seconds()}
        web = [gunicorn_pid] + [pid for pid, (parent, _) in stats.items() if parent == gunicorn_pid]
        groups = {"web": web}
        if local_database:
            groups["db"] = [row[0] for row in connection.execute(query).fetchall()]
        for role, pids in groups.items():
            totals[role] = {pid: stats[pid][1] / ticks for pid in pids if pid in stats}
        return totals

    return sample


def worker_processes() -> list[str]:
    """Procrastinate workers running on this machine (they would steal CPU from the bench)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            arguments = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = b" ".join(arguments).decode(errors="replace")
        if "procrastinate" in text and "worker" in text:
            found.append(f"pid {entry}: {text.strip()[:80]}")
    return found


def _stat(pid: int) -> tuple[int, int]:
    """(parent pid, user + system clock ticks) from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])
