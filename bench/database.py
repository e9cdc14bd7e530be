"""The bench's scratch database: `<name>_bench` beside the database DATABASE_URL names,
created and migrated for a run, dropped after it, and the processes that work in it.

    with scratch_database(database_url) as (bench_url, bench_name, version, env):
        manage(env, "create_webhook_endpoint", "--source", "openvolt")

`env` is the environment a Switchboard process needs against it (server_env): the bench's
settings, DEBUG off, a throwaway key.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, quote, unquote, urlsplit

import psycopg
from psycopg import sql

from bench import BASE_DIR, BENCH_ENCRYPTION_KEY, SETTINGS_MODULE, BenchError


@contextmanager
def scratch_database(
    database_url: str, *, keep: bool = False
) -> Iterator[tuple[str, str, str, dict[str, str]]]:
    """Create and migrate the bench database; yield (bench_url, bench_name, version, env).

    The database is dropped at the end, even after an error, unless `keep`.
    """
    bench_url, bench_name = bench_database_url(database_url)
    created = False
    try:
        print(f"Preparing database {bench_name} ...", flush=True)
        version = create_database(database_url, name=bench_name)
        created = True
        env = server_env(bench_url)
        manage(env, "migrate", "--no-input")
        yield bench_url, bench_name, version, env
    finally:
        if created and not keep:
            drop_database(database_url, name=bench_name)


def bench_database_url(database_url: str, *, suffix: str = "bench") -> tuple[str, str]:
    """The bench database's URL and name: the name DATABASE_URL gives, with `_<suffix>`."""
    parts = urlsplit(database_url)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise SystemExit(f"DATABASE_URL names no database: {database_url}")
    bench_name = f"{name}_{suffix}"
    return parts._replace(path="/" + quote(bench_name)).geturl(), bench_name


def create_database(database_url: str, *, name: str) -> str:
    """Create the database `name` afresh on the server of `database_url`; return the server's
    version."""
    with _maintenance_connection(database_url) as connection:
        _drop(connection, name)
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return connection.execute("SHOW server_version").fetchone()[0]


def database_exists(database_url: str, *, name: str) -> bool:
    with _maintenance_connection(database_url) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return found.fetchone() is not None


def drop_database(database_url: str, *, name: str) -> None:
    """Drop the database `name`, its connections closed; a failure is said, not raised."""
    try:
        with _maintenance_connection(database_url) as connection:
            _drop(connection, name)
    except (BenchError, psycopg.Error) as error:
        print(f"could not drop the bench database {name}: {error}", file=sys.stderr)


def describe_server(database_url: str) -> str:
    """Where the database server listens, for the report: host:port or a unix socket."""
    parts = urlsplit(database_url)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if socket_dir.startswith("/") or not parts.hostname:
        return f"unix socket {socket_dir or '(default)'}"
    return f"{parts.hostname}:{parts.port or 5432}"


def server_env(bench_url: str) -> dict[str, str]:
    """This process's environment, made fit for a Switchboard process on the bench database."""
    env = dict(os.environ)
    env.pop("GUNICORN_CMD_ARGS", None)  # `make run` may have left --reload there.
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        SECRET_KEY="bench-only-not-secret",
        SECRETS_ENCRYPTION_KEY=BENCH_ENCRYPTION_KEY,
        DEBUG="false",
        # Plain HTTP, as from the TLS proxy in front of a deployment: no redirect to https.
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=bench_url,
        PYTHONPATH=str(BASE_DIR),
    )
    return env


def manage(env: dict[str, str], *arguments: str) -> str:
    """Run `manage.py` with `arguments` in `env`; return its output, raise BenchError on
    failure."""
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise BenchError(f"manage.py {arguments[0]} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _maintenance_connection(database_url: str) -> psycopg.Connection:
    parts = urlsplit(database_url)
    last_error = None
    for name in ("postgres", "template1"):
        try:
            return psycopg.connect(parts._replace(path="/" + name).geturl(), autocommit=True)
        except psycopg.OperationalError as error:
            last_error = error
    raise BenchError(f"cannot reach the database server: {last_error}")


def _drop(connection: psycopg.Connection, name: str) -> None:
    connection.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )
