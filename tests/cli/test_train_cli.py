"""`dcpt pretrain / finetune / classify` end to end on a tiny net, and every bad input -> one line, exit 2."""

import json

import pytest
import torch
import yaml

from dcpt.cli import main
from dcpt.models import create_model
from dcpt.models.checkpoint import load_bundle, save_checkpoint

TINY = {
    "model": {
        "name": "nafnet-tiny",
        "overrides": {"width": 8, "enc_blk_nums": [1, 1], "middle_blk_num": 1, "dec_blk_nums": [1, 1]},
    },
    "data": {
        "train": [
            {
                "clean": "samples",
                "classes": [{"name": "gaussian_noise", "levels": [15, 50]}, {"name": "haze"}],
            }
        ],
        "val": [
            {
                "clean": "samples:test",
                "classes": [{"name": "gaussian_noise", "levels": [15, 50]}, {"name": "haze"}],
            }
        ],
        "patch_size": 16,
        "batch_size": 2,
        "epoch_length": 8,
        "val_length": 4,
    },
    "train": {"steps": 2, "val_every": 2, "ckpt_every": 0, "device": "cpu"},
}


def _write(tmp_path, raw, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def _fails(argv, capsys, *needles):
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("dcpt: error:"), err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pt")
    cfg = _write(folder, TINY)
    assert main(["pretrain", str(cfg), "--out", str(folder / "run")]) == 0
    return folder / "run"


def test_pretrain_writes_run_folder(pretrained):
    assert {"config.yaml", "final.safetensors", "last.pt", "metrics.jsonl"} <= {
        p.name for p in pretrained.iterdir()
    }
    saved = yaml.safe_load((pretrained / "config.yaml").read_text())
    assert saved["train"]["steps"] == 2 and saved["optim"]["lr"] == 2e-4  # resolved: defaults spelled out
    bundle = load_bundle(pretrained / "final.safetensors")
    assert bundle.class_names == ["gaussian_noise", "haze"] and bundle.meta["step"] == 2
    records = [json.loads(line) for line in (pretrained / "metrics.jsonl").read_text().splitlines()]
    assert {"train", "val"} == {r["kind"] for r in records}
    assert any("acc/haze" in r for r in records)


def test_finetune_keeps_the_classifier_and_classify_reads_it(pretrained, tmp_path, capsys):
    ft = {**TINY, "train": {**TINY["train"], "ema": 0.0}}
    cfg = _write(tmp_path, ft)
    assert (
        main(
            [
                "finetune",
                str(cfg),
                "--init",
                str(pretrained / "final.safetensors"),
                "--out",
                str(tmp_path / "ft"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "psnr/haze" in out
    tuned = load_bundle(tmp_path / "ft" / "final.safetensors")
    start = load_bundle(pretrained / "final.safetensors")
    assert tuned.meta["meta"]["objective"] == "restore"
    for key, value in start.classifier.state_dict().items():
        assert torch.equal(value, tuned.classifier.state_dict()[key])
    assert not torch.equal(start.net.intro.weight, tuned.net.intro.weight)

    from dcpt.data import export_samples

    export_samples(tmp_path / "imgs", "test")
    assert (
        main(
            [
                "classify",
                str(tmp_path / "imgs"),
                "--ckpt",
                str(tmp_path / "ft" / "final.safetensors"),
                "--json",
            ]
        )
        == 0
    )
    predictions = json.loads(capsys.readouterr().out)
    assert len(predictions) == 3
    for p in predictions:
        assert set(p["probabilities"]) == {"gaussian_noise", "haze"}
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)


def test_config_key_errors_exit_2(tmp_path, capsys):
    cfg = _write(tmp_path, {**TINY, "train": {"stepz": 3}})
    _fails(["pretrain", cfg], capsys, "'train.stepz'", "did you mean 'train.steps'")
    cfg = _write(tmp_path, TINY)
    _fails(["pretrain", cfg, "--set", "train.steps=lots"], capsys, "'train.steps'", "expected an integer")
    _fails(["finetune", cfg, "--set", "objective.name=dcpt"], capsys, "use `dcpt pretrain`")


def test_missing_or_empty_data_folder_exit_2(tmp_path, capsys):
    source = TINY["data"]["train"][0]
    cfg = _write(
        tmp_path, {**TINY, "data": {**TINY["data"], "train": [{**source, "clean": str(tmp_path / "nope")}]}}
    )
    _fails(["pretrain", cfg, "--out", tmp_path / "r1"], capsys, "does not exist")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    cfg = _write(
        tmp_path, {**TINY, "data": {**TINY["data"], "train": [{**source, "clean": str(tmp_path / "empty")}]}}
    )
    _fails(["pretrain", cfg, "--out", tmp_path / "r2"], capsys, "no image files")


def test_resume_without_checkpoint_and_overwrite_exit_2(tmp_path, pretrained, capsys):
    cfg = _write(tmp_path, TINY)
    _fails(["pretrain", cfg, "--out", tmp_path / "fresh", "--resume"], capsys, "no training checkpoint")
    _fails(["pretrain", cfg, "--out", pretrained], capsys, "--resume")


def test_init_of_another_architecture_exit_2(tmp_path, capsys):
    other = create_model("restormer-tiny")
    save_checkpoint(other, tmp_path / "restormer.safetensors")
    cfg = _write(tmp_path, TINY)
    _fails(
        ["finetune", cfg, "--init", tmp_path / "restormer.safetensors", "--out", tmp_path / "ft"],
        capsys,
        "restormer",
        "not nafnet",
    )
    wide = create_model("nafnet-tiny")
    save_checkpoint(wide, tmp_path / "wide.safetensors")
    _fails(
        ["finetune", cfg, "--init", tmp_path / "wide.safetensors", "--out", tmp_path / "ft2"],
        capsys,
        "does not fit",
    )


def test_classify_without_classifier_exit_2(tmp_path, capsys):
    save_checkpoint(create_model("nafnet-tiny"), tmp_path / "plain.safetensors")
    from dcpt.data import export_samples

    export_samples(tmp_path / "imgs", "test")
    _fails(
        ["classify", tmp_path / "imgs", "--ckpt", tmp_path / "plain.safetensors"],
        capsys,
        "no degradation classifier",
    )


def test_finetune_from_a_preset_checkpoint(tmp_path, capsys):
    torch.manual_seed(0)
    save_checkpoint(create_model("nafnet-tiny"), tmp_path / "preset.safetensors")  # tuple config in memory
    raw = {**TINY, "model": {"name": "nafnet-tiny"}, "train": {**TINY["train"], "steps": 1, "val_every": 0}}
    cfg = _write(tmp_path, raw)
    assert (
        main(
            [
                "finetune",
                str(cfg),
                "--init",
                str(tmp_path / "preset.safetensors"),
                "--out",
                str(tmp_path / "ft"),
            ]
        )
        == 0
    )
    assert load_bundle(tmp_path / "ft" / "final.safetensors").classifier is None


def test_finetune_from_a_basicsr_release_pth(tmp_path, capsys):
    """A release `.pth` (BasicSR's ``params_ema``, no dcpt header) of the config's net fine-tunes: its
    spelled-out defaults (``img_channel: 3``) are no mismatch. One of another size or family is one
    line naming the file and no option that finetune lacks (it has no --arch)."""
    torch.manual_seed(0)
    torch.save({"params_ema": create_model("nafnet-tiny").state_dict()}, tmp_path / "release.pth")
    raw = {**TINY, "model": {"name": "nafnet-tiny"}, "train": {**TINY["train"], "steps": 1, "val_every": 0}}
    cfg = _write(tmp_path, raw)
    argv = ["finetune", cfg, "--init", tmp_path / "release.pth", "--out", tmp_path / "ft"]
    assert main([str(a) for a in argv]) == 0
    assert load_bundle(tmp_path / "ft" / "final.safetensors").net.arch_name == "nafnet"

    torch.save({"params": create_model("nafnet-tiny", width=32).state_dict()}, tmp_path / "wide.pth")
    torch.save({"params": create_model("restormer-tiny").state_dict()}, tmp_path / "restormer.pth")
    for name, needle in (("wide.pth", "does not fit"), ("restormer.pth", "does not hold a nafnet")):
        argv = ["finetune", cfg, "--init", tmp_path / name, "--out", tmp_path / f"ft-{name}"]
        err = _fails(argv, capsys, name, needle)
        assert "--arch" not in err
