"""``python -m onsagerflow``: the same entry point as the ``onsagerflow`` command."""

from .cli import entry

entry()
