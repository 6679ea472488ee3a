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
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from dcpt.errors import DcptError
from dcpt.models import create_model
from dcpt.models.checkpoint import HEADER_KEY, Bundle, load_bundle, save_checkpoint

# Examples that cost microseconds (bytes through a parser) can be many more than the profile's.
CHEAP = settings(max_examples=settings.default.max_examples * 8)
# A known bug (xfail below) is not shrunk: shrinking a failure nobody will read costs seconds.
NO_SHRINK = settings(phases=[Phase.explicit, Phase.reuse, Phase.generate])
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


# Small integers only: a header asking for a net of width 2**40 makes load_bundle allocate it before
# any check (reported with the bugs below), which would turn this fuzz into a memory test.
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-4, 64),
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


@pytest.mark.xfail(
    reason="models/checkpoint.py reads its JSON header without checking types: an 'arch', "
    "'arch_config', constructor argument, 'classifier' or 'version' of another JSON type (null, a "
    "list, a bool) raises TypeError from build_arch, Registry.canonical, the constructors or a "
    "comparison (issue 21, reported; not this module's owner)",
    strict=False,
)
@NO_SHRINK
@given(key=st.sampled_from(HEADER_KEYS), value=JSON, drop=st.booleans())
def test_mutated_dcpt_header_values(key, value, drop):
    load_bytes(_with(key, value, drop))


@pytest.mark.xfail(
    reason="models/checkpoint.py: a dcpt header that is JSON but not an object ('null', '[]') raises "
    "AttributeError in _read_safetensors (issue 21, reported; not this module's owner)",
    strict=False,
)
@NO_SHRINK
@given(header=st.one_of(JSON.map(json.dumps), st.text(max_size=30)))
def test_any_dcpt_header_text(header):
    load_bytes(_rebuild(header, HEADER))


@pytest.mark.xfail(
    reason="models/import_basicsr.py: torch's multi-line TypeError text is copied into the "
    "CheckpointError of a damaged .pth, so the CLI prints several lines (issue 21, reported)",
    strict=False,
)
@settings(parent=NO_SHRINK, max_examples=CHEAP.max_examples)
@given(data=mutated_bytes(PTH, len(PTH)), arch=st.sampled_from(["nafnet", "nafnet-tiny"]))
def test_mutated_pth(data, arch):
    load_bytes(data, arch, ".pth")


@pytest.mark.xfail(
    reason="models/checkpoint.py load_state_strict quotes key names as they are: a .pth whose "
    "parameter name holds a newline (found by test_mutated_pth) gives a two-line error (issue 21, reported)",
    strict=False,
)
def test_a_key_with_a_newline_gives_one_line():
    state = torch.load(io.BytesIO(PTH), weights_only=True)
    state["d\ncoders.0.0.conv2.bias"] = state.pop("decoders.0.0.conv2.bias")
    buf = io.BytesIO()
    torch.save(state, buf)
    assert load_bytes(buf.getvalue(), "nafnet", ".pth") is None
