"""Checkpoints: exact round trips, BasicSR imports, and one-line errors for every bad file."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from dcpt.errors import CheckpointError, DcptError
from dcpt.models import create_model
from dcpt.models.checkpoint import load_bundle, load_checkpoint, save_checkpoint
from dcpt.models.classifier import DegradationClassifier


def random_net(name="nafnet-tiny", seed=0):
    torch.manual_seed(seed)
    net = create_model(name)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    return net


class NotAStateDict:
    """Pickling an instance of this class needs code: weights_only loading must refuse it."""

    def __init__(self):
        self.weights = torch.ones(2)


def test_round_trip_is_exact_with_classifier_and_header(tmp_path):
    net = random_net()
    clf = DegradationClassifier(net.feature_channels, 3, blocks_per_scale=1)
    path = save_checkpoint(
        net,
        tmp_path / "run" / "ckpt.safetensors",
        classifier=clf,
        class_names=["noise", "blur", "rain"],
        step=1200,
        lr=2e-4,
        note="demo",
    )
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["ckpt.safetensors"]
    bundle = load_bundle(path)
    for k, v in net.state_dict().items():
        assert torch.equal(bundle.net.state_dict()[k], v)
    for k, v in clf.state_dict().items():
        assert torch.equal(bundle.classifier.state_dict()[k], v)
    x = torch.rand(1, 3, 21, 34)
    with torch.no_grad():
        assert torch.equal(bundle.net.eval()(x), net.eval()(x))
        feats = net.features(x)
        assert torch.equal(bundle.classifier.eval()(feats), clf.eval()(feats))
    assert bundle.class_names == ["noise", "blur", "rain"]
    assert bundle.meta["step"] == 1200 and bundle.meta["meta"] == {"lr": 2e-4, "note": "demo"}
    assert bundle.meta["arch"] == "nafnet" and bundle.meta["preset"] == "nafnet-tiny"
    assert bundle.net.preset_name == "nafnet-tiny" and bundle.net.arch_name == "nafnet"
    # the file itself: official names unprefixed, classifier under classifier., one JSON header
    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
        header = json.loads(f.metadata()["dcpt"])
    assert "intro.weight" in keys and "classifier.fc.weight" in keys
    assert header["format"] == "dcpt" and header["classifier"]["num_classes"] == 3
    assert load_checkpoint(path, arch="nafnet-tiny").arch_config == bundle.net.arch_config


def test_net_only_checkpoint_and_overwrite(tmp_path):
    path = tmp_path / "a.safetensors"
    save_checkpoint(random_net(seed=1), path)
    save_checkpoint(random_net(seed=2), path)
    bundle = load_bundle(path)
    assert bundle.classifier is None and bundle.class_names is None
    assert torch.equal(bundle.net.intro.weight, random_net(seed=2).intro.weight)


def test_fp16_storage_halves_the_file_and_loads_back_as_fp32(tmp_path):
    net = random_net(seed=3)
    clf = DegradationClassifier(net.feature_channels, 2, blocks_per_scale=1)
    full = save_checkpoint(net, tmp_path / "full.safetensors", classifier=clf)
    half = save_checkpoint(net, tmp_path / "half.safetensors", classifier=clf, dtype=torch.float16)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    with safe_open(str(half), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    bundle = load_bundle(half)
    for k, v in net.state_dict().items():
        loaded = bundle.net.state_dict()[k]
        assert loaded.dtype == torch.float32 and torch.equal(loaded, v.half().float())
    assert torch.equal(bundle.classifier.fc.weight, clf.fc.weight.detach().half().float())


def test_fp16_storage_refuses_values_it_cannot_hold(tmp_path):
    net = random_net(seed=5)
    with torch.no_grad():
        net.intro.bias[0] = 1e6
    with pytest.raises(DcptError, match="intro.bias"):
        save_checkpoint(net, tmp_path / "x.safetensors", dtype=torch.float16)
    with pytest.raises(DcptError, match="floating"):
        save_checkpoint(net, tmp_path / "x.safetensors", dtype=torch.int8)
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("magic", [b"\x80", b"PK"])
def test_safetensors_whose_length_bytes_look_like_a_pickle_or_zip(tmp_path, magic):
    # the 8-byte little-endian header length comes first: a length of 0x..80 starts like a pickle,
    # one of 0x4B50 (19280) like a zip; pad the header's free-form metadata until it does
    net = random_net(seed=4)
    path = tmp_path / "net.safetensors"
    header_length = lambda: int.from_bytes(path.read_bytes()[:8], "little")  # noqa: E731
    save_checkpoint(net, path)
    start = 0 if magic == b"\x80" else max(0x4B50 - header_length() - 16, 0)
    for pad in range(start, start + 300):
        save_checkpoint(net, path, note="x" * pad)
        if path.read_bytes()[: len(magic)] == magic:
            break
    assert path.read_bytes()[: len(magic)] == magic
    assert torch.equal(load_checkpoint(path).intro.weight, net.intro.weight)


@pytest.mark.parametrize("layout", ["params_ema", "params", "bare", "module_prefix"])
def test_basicsr_pth_loads_strictly(tmp_path, layout):
    ema, plain = random_net(seed=3).state_dict(), random_net(seed=4).state_dict()
    obj = {
        "params_ema": {"params": plain, "params_ema": ema},
        "params": {"params": ema},
        "bare": ema,
        "module_prefix": {"params": {f"module.{k}": v for k, v in ema.items()}},
    }[layout]
    path = tmp_path / "net_g_100.pth"
    torch.save(obj, path)
    for arch in ("nafnet-tiny", "nafnet"):  # a preset, or the family with its config read from shapes
        net = load_checkpoint(path, arch=arch)
        assert all(torch.equal(net.state_dict()[k], v) for k, v in ema.items())
        assert tuple(net.arch_config["enc_blk_nums"]) == (1, 1, 1, 2) and net.arch_config["width"] == 16


def test_missing_empty_truncated_and_garbage_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        load_checkpoint(empty)
    good = save_checkpoint(random_net(), tmp_path / "good.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(junk)
    pth = tmp_path / "net.pth"
    torch.save({"params": random_net().state_dict()}, pth)
    cut_pth = tmp_path / "cut.pth"
    cut_pth.write_bytes(pth.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(cut_pth, arch="nafnet-tiny")


def test_safetensors_without_dcpt_header(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="without a dcpt header"):
        load_checkpoint(path)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"params": NotAStateDict()}, path)
    with pytest.raises(CheckpointError, match="contains pickled code and was refused for safety"):
        load_checkpoint(path, arch="nafnet-tiny")


def test_pth_needs_arch_and_wrong_arch_lists_keys(tmp_path):
    path = tmp_path / "net.pth"
    torch.save({"params": random_net().state_dict()}, path)
    with pytest.raises(CheckpointError, match="pass --arch"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, arch="nafnet-small")
    message = str(info.value)
    assert "\n" not in message and "does not fit nafnet-small" in message
    assert "shape mismatch (file vs model): intro.weight (16, 3, 3, 3) vs (32, 3, 3, 3)" in message
    assert "missing: encoders.3.2." in message and "(+" in message  # at most 5 listed, then a count
    torch.save({"params": {"foo.weight": torch.zeros(1), **random_net().state_dict()}}, path)
    with pytest.raises(CheckpointError, match="unexpected: foo.weight"):
        load_checkpoint(path, arch="nafnet-tiny")


def test_dcpt_checkpoint_of_another_family_is_refused(tmp_path):
    path = save_checkpoint(random_net(), tmp_path / "n.safetensors")
    with pytest.raises(CheckpointError, match="holds a nafnet network, not restormer-tiny"):
        load_checkpoint(path, arch="restormer-tiny")
