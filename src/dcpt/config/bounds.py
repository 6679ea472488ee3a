"""Ranges declared next to the config fields they bound, and the one walk that checks them.

A field says what it accepts where it is declared (``lr: float = bounded(2e-4, gt=0)``), so the
schema reads as its own documentation and no separate list of checks can drift from it. Bounds
apply to a number, to each number of a tuple or list, and to each value of a mapping; None (an
optional field left unset) is never checked. Non-finite numbers are refused by the type layer
(`typed.convert`) before any bound is looked at.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Tuple

from ..errors import ConfigError

BOUNDS_KEY = "dcpt_bounds"


@dataclass(frozen=True)
class Bounds:
    """An interval; `gt` / `lt` are open ends, `ge` / `le` closed ones."""

    ge: Optional[float] = None
    gt: Optional[float] = None
    le: Optional[float] = None
    lt: Optional[float] = None

    def holds(self, value: float) -> bool:
        """Exact for integers of any size (no conversion to float, which overflows past 1e308)."""
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.ge is not None and value < self.ge:
            return False
        if self.gt is not None and value <= self.gt:
            return False
        if self.le is not None and value > self.le:
            return False
        return not (self.lt is not None and value >= self.lt)

    def describe(self) -> str:
        low = f">= {self.ge:g}" if self.ge is not None else (f"> {self.gt:g}" if self.gt is not None else "")
        high = f"<= {self.le:g}" if self.le is not None else (f"< {self.lt:g}" if self.lt is not None else "")
        return " and ".join(part for part in (low, high) if part) or "a finite number"


def bounded(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    ge: Optional[float] = None,
    gt: Optional[float] = None,
    le: Optional[float] = None,
    lt: Optional[float] = None,
) -> Any:
    """A dataclass field with a default and a declared range (see `Bounds`)."""
    metadata = {BOUNDS_KEY: Bounds(ge=ge, gt=gt, le=le, lt=lt)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _numbers(value: Any, path: str) -> Iterator[Tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}.{i}")
    elif value is not None:
        yield path, value


def check_bounds(obj: Any, path: str = "") -> None:
    """Walk a config tree (dataclasses, lists of them) and raise `ConfigError` naming the first
    dotted key whose value lies outside its declared range."""
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            check_bounds(item, f"{path}.{i}")
        return
    if not dataclasses.is_dataclass(obj):
        return
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{path}.{f.name}" if path else f.name
        bounds = f.metadata.get(BOUNDS_KEY)
        if bounds is not None:
            for where, number in _numbers(value, key):
                if isinstance(number, bool) or not isinstance(number, (int, float)):
                    continue
                if not bounds.holds(number):
                    shown = (
                        str(number) if len(str(number)) <= 24 else f"{str(number)[:20]}... (a huge number)"
                    )
                    raise ConfigError(f"config key {where!r}: expected {bounds.describe()}, got {shown}")
        else:
            check_bounds(value, key)
