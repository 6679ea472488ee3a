"""Fuzzing the degradation catalogue: every registered op, on images from 1 x 1 pixel up and at any
level in (and at the edges of) its range, returns an image of the input's shape, finite, in [0, 1];
a level outside its range, NaN or infinite, is refused with a DcptError. Also the mixture parser:
any text is a list of stages or a one-line DcptError.
"""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dcpt.degrade import DEGRADATIONS, apply, parse_mixture
from dcpt.errors import DcptError

OPS = DEGRADATIONS.names()

SIDES = st.one_of(st.integers(1, 4), st.integers(5, 40))


def _levels(spec):
    lo, hi = float(spec.level_min), float(spec.level_max)
    return st.one_of(st.sampled_from([lo, hi, (lo + hi) / 2]), st.floats(lo, hi, allow_nan=False))


def _image(batch: int, height: int, width: int, seed: int) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _check(out: torch.Tensor, img: torch.Tensor) -> None:
    assert out.shape == img.shape and out.dtype == img.dtype
    assert bool(torch.isfinite(out).all()), "non-finite output"
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


@pytest.mark.parametrize("name", OPS)
@given(data=st.data(), height=SIDES, width=SIDES, batch=st.integers(1, 2), seed=st.integers(0, 2**31))
def test_every_op_on_every_size_and_level(name, data, height, width, batch, seed):
    spec = DEGRADATIONS.get(name)
    level = data.draw(_levels(spec), label="level")
    img = _image(batch, height, width, seed)
    try:
        out = apply(name, img, level, generator=torch.Generator().manual_seed(seed))
    except DcptError as exc:
        assert "\n" not in str(exc)
        return
    _check(out, img)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("height,width", [(1, 1), (1, 17), (17, 1), (2, 2)])
def test_thin_images(name, height, width):
    """Images 1 pixel high or wide (mosaic and raindrop raised a padding RuntimeError, issue 21)."""
    spec = DEGRADATIONS.get(name)
    img = _image(1, height, width, 0)
    for level in (spec.level_min, spec.level_max):
        try:
            _check(apply(name, img, level, generator=torch.Generator().manual_seed(0)), img)
        except DcptError:
            pass  # refused with one line: allowed ("works, or says why not")


@pytest.mark.parametrize("name", OPS)
@given(level=st.one_of(st.sampled_from([float("nan"), float("inf"), -float("inf")]), st.floats()))
def test_levels_outside_the_range_are_refused(name, level):
    spec = DEGRADATIONS.get(name)
    margin = 2e-6 * max(1.0, abs(spec.level_max))  # the catalogue forgives float32 round-off at the ends
    inside = spec.level_min <= level <= spec.level_max
    outside = not spec.level_min - margin <= level <= spec.level_max + margin
    img = _image(1, 8, 8, 0)
    try:
        out = apply(name, img, level, generator=torch.Generator().manual_seed(0))
    except DcptError as exc:
        assert not inside and "\n" not in str(exc)
        return
    assert not outside, f"{name} accepted level {level!r} outside [{spec.level_min}, {spec.level_max}]"
    _check(out, img)


MIXTURE_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.tuples(
            st.sampled_from([*OPS[:6], "gaussian_blur", "jpeg", "", " ", "nope", "JPEG"]),
            st.sampled_from(["", ":", ":2", ":-1", ":nan", ":inf", ":1e400", ":0x10", ": 3", ":3:4"]),
        ),
        max_size=4,
    ).map(lambda stages: ",".join(n + lv for n, lv in stages)),
)


@given(text=MIXTURE_TEXT)
def test_mixture_parser_returns_stages_or_one_line(text):
    try:
        stages = parse_mixture(text)
    except DcptError as exc:
        assert "\n" not in str(exc)
        return
    assert stages and all(isinstance(n, str) and (lv is None or isinstance(lv, float)) for n, lv in stages)


@given(text=MIXTURE_TEXT, seed=st.integers(0, 2**31))
def test_applying_any_mixture_text_degrades_or_refuses(text, seed):
    img = _image(1, 12, 12, seed)
    try:
        out = apply(text, img, generator=torch.Generator().manual_seed(seed))
    except DcptError as exc:
        assert "\n" not in str(exc)
        return
    _check(out, img)
