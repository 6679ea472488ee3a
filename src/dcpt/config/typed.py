"""Plain dicts (from YAML) -> typed dataclasses, with errors that name the dotted path.

The schema is the dataclasses themselves: their field types say what each key accepts and their
defaults are the only defaults. Supported field types: bool, int, float, str, Literal[...],
Optional[X], Tuple[X, ...], Tuple[X, Y], List[X], Dict[str, Any] and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from typing import Any, Dict, List, Tuple

import yaml

from ..errors import ConfigError

_NONE = type(None)


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if tp is _NONE:
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin is typing.Union:
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)} ({', '.join(_type_name(a) for a in args)})"
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _got(value) -> str:
    return (
        f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__
    )


def _mismatch(path: str, tp, value) -> ConfigError:
    return ConfigError(f"config key {path!r}: expected {_type_name(tp)}, got {_got(value)}")


def _yaml11_float(text: str):
    """PyYAML reads ``1e-4`` (no dot) as a string, a YAML 1.1 quirk; accept it as the number it means."""
    try:
        return float(text)
    except ValueError:
        return text


def convert(tp, value, path: str):
    """Check `value` against type `tp` and return it converted (lists -> tuples, dicts -> dataclasses)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise _mismatch(path, tp, value)
        return from_dict(tp, value, path)
    if origin is typing.Union:
        args = typing.get_args(tp)
        if value is None and _NONE in args:
            return None
        errors = []
        for arg in args:
            if arg is _NONE:
                continue
            try:
                return convert(arg, value, path)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise _mismatch(path, tp, value)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"config key {path!r}: expected one of {', '.join(map(repr, choices))}, got {value!r}{hint}"
            )
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _mismatch(path, tp, value)
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _mismatch(path, tp, value)
            return tuple(convert(a, v, f"{path}.{i}") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [convert(item, v, f"{path}.{i}") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise _mismatch(path, tp, value)
        key_tp, value_tp = typing.get_args(tp) or (Any, Any)
        return {convert(key_tp, k, path): convert(value_tp, v, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise _mismatch(path, tp, value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _mismatch(path, tp, value)
        return value
    if tp is float:
        if isinstance(value, str):
            value = _yaml11_float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _mismatch(path, tp, value)
        try:
            number = float(value)
        except OverflowError:  # an integer literal beyond the float range
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(f"config key {path!r}: expected a finite number, got {_got(value)[:60]}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise _mismatch(path, tp, value)
        return value
    raise TypeError(f"unsupported config field type {tp!r} at {path}")


def from_dict(cls, data: Dict[str, Any], path: str = ""):
    """Build dataclass `cls` from `data`; unknown keys raise naming the path and the closest valid key."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in data:
        if key not in names:
            full = f"{path}.{key}" if path else str(key)
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
            hint = f"; did you mean {(path + '.' if path else '') + close[0]!r}?" if close else ""
            raise ConfigError(f"unknown config key {full!r}{hint} (valid keys here: {', '.join(names)})")
    kwargs = {k: convert(hints[k], v, f"{path}.{k}" if path else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        missing = [n for n in names if n not in kwargs]
        raise ConfigError(
            f"config section {path or '<root>'!r} needs key(s) {', '.join(missing)}: {exc}"
        ) from None


def to_dict(obj) -> Any:
    """Dataclasses -> plain dicts/lists of YAML scalars (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def parse_override(text: str) -> Tuple[List[str], Any]:
    """Split ``"a.b=value"`` into (["a", "b"], value parsed as a YAML scalar) (nanoGPT's --key=value habit)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"bad override {text!r}: expected KEY=VALUE such as train.steps=100")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_override(raw: Dict[str, Any], keys: List[str], value: Any) -> None:
    """Set `value` at dotted `keys` inside the raw dict; a numeric key indexes a list."""
    node: Any = raw
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(
                    f"override {'.'.join(keys)!r}: {'.'.join(keys[:depth]) or '<root>'} has {len(node)} item(s), no index {key!r}"
                )
            index = int(key)
            if last:
                node[index] = value
            else:
                node[index] = node[index] if node[index] is not None else {}
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                if node.get(key) is None:
                    node[key] = {}
                node = node[key]
        else:
            raise ConfigError(
                f"override {'.'.join(keys)!r}: {'.'.join(keys[:depth])!r} is a value, not a section"
            )
