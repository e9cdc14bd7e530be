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


@app.periodic(cron="51 3 * * *", periodic_id="measure_completeness")
@app.task(
    name="meters.measure_completeness",
    queue="maintenance",
    queueing_lock="measure_completeness",
)
def measure_completeness(timestamp: int) -> int:
    """Every meter's completeness over the last 13 months (meters/completeness.py), nightly:
    the window moves on even for a meter whose readings do not. Returns how many measured."""
    from meters.completeness import completeness_measure

    return completeness_measure(today=datetime.fromtimestamp(timestamp, tz=UTC).date())
