"""`dcpt analyse`: kNN accuracy of the degradation type from each feature level, and a t-SNE map,
for a checkpoint and for a randomly initialised net of the same architecture side by side.

The DCPT paper's observation is that even a random net's features separate degradation types; the
trained column shows what pre-training adds. The random net is built under `--seed`; when that equals
the training seed (both default to 0) it is typically the very init the checkpoint started from.
Protocol: see `dcpt.analysis.knn`.
"""

from __future__ import annotations

import argparse

from .outputs import add_overwrite_option, guard_folder, named

DEFAULT_TYPES = ("gaussian_noise", "rain", "haze", "gaussian_blur", "low_light")


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyse",
        help="kNN / t-SNE analysis of a net's features: do they tell degradations apart?",
        description="Degrade clean crops with each degradation type (random levels, fixed seed), pool each "
        "feature level of the net to a vector, and report the stratified 5-fold kNN accuracy of "
        "the type per level (standardised features), for the checkpoint and for a randomly "
        "initialised net of the same architecture. Writes DIR/analysis.json and DIR/tsne.png.",
        epilog="examples:\n  dcpt analyse runs/demo-pt/final.safetensors --out analysis/\n"
        "  dcpt analyse --arch nafnet-tiny --random-init --types gaussian_noise haze --per-type 20\n"
        "  dcpt analyse CKPT --pairs rain=Rain100L haze=SOTS/outdoor",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "ckpt", nargs="?", metavar="CKPT", help="dcpt checkpoint or BasicSR .pth (needs --arch)"
    )
    parser.add_argument(
        "--arch", metavar="PRESET", help="model preset (e.g. nafnet-tiny): for a .pth, or with --random-init"
    )
    parser.add_argument(
        "--random-init",
        action="store_true",
        help="no checkpoint: analyse only a randomly initialised --arch net",
    )
    parser.add_argument(
        "--data",
        default="samples",
        metavar="SRC",
        help="clean images: samples (default), samples:test, samples:all or a folder",
    )
    parser.add_argument(
        "--pairs",
        nargs="+",
        metavar="NAME=DIR",
        help="use the degraded images of paired folders instead, one class per folder",
    )
    parser.add_argument(
        "--types",
        nargs="+",
        metavar="T",
        help="degradation types (default: the checkpoint's class names, else "
        + " ".join(DEFAULT_TYPES)
        + ")",
    )
    parser.add_argument("--per-type", type=int, default=40, metavar="N", help="crops per type (default 40)")
    parser.add_argument("--patch", type=int, default=64, metavar="P", help="crop size in pixels (default 64)")
    parser.add_argument("--k", type=int, default=5, metavar="K", help="neighbours (default 5)")
    parser.add_argument("--metric", default="cosine", choices=("cosine", "euclidean"), help="kNN metric")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="data, random net, folds and t-SNE seed"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="crops per forward pass")
    parser.add_argument(
        "--taps",
        choices=("decoder", "encoder"),
        help="which features to analyse (default: those the checkpoint's classifier reads, else decoder)",
    )
    parser.add_argument("--out", default="analysis", metavar="DIR", help="output folder (default ./analysis)")
    add_overwrite_option(parser)
    parser.set_defaults(run=run)


def _check_out(args):
    """--out holds only analyse's two files (or --overwrite) and is none of the input folders."""
    from pathlib import Path

    inputs = [Path(args.data)] + [Path(spec.partition("=")[2]) for spec in args.pairs or ()]
    inputs += [Path(args.ckpt)] if args.ckpt else []
    inputs = [p for p in inputs if p.exists()]
    guard_folder(
        args.out, "--out", "dcpt analyse", named("analysis.json", "tsne.png"), args.overwrite, inputs
    )


def _check_args(args) -> None:
    from ..errors import ConfigError

    if args.ckpt is None and not (args.arch and args.random_init):
        raise ConfigError("give a checkpoint, or --arch PRESET --random-init to analyse an untrained net")
    if args.ckpt is not None and args.random_init:
        raise ConfigError("--random-init analyses an untrained --arch net; drop it or the checkpoint")
    if args.seed < 0:
        raise ConfigError(f"--seed: expected an integer >= 0, got {args.seed}")
    for name in ("per_type", "patch", "k", "folds", "batch_size"):
        if getattr(args, name) < 1:
            raise ConfigError(
                f"--{name.replace('_', '-')} must be a positive number, got {getattr(args, name)}"
            )


def _load_nets(args):
    """(trained net or None, random net, class names stored in the checkpoint or None); fills in
    `args.taps` from the checkpoint's classifier when it was not given."""
    import torch

    from ..models import create_model
    from ..models.checkpoint import load_bundle
    from ..models.registry import build_arch

    bundle = load_bundle(args.ckpt, arch=args.arch) if args.ckpt is not None else None
    if args.taps is None:
        args.taps = getattr(bundle.classifier, "taps", "decoder") if bundle is not None else "decoder"
    with torch.random.fork_rng(devices=[]):  # a seeded random net without touching the caller's RNG
        torch.manual_seed(args.seed)
        if bundle is None:
            return None, create_model(args.arch), None
        random_net = build_arch(bundle.net.arch_name, **bundle.net.arch_config)
    return bundle.net, random_net, bundle.class_names


def _types(args, stored) -> list:
    from ..data.synthetic import DegradationClass
    from ..errors import DcptError

    if args.types:
        for t in args.types:
            DegradationClass.parse(t)  # unknown names raise with close matches
        return list(args.types)
    if stored:
        try:
            for t in stored:
                DegradationClass.parse(t)
            return list(stored)
        except DcptError:
            pass
    return list(DEFAULT_TYPES)


def _crops(args, stored):
    from ..analysis.features import paired_crops, synthetic_crops
    from ..errors import ConfigError

    if args.pairs:
        folders = []
        for spec in args.pairs:
            name, sep, root = spec.partition("=")
            if not sep or not name or not root:
                raise ConfigError(f"--pairs expects NAME=DIR, got {spec!r}")
            folders.append((name, root))
        return paired_crops(folders, args.per_type, args.patch, args.seed)
    source = args.data
    if source == "samples" or source.startswith("samples:"):
        from ..data.samples import load_samples

        source = load_samples(source.partition(":")[2] or "train")
    return synthetic_crops(source, _types(args, stored), args.per_type, args.patch, args.seed)


def _score(net, crops, args):
    """Per-level pooled features and kNN accuracies (the last entry is all levels concatenated)."""
    from ..analysis import collect_features, concat_levels, knn_accuracy

    levels = collect_features(net, crops.images, args.batch_size, taps=args.taps)
    levels.append(concat_levels(levels))
    accs = [knn_accuracy(f, crops.labels, args.k, args.metric, args.folds, args.seed) for f in levels]
    return levels, accs


def _table(rows, with_ckpt: bool) -> str:
    head = "| level | channels | " + ("knn_acc(ckpt) | " if with_ckpt else "") + "knn_acc(random) |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        ckpt = f"{r['knn_acc_ckpt']:.3f} | " if with_ckpt else ""
        lines.append(f"| {r['level']} | {r['channels']} | {ckpt}{r['knn_acc_random']:.3f} |")
    return "\n".join(lines)


def run(args) -> int:
    import json
    from pathlib import Path

    from ..analysis import embed_tsne, level_names, plot_tsne
    from ..fileio import atomic_write

    _check_args(args)
    _check_out(args)
    trained, random_net, stored = _load_nets(args)
    crops = _crops(args, stored)
    random_levels, random_accs = _score(random_net, crops, args)
    names = level_names(len(random_levels) - 1)
    rows = [
        {"level": n, "channels": int(f.shape[1]), "knn_acc_random": a}
        for n, f, a in zip(names, random_levels, random_accs)
    ]
    panels_from = [("random init", random_levels, random_accs)]
    if trained is not None:
        trained_levels, trained_accs = _score(trained, crops, args)
        for row, a in zip(rows, trained_accs):
            row["knn_acc_ckpt"] = a
        panels_from.insert(0, ("checkpoint", trained_levels, trained_accs))
    lead_accs = panels_from[0][2][:-1]
    best = max(range(len(lead_accs)), key=lambda i: (lead_accs[i], i))  # ties -> the deepest level
    panels = [
        (f"{title}: level {names[best]} (kNN acc {accs[best]:.3f})", embed_tsne(levels[best], args.seed))
        for title, levels, accs in panels_from
    ]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_tsne(panels, crops.labels, crops.class_names, out / "tsne.png")
    result = {
        "checkpoint": args.ckpt,
        "arch": args.arch or getattr(random_net, "preset_name", None) or random_net.arch_name,
        "types": crops.class_names,
        "samples": int(len(crops.labels)),
        "patch": args.patch,
        "k": args.k,
        "metric": args.metric,
        "folds": args.folds,
        "seed": args.seed,
        "chance": 1.0 / len(crops.class_names),
        "protocol": "standardised global-average-pooled features, kNN, stratified k-fold accuracy",
        "tsne_level": names[best],
        "levels": rows,
    }
    atomic_write(out / "analysis.json", json.dumps(result, indent=2) + "\n")
    print(_table(rows, trained is not None))
    print(
        f"\nchance {result['chance']:.3f}; {len(crops.labels)} crops of {args.patch}x{args.patch}; "
        f"t-SNE of level {names[best]} -> {out / 'tsne.png'}; results -> {out / 'analysis.json'}"
    )
    return 0
