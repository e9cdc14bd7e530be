"""The lines of progress a run prints, each timed from the start of the run."""

import time
from collections.abc import Callable


class Progress:
    def __init__(self, *, say: Callable[[str], None]):
        self.say = say
        self.started = time.monotonic()

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:.0f} s"
