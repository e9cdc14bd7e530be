"""The gunicorn server the intake part measures: config.wsgi on a free local port, started
with the workers asked for, ready once every worker is up, stopped at the end.
"""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import BARE_PATH, BASE_DIR, BenchError
from bench.load import HOST
from bench.procs import children

SERVER_START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(options, env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    """Start gunicorn (options.workers, options.worker_class, options.threads), its output
    in `log_path`; return once the bare view answers and every worker is up."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(options.workers),
        "--worker-class",
        options.worker_class,
    ]
    if options.worker_class == "gthread":
        command += ["--threads", str(options.threads)]
    log = log_path.open("wb")
    server = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"gunicorn exited with {server.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}{BARE_PATH}", timeout=2) as answer:
                # Every worker must be up, not only the first to answer.
                if answer.status == 200 and len(children(server.pid)) >= options.workers:
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise BenchError(f"gunicorn did not answer within {SERVER_START_TIMEOUT} s:\n{_tail(log_path)}")


def stop_server(server: subprocess.Popen) -> None:
    """Stop the server if it still runs (again is harmless): terminate, then kill."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
