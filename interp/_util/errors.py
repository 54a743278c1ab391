"""The one exception type a user can cause; the CLI prints its message as a single line and exits 2."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, with one sentence saying what is wrong and how to fix it.

    >>> str(UserError("Unknown model 'x'; use one of: a, b."))
    "Unknown model 'x'; use one of: a, b."
    """
