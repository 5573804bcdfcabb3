"""The root of every error the package raises on purpose, so ``except TfgrpoError`` catches them all.

Each specific error also keeps the built-in base it always had (``TaskFileError`` is still a
``ValueError``), so existing ``except ValueError`` code goes on working.
"""

from __future__ import annotations


class TfgrpoError(Exception):
    """Something the package detected and explained: bad input, a failed run, a missing component."""
