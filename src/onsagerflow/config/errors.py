"""The one exception a config problem raises."""

from __future__ import annotations

from typing import Any

from ..errors import UserError


class ConfigError(UserError, ValueError):
    """A config that cannot work; the message is one line naming the key path (or the file
    and line of a YAML error) and what is allowed. ``path``: the key path, where known."""

    def __init__(self, message: str, path: tuple[Any, ...] = ()):
        super().__init__(message)
        self.path = tuple(path)
