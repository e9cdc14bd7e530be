"""gunicorn's configuration for the `web:` line of the Procfile (`gunicorn -c config/gunicorn.py`).

Its job is the Prometheus multiprocess directory: set before any process imports
prometheus-client, cleared of dead processes' files at start, and told when a worker process
exits so that its live gauges stop counting (its counters stay: they only grow). gunicorn's
own lines (the access log included) mask endpoint ids, as Switchboard's do, and with
LOG_FORMAT=json they are JSON too.
Everything else (bind, workers, threads) stays on the command line of the Procfile.
"""

import os
import sys
from pathlib import Path

import environ

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gunicorn.glogging import Logger

from common.logs import EndpointIdFilter, JsonFormatter
from config.metrics_dir import metrics_dir_ensure, metrics_dir_prune

# As the settings do: a .env file holds LOG_FORMAT and PROMETHEUS_MULTIPROC_DIR too.
environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env")
_directory = metrics_dir_ensure()


def on_starting(server):
    removed = metrics_dir_prune(_directory)
    server.log.info(
        "Prometheus multiprocess directory %s (%d stale files removed)", _directory, removed
    )


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class SwitchboardLogger(Logger):
    """gunicorn's error and access logs, with endpoint ids masked on every handler (the access
    log's request line holds the path, `/webhooks/<endpoint id>/`), and as JSON objects, one a
    line, with LOG_FORMAT=json."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter = None
        if os.environ.get("LOG_FORMAT") == "json":
            formatter = JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, EndpointIdFilter) for f in handler.filters):
                    handler.addFilter(EndpointIdFilter())
                if formatter is not None:
                    handler.setFormatter(formatter)


logger_class = SwitchboardLogger
