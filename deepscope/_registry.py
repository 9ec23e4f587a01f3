"""One lookup for every "name -> object" table (activation='relu', optimizer='adam', ...).

A string is looked up (case-insensitive, ``-`` and ``_`` ignored); a callable or module passes
through unchanged; anything else raises an error that lists the valid names.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Iterable


def _normalize(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")


class UnknownNameError(ValueError):
    """Raised when a name is not in a registry; the message lists the valid names."""


class Registry:
    """A ``name -> object`` table.

    Args:
        kind: what the table holds, used in error messages ("activation", "loss", ...).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._display: dict[str, str] = {}  # normalized -> first spelling registered

    def register(self, *names: str) -> Callable[[Any], Any]:
        """Decorator registering an object under one or more names."""

        def decorator(obj: Any) -> Any:
            for name in names:
                self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: Any) -> None:
        """Register ``obj`` under ``name`` (an existing name is an error)."""
        key = _normalize(name)
        if key in self._items and self._items[key] is not obj:
            raise ValueError(f"{self.kind} name {name!r} is already registered")
        self._items[key] = obj
        self._display.setdefault(key, name)

    def names(self) -> list[str]:
        """The registered names, as first spelled, sorted."""
        return sorted(self._display.values(), key=str.lower)

    def items(self) -> Iterable[tuple[str, Any]]:
        return ((self._display[k], v) for k, v in self._items.items())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize(name) in self._items

    def get(self, identifier: Any, where: str | None = None) -> Any:
        """Look up ``identifier``.

        Args:
            identifier: a registered name, or a callable / object that passes through.
            where: the argument and layer asking, for the error message
                (e.g. ``"fully_connected 'FullyConnected_1' activation"``).

        Returns:
            The registered object, or ``identifier`` itself when it is not a string.
        """
        if isinstance(identifier, str):
            key = _normalize(identifier)
            if key in self._items:
                return self._items[key]
            raise UnknownNameError(self._unknown_message(identifier, where))
        if callable(identifier):
            return identifier
        prefix = f"{where}: " if where else ""
        raise TypeError(
            f"{prefix}expected a {self.kind} name (str) or a callable, "
            f"got {type(identifier).__name__} {identifier!r}. Valid names: {', '.join(self.names())}."
        )

    def _unknown_message(self, name: str, where: str | None) -> str:
        prefix = f"{where}: " if where else ""
        close = difflib.get_close_matches(_normalize(name), list(self._items), n=1, cutoff=0.6)
        hint = f" Did you mean {self._display[close[0]]!r}?" if close else ""
        return (
            f"{prefix}unknown {self.kind} {name!r}.{hint} "
            f"Valid names: {', '.join(self.names())}."
        )
