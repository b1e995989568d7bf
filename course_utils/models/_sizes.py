"""Checks of the size arguments of the model constructors (one message for all of them)."""

import numbers

__all__ = ["check_sizes"]


def check_sizes(minimum=1, **sizes):
    """Raise ``ValueError`` unless every ``name=value`` is an integer >= ``minimum``.

    ``None`` values are skipped (optional sizes). Returns nothing.
    """
    for name, value in sizes.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise ValueError(f"`{name}` must be {what}, got {value!r}.")
