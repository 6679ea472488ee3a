"""Fuzzing the checkpoint reader: random bytes, a real dcpt safetensors file with mutated length,
header bytes or JSON header, truncations, and mutated torch ``.pth`` files. `load_bundle` either
rebuilds a network or raises a one-line DcptError (CheckpointError); nothing else escapes.
"""

import io
import json
import struct
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dcpt.errors import CheckpointError, DcptError
from dcpt.models import create_model
from dcpt.models.checkpoint import HEADER_KEY, Bundle, load_bundle, save_checkpoint

# Examples that cost microseconds (bytes through a parser) can be many more than the profile's.
CHEAP = settings(max_examples=settings.default.max_examples * 8)
SMALL = {"width": 8, "enc_blk_nums": [1], "middle_blk_num": 1, "dec_blk_nums": [1]}
ARCHS = st.sampled_from([None, "nafnet", "nafnet-tiny", "restormer"])


def _valid_files():
    torch.manual_seed(0)
    net = create_model("nafnet-tiny", **SMALL)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.safetensors"
        save_checkpoint(net, path, step=3)
        safetensors = path.read_bytes()
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    return safetensors, buf.getvalue()


SAFETENSORS, PTH = _valid_files()
HEADER_LEN = struct.unpack("<Q", SAFETENSORS[:8])[0]
HEADER = json.loads(SAFETENSORS[8 : 8 + HEADER_LEN])
DCPT_HEADER = json.loads(HEADER["__metadata__"][HEADER_KEY])


def load_bytes(data: bytes, arch=None, suffix=".safetensors"):
    """`load_bundle` of a file holding `data`: a Bundle, or None after a one-line DcptError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            bundle = load_bundle(path, arch=arch)
        except DcptError as exc:
            assert "\n" not in str(exc)
            return None
    assert isinstance(bundle, Bundle) and isinstance(bundle.net, torch.nn.Module)
    return bundle


def test_the_valid_files_load():
    """The harness itself: unmutated, both files load, so every refusal below is the mutation's."""
    assert load_bytes(SAFETENSORS) is not None
    assert load_bytes(PTH, arch="nafnet", suffix=".pth") is not None


@CHEAP
@given(data=st.binary(max_size=200), arch=ARCHS, suffix=st.sampled_from([".safetensors", ".pth", ".pt"]))
def test_random_bytes(data, arch, suffix):
    load_bytes(data, arch, suffix)


@CHEAP
@given(
    data=st.binary(min_size=1, max_size=120),
    length=st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 1)),
)
def test_safetensors_like_prefix(data, length):
    """An 8-byte length then ``{``, the shape the sniffer treats as safetensors."""
    load_bytes(struct.pack("<Q", length) + b"{" + data)


@st.composite
def mutated_bytes(draw, seed: bytes, region: int):
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, min(region, len(data)) - 1))
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@CHEAP
@given(data=mutated_bytes(SAFETENSORS, 8 + HEADER_LEN), arch=ARCHS)
def test_mutated_safetensors_header_bytes(data, arch):
    load_bytes(data, arch)


# Mostly small integers, which build nets; any integer now and then (width 2**40 is refused before
# anything is allocated, see test_a_header_asking_for_a_huge_net_is_refused_before_building).
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-4, 64),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=5,
)


def _rebuild(header_text: str, tensors_header: dict) -> bytes:
    """The valid file with its dcpt JSON header replaced by `header_text` (tensor data kept)."""
    meta = dict(tensors_header)
    meta["__metadata__"] = {HEADER_KEY: header_text}
    head = json.dumps(meta).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + SAFETENSORS[8 + HEADER_LEN :]


def _with(key: str, value, drop: bool) -> bytes:
    """The valid file with one key of its dcpt header (or of its arch_config) replaced or dropped."""
    header = json.loads(json.dumps(DCPT_HEADER))
    target = header["arch_config"] if key in DCPT_HEADER["arch_config"] else header
    if drop:
        target.pop(key, None)
    else:
        target[key] = value
    return _rebuild(json.dumps(header), HEADER)


HEADER_KEYS = sorted({*DCPT_HEADER, *DCPT_HEADER["arch_config"], "classifier", "class_names"})


@given(key=st.sampled_from(HEADER_KEYS), value=JSON, drop=st.booleans())
def test_mutated_dcpt_header_values(key, value, drop):
    load_bytes(_with(key, value, drop))


@given(header=st.one_of(JSON.map(json.dumps), st.text(max_size=30)))
def test_any_dcpt_header_text(header):
    load_bytes(_rebuild(header, HEADER))


@CHEAP
@given(data=mutated_bytes(PTH, len(PTH)), arch=st.sampled_from(["nafnet", "nafnet-tiny"]))
def test_mutated_pth(data, arch):
    load_bytes(data, arch, ".pth")


def test_a_key_with_a_newline_gives_one_line():
    state = torch.load(io.BytesIO(PTH), weights_only=True)
    state["d\ncoders.0.0.conv2.bias"] = state.pop("decoders.0.0.conv2.bias")
    buf = io.BytesIO()
    torch.save(state, buf)
    assert load_bytes(buf.getvalue(), "nafnet", ".pth") is None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "key.pth"
        path.write_bytes(buf.getvalue())
        with pytest.raises(CheckpointError, match=r"unexpected: 'd\\ncoders\.0\.0\.conv2\.bias'"):
            load_bundle(path, arch="nafnet")


@pytest.mark.parametrize(
    "key, value, refusal",
    [
        ("width", 2**40, "Storage size calculation overflowed"),
        ("width", 4096, "the header is damaged"),
        ("middle_blk_num", 10**9, "far more layers than the file holds tensors"),
        ("enc_blk_nums", [10**7], "far more layers than the file holds tensors"),
    ],
)
def test_a_header_asking_for_a_huge_net_is_refused_before_building(key, value, refusal):
    """The file holds a tiny net's tensors; a header asking for far more is refused from the meta
    device (no memory) and a cap on torch calls (no time), in one line naming the file; torch's
    global state (grad mode, default device) is as it was."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "huge.safetensors"
        path.write_bytes(_with(key, value, drop=False))
        with pytest.raises(CheckpointError, match=refusal) as info:
            load_bundle(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert torch.is_grad_enabled() and torch.get_default_device() == torch.device("cpu")
