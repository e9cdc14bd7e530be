"""`make bench`, backfill part: 13 months of one meter's half-hours stored through
meters.readings.readings_upsert, next to a raw COPY of the same rows into the same table.

Each round, on the bench database, in this process (Django set up with bench.settings):

    COPY               the rows COPYed (text format) into meters_intervalreading
    upsert, new        readings_upsert of the same rows, none stored yet
    upsert, re-fetch   readings_upsert again over them, every value revised
    upsert, unchanged  the same again: a re-fetch that brings no revision

each in a transaction, the upserts holding the meter's advisory lock, as the handler does.
Before COPY and before "new", the meter's readings are deleted and the table vacuumed, so
that both start from the same table and indexes. Rates are readings per second of the call's
wall time; the ratio is to COPY's rate in the same round. "db" is the wall time spent inside
psycopg's execute and COPY (adapting parameters, the round trip, the server's work), "python"
the rest of the call. The commit is timed apart (deferred foreign-key checks run there, one per
inserted row, for COPY and upsert alike). "others" is the CPU used during the call by other
processes than this one and its database backend, in % of the machine's CPUs: noise.

With --backfill-alternatives, the other ways weighed for readings_upsert (its implementation
before this bench among them, bench/backfill_alternatives.py) run in the same rounds, with the
same checks. The timing itself is bench/timing.py's.
"""

import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench import backfill_alternatives
from bench.timing import Sample, measure

# 13 months of half-hours, as in tests/openvolt's backfill: 397 days, 19,056 readings.
SPAN = (datetime(2023, 3, 28, tzinfo=UTC), datetime(2024, 4, 28, tzinfo=UTC))
GOAL_RATIO = 0.5
GOAL_DB_SECONDS = 1.0
METER_ID = "bench-backfill-meter"


class BackfillError(Exception):
    """The rows were not stored as given."""


@dataclass
class Case:
    name: str
    samples: list[Sample] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)


def run(
    env: dict[str, str],
    rounds: int,
    alternatives: bool = False,
    span: tuple[datetime, datetime] = SPAN,
) -> None:
    """Run the backfill bench on the migrated bench database that `env` points at, over
    `span` (bench.scale passes the last 13 months, where the seeded meters' readings are)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    try:
        _run(rounds, alternatives, span)
    finally:
        connection.close()


def _run(rounds: int, alternatives: bool, span: tuple[datetime, datetime]) -> None:
    from django.db import connection

    from meters.models import Meter
    from meters.partitions import reading_partitions_ensure
    from meters.readings import readings_upsert

    meter, _ = Meter.objects.get_or_create(external_id=METER_ID, meter_number="2000000000000")
    # As an item's fetch does, before its transaction: COPY would find no partition.
    reading_partitions_ensure(starts=span)
    fresh, revised = _readings(span, revision=0), _readings(span, revision=1)
    ways = {
        "upsert": readings_upsert,
        **(backfill_alternatives.alternatives() if alternatives else {}),
    }
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    print(
        f"\nBackfill: {len(fresh):,} half-hourly readings of one meter "
        f"({span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}), 1 warm-up round + {rounds} rounds"
    )
    print(f"\n{'round':<6}{COLUMNS}")
    cases: dict[str, Case] = {}
    for number in range(rounds + 1):
        measured = {"COPY": _copy(meter, fresh, backend)}
        for name, upsert in ways.items():
            measured[f"{name}, new"] = _upsert(upsert, meter, fresh, backend, reset=True)
            measured[f"{name}, re-fetch"] = _upsert(upsert, meter, revised, backend)
            measured[f"{name}, unchanged"] = _upsert(upsert, meter, revised, backend)
        if number == 0:
            continue  # The warm-up: imports, caches, the first connection's catalog look-ups.
        copy_rate = len(fresh) / measured["COPY"].wall
        for name, sample in measured.items():
            case = cases.setdefault(name, Case(name))
            case.samples.append(sample)
            case.ratios.append(len(fresh) / sample.wall / copy_rate)
            _print_row(str(number), name, len(fresh), sample, case.ratios[-1])
    _print_summary(list(cases.values()), len(fresh))


def _readings(span: tuple[datetime, datetime], revision: int) -> list[tuple[datetime, Decimal]]:
    """The backfill as the handler passes it: (start, kWh), kWh with 3 decimals as Openvolt's."""
    rng = random.Random(20240428)
    count = (span[1] - span[0]) // timedelta(minutes=30)
    return [
        (span[0] + timedelta(minutes=30 * i), Decimal(f"{rng.uniform(0, 4) + revision:.3f}"))
        for i in range(count)
    ]


def _reset(meter) -> None:
    """No readings for the meter, dead rows vacuumed: each run starts from the same table."""
    from django.db import connection

    from meters.models import IntervalReading, Meter

    IntervalReading.objects.filter(meter=meter).delete()
    Meter.objects.filter(pk=meter.pk).update(latest_reading_start=None)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {IntervalReading._meta.db_table}")


def _upsert(upsert: Callable, meter, rows, backend: int, reset: bool = False) -> Sample:
    from django.db import transaction

    from common.locks import advisory_locks_take
    from meters.models import IntervalReading, Meter

    if reset:
        _reset(meter)
    meter = Meter.objects.get(pk=meter.pk)  # As the handler has it: fresh from the database.
    with transaction.atomic():
        advisory_locks_take(keys=[f"meter:{meter.external_id}"])
        with measure(backend) as sample:
            stored = upsert(meter=meter, readings=rows)
        committing = time.perf_counter()
    sample.commit = time.perf_counter() - committing
    found = dict(
        IntervalReading.objects.filter(meter=meter).values_list("start", "consumption_kwh")
    )
    meter.refresh_from_db()
    if stored != len(rows) or found != dict(rows) or meter.latest_reading_start != rows[-1][0]:
        raise BackfillError(f"{upsert.__name__} did not store the readings as given")
    return sample


def _copy(meter, rows, backend: int) -> Sample:
    from django.db import connection, transaction
    from django.utils import timezone

    from meters.models import IntervalReading

    _reset(meter)
    now = timezone.now()
    statement = (
        f"COPY {IntervalReading._meta.db_table} "
        "(meter_id, start, consumption_kwh, fetched_at) FROM STDIN"
    )
    with transaction.atomic():
        with (
            connection.cursor() as cursor,
            measure(backend) as sample,
            cursor.cursor.copy(statement) as copy,
        ):
            for start, kwh in rows:
                copy.write_row((meter.pk, start, kwh, now))
        committing = time.perf_counter()
    sample.commit = time.perf_counter() - committing
    if IntervalReading.objects.filter(meter=meter).count() != len(rows):
        raise BackfillError("COPY did not store every reading")
    return sample


# The report

COLUMNS = (
    f"{'case':<32}{'readings/s':>11}{'ratio':>7}{'wall ms':>9}{'db ms':>7}{'python ms':>10}"
    f"{'commit ms':>10}{'others':>7}"
)


def _print_row(label: str, name: str, count: int, sample: Sample, ratio: float) -> None:
    print(
        f"{label:<6}{name:<32}{count / sample.wall:>11,.0f}{ratio:>7.2f}"
        f"{sample.wall * 1000:>9.0f}{sample.db * 1000:>7.0f}{sample.python * 1000:>10.0f}"
        f"{sample.commit * 1000:>10.0f}{sample.others:>6.0f}%",
        flush=True,
    )


def _print_summary(cases: list[Case], count: int) -> None:
    median = statistics.median
    print(
        f"\nMedian of {len(cases[0].samples)} round(s), {count:,} readings; goals: ratio to "
        f"COPY >= {GOAL_RATIO}, db < {GOAL_DB_SECONDS * 1000:.0f} ms:"
    )
    print(COLUMNS)
    for case in cases:
        samples = case.samples
        ratio, db = median(case.ratios), median(s.db for s in samples)
        missed = ["ratio below goal"] if ratio < GOAL_RATIO else []
        missed += ["db over goal"] if db >= GOAL_DB_SECONDS else []
        verdict = "" if case.name == "COPY" else "  " + (", ".join(missed) or "met")
        print(
            f"{case.name:<32}{median(count / s.wall for s in samples):>11,.0f}{ratio:>7.2f}"
            f"{median(s.wall for s in samples) * 1000:>9.0f}{db * 1000:>7.0f}"
            f"{median(s.python for s in samples) * 1000:>10.0f}"
            f"{median(s.commit for s in samples) * 1000:>10.0f}"
            f"{median(s.others for s in samples):>6.0f}%{verdict}"
        )
    print(
        "wall = db (inside psycopg's execute and COPY) + python, commit not included; "
        "others: CPU used by other processes during the call."
    )
