"""`dcpt info NAME [--size 256]` and `dcpt info --list`: what a model is and what it costs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "info",
        help="parameters and GMACs of a model preset, or the list of presets",
        description="Print a model's family, configuration, parameters (millions) and GMACs for one "
        "SIZE x SIZE RGB image (convolutions and matrix products; MAC = FLOP / 2). NAME is a "
        "preset (see --list), a family, or a dcpt checkpoint file.",
    )
    parser.add_argument(
        "name", nargs="?", metavar="NAME", help="preset, family or checkpoint, e.g. nafnet-5d"
    )
    parser.add_argument(
        "--size", type=int, default=256, metavar="N", help="square input size in pixels (default: 256)"
    )
    parser.add_argument(
        "--list", action="store_true", help="list every preset with its family and parameters"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import DcptError

    if args.list:
        return _list()
    if not args.name:
        raise DcptError("expected a model NAME (e.g. nafnet-5d) or --list")
    if args.size < 16:
        raise DcptError(f"expected --size >= 16 pixels, got {args.size}")
    if Path(args.name).is_file():
        return _checkpoint(Path(args.name), args.size)
    return _preset(args.name, args.size)


def _list() -> int:
    import torch

    from ..models import PRESETS, create_model
    from ..models.complexity import count_parameters

    print(f"{'preset':<20} {'family':<12} {'params (M)':>10}")
    for name in sorted(PRESETS.names()):
        with torch.device("meta"):
            params = count_parameters(create_model(name))
        print(f"{name:<20} {PRESETS.get(name).arch:<12} {params / 1e6:>10.3f}")
    return 0


def _preset(name: str, size: int) -> int:
    import torch

    from ..errors import DcptError
    from ..models import PRESETS, create_model
    from ..models.complexity import model_complexity

    with torch.device("meta"):
        model = create_model(name)
    cost = model_complexity(name, size)
    family = PRESETS.get(name).arch if name in PRESETS else model.arch_name
    config, channels = model.arch_config, model.feature_channels  # set by the registry / the net
    if not isinstance(config, dict) or not isinstance(channels, (tuple, list)):
        raise DcptError(f"{name}: the built model records no arch_config dict or feature_channels sequence")
    print(f"model:       {name} ({family})")
    print(f"config:      {_fmt(config)}")
    print(f"features:    {tuple(channels)}")
    print(f"parameters:  {cost.params / 1e6:.3f} M")
    print(f"GMACs:       {cost.macs / 1e9:.2f} at {size} x {size}")
    return 0


def _checkpoint(path: Path, size: int) -> int:
    from ..models.checkpoint import load_bundle
    from ..models.complexity import count_macs, count_parameters

    bundle = load_bundle(path)
    net, meta = bundle.net, bundle.meta
    print(f"checkpoint:  {path}")
    print(f"model:       {meta.get('preset') or meta['arch']} ({meta['arch']})")
    print(f"config:      {_fmt(meta['arch_config'])}")
    if meta.get("step") is not None:
        print(f"step:        {meta['step']}")
    if bundle.class_names:
        print(f"classes:     {', '.join(bundle.class_names)}")
    if bundle.classifier is not None:
        print(f"classifier:  {count_parameters(bundle.classifier) / 1e6:.3f} M parameters")
    print(f"parameters:  {count_parameters(net) / 1e6:.3f} M")
    print(f"GMACs:       {count_macs(net, size) / 1e9:.2f} at {size} x {size}")
    return 0


def _fmt(config: dict) -> str:
    return ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v}" for k, v in config.items())
