"""The mirror's periodic jobs (procrastinate imports each app's `tasks` module)."""

from datetime import UTC, datetime

from procrastinate.contrib.django import app


@app.periodic(cron="41 3 * * *", periodic_id="create_reading_partitions")
@app.task(
    name="meters.create_reading_partitions",
    queue="maintenance",
    queueing_lock="create_reading_partitions",
)
def create_reading_partitions(timestamp: int) -> list[str]:
    """The readings' partitions of this month and the next ones (meters/partitions.py), daily:
    a month is there well before its first half-hour arrives. Returns those created."""
    from meters.partitions import reading_partitions_ahead

    return reading_partitions_ahead(today=datetime.fromtimestamp(timestamp, tz=UTC).date())
