"""The statements with which PostgreSQL generates deliveries and readings, one file each."""

from importlib.resources import files


def statement_variants(*, name: str, on_conflict: str) -> dict[bool, str]:
    """The statement in `name`, keyed by whether it tops up tables that hold demo rows already.

    Into tables without demo rows yet, nothing can conflict: checking costs a third of the time.
    """
    template = (files(__package__) / name).read_text()
    return {
        False: template.replace("{on_conflict}", ""),
        True: template.replace("{on_conflict}", on_conflict),
    }
