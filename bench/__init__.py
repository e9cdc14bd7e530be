"""`make bench`: the intake's throughput against a bare Django view, both served by gunicorn.

What the bench's modules share: where the project lives, the settings its processes run
with, the bare view's address and the error that stops a bench.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
SETTINGS_MODULE = "bench.settings"
# The Fernet key of the bench's processes (SECRETS_ENCRYPTION_KEY), as throwaway as their
# SECRET_KEY.
BENCH_ENCRYPTION_KEY = "YmVuY2gtb25seS1ub3Qtc2VjcmV0LWtleS0zMmJ5dGU="
# The baselines' addresses; bench.urls serves them, the runner posts to them.
BARE_PATH = "/bench/bare/"
FLOOR_PATH = "/bench/floor/"
# The floor view's table: created in the bench database by bench.intake.
FLOOR_TABLE = "bench_floor"


class BenchError(Exception):
    """The bench cannot run: a database server out of reach, a command or a server failing."""
