"""One name -> object registry, shared by models, degradations and metrics.

Borrowed habit from timm: plain dicts filled by a decorator; an unknown name raises with the
closest matches; a duplicate registration raises, so two modules cannot silently shadow each other.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, Generic, Iterator, List, TypeVar

from .errors import DcptError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names (and aliases) to registered objects of one kind, e.g. 'model' or 'degradation'."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: Dict[str, T] = {}
        self._aliases: Dict[str, str] = {}

    def add(self, name: str, item: T, aliases: tuple = ()) -> T:
        for key in (name, *aliases):
            if key in self._items or key in self._aliases:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
        self._items[name] = item
        for alias in aliases:
            self._aliases[alias] = name
        return item

    def register(self, name: str, aliases: tuple = ()) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def wrap(item: T) -> T:
            return self.add(name, item, aliases)

        return wrap

    def canonical(self, name: str) -> str:
        """The registered name for `name` or one of its aliases; raises DcptError if unknown."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        candidates = list(self._items) + list(self._aliases)
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise DcptError(f"unknown {self.kind} {name!r}.{hint} Valid names: {', '.join(sorted(self._items))}")

    def get(self, name: str) -> T:
        return self._items[self.canonical(name)]

    def names(self) -> List[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self):
        return self._items.items()


def drop_none(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Drop None-valued keyword arguments so that defaults survive unset CLI options (timm habit)."""
    return {k: v for k, v in kwargs.items() if v is not None}
