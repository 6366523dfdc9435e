"""The bound every push retry wait keeps, wherever a schedule is set (the environment's
default, a channel's own). Plain Python: the settings module imports it."""

LONGEST_RETRY_WAIT = 7 * 86_400  # seconds


def is_retry_wait(wait) -> bool:
    """A number of seconds above 0 and up to 7 days."""
    return (
        not isinstance(wait, bool)
        and isinstance(wait, int | float)
        and 0 < wait <= LONGEST_RETRY_WAIT
    )
