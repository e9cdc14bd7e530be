"""Timing a block of database work in this process, as the backfill part reports it: the wall
time, the part of it spent inside psycopg's execute and COPY, and the CPU other processes used
meanwhile.
"""

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from bench.procs import machine_cpu_seconds, process_cpu_seconds


@dataclass
class Sample:
    wall: float = 0.0
    db: float = 0.0
    commit: float = 0.0
    others: float = float("nan")

    @property
    def python(self) -> float:
        return self.wall - self.db


@contextmanager
def measure(backend: int):
    """Time the block, and the part of it spent inside psycopg's execute and COPY, whether
    Django's cursor or a raw psycopg one runs the statement. `backend` is the pid of the
    connection's database backend: its CPU is the block's own, not others'."""
    sample = Sample()
    execute, copy = psycopg.Cursor.execute, psycopg.Cursor.copy

    def timed_execute(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return execute(self, *args, **kwargs)
        finally:
            sample.db += time.perf_counter() - began

    @contextmanager
    def timed_copy(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            with copy(self, *args, **kwargs) as copying:
                yield copying
        finally:
            sample.db += time.perf_counter() - began

    psycopg.Cursor.execute, psycopg.Cursor.copy = timed_execute, timed_copy
    cpu_before = _cpu(backend)
    began = time.perf_counter()
    try:
        yield sample
    finally:
        sample.wall = time.perf_counter() - began
        psycopg.Cursor.execute, psycopg.Cursor.copy = execute, copy
        cpu_after = _cpu(backend)
        if None not in (cpu_before, cpu_after):
            used = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
            machine, own = used[0], used[1] + used[2]
            capacity = sample.wall * len(os.sched_getaffinity(0))
            sample.others = max(0.0, machine - own) / capacity * 100


def _cpu(backend: int) -> tuple[float, float, float] | None:
    """CPU seconds so far: the machine's, this process's, and the database backend's (None
    when the database is not on this machine)."""
    try:
        return machine_cpu_seconds(), time.process_time(), process_cpu_seconds(backend)
    except OSError:
        return None
