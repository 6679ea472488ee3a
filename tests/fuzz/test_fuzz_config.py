"""Fuzzing the config loader and the ``--set`` parser: any YAML text, any tree of values under the
real keys, any ``KEY=VALUE`` text either gives a validated RunConfig (holding no NaN or infinity)
or a one-line ConfigError (a DcptError), never another exception.
"""

import copy
import dataclasses
import math
import tempfile
import typing
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dcpt.config import RunConfig, config_from_dict, config_to_dict, load_config
from dcpt.errors import DcptError

BASE = {"data": {"train": [{"clean": "samples", "classes": [{"name": "rain"}]}]}}


def _paths(cls, prefix=""):
    """Every dotted key of the config tree (list items as ``.0``)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        tp = hints[f.name]
        inner = typing.get_args(tp)[0] if typing.get_origin(tp) in (list, typing.List) else None
        if dataclasses.is_dataclass(tp):
            yield from _paths(tp, path + ".")
        elif inner is not None and dataclasses.is_dataclass(inner):
            yield path
            yield from _paths(inner, path + ".0.")
        else:
            yield path


KEYS = sorted(_paths(RunConfig))

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["auto", "cpu", "skip", "error", "dcpt", "1e-3", "nan", ".inf", "[1, 2]", "{}"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _ok_or_one_line(call):
    try:
        cfg = call()
    except DcptError as exc:
        assert "\n" not in str(exc).strip()
        return None
    assert isinstance(cfg, RunConfig)
    assert all(math.isfinite(v) for v in _floats(config_to_dict(cfg))), "a NaN or infinity got through"
    return cfg


def _floats(tree):
    if isinstance(tree, float):
        yield tree
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _floats(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _floats(v)


@given(text=st.text(max_size=200))
def test_any_yaml_text(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_text(text)
        _ok_or_one_line(lambda: load_config(path))


@given(
    text=st.lists(
        st.tuples(
            st.sampled_from(["model", "data", "train", "optim", "out", "  -", "data:\n  train"]), SCALARS
        ),
        max_size=4,
    ).map(lambda items: "\n".join(f"{k}: {v!r}" for k, v in items))
)
def test_yaml_shaped_text(text):
    test_any_yaml_text.hypothesis.inner_test(text)


def _put(raw: dict, key: str, value) -> None:
    """Set dotted `key` in `raw`, making dicts on the way (``.0`` indexes a list that exists)."""
    node = raw
    *parents, last = key.split(".")
    for part in parents:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            return
    if isinstance(node, dict):
        node[last] = value


@given(overrides=st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=4))
def test_any_value_under_real_keys(overrides):
    raw = copy.deepcopy(BASE)
    for key, value in overrides:
        _put(raw, key, value)
    _ok_or_one_line(lambda: config_from_dict(raw))


@given(
    key=st.one_of(st.sampled_from(KEYS), st.text(max_size=20)),
    value=st.one_of(
        st.text(max_size=20), st.sampled_from(["nan", "-.inf", "1e999", "[", "{a: 1}", "0x1F", "~"])
    ),
)
def test_any_set_override(key, value):
    _ok_or_one_line(lambda: config_from_dict(BASE, [f"{key}={value}"]))


@given(text=st.text(max_size=40))
def test_any_override_text(text):
    _ok_or_one_line(lambda: config_from_dict(BASE, [text]))


def test_the_base_config_is_valid():
    """The harness itself: the tree the fuzzer starts from loads, so rejections are about the fuzz."""
    assert _ok_or_one_line(lambda: config_from_dict(BASE)) is not None
