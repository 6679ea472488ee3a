"""The statistics every table uses: mean, sample standard deviation, gains paired by fine-tuning seed."""

from __future__ import annotations

import math
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .results import RestoreRow


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def sample_std(values: Sequence[float]) -> Optional[float]:
    """The n - 1 standard deviation; None for fewer than two values."""
    if len(values) < 2:
        return None
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def fmt(values: Sequence[float], signed: bool = False, digits: int = 2) -> str:
    """``mean ± std`` (``mean`` for one value, ``-`` for none), `digits` decimals, `signed` with a sign."""
    if not values:
        return "-"
    spec = f"{'+' if signed else ''}.{digits}f"
    std = sample_std(values)
    return format(mean(values), spec) + ("" if std is None else f" ± {std:.{digits}f}")


def by_finetune_seed(rows: Iterable[RestoreRow]) -> Dict[int, RestoreRow]:
    """Rows keyed by fine-tuning seed; two rows with one seed (two pre-training seeds) cannot pair."""
    out: Dict[int, RestoreRow] = {}
    for row in rows:
        if row.finetune_seed in out:
            raise ValueError(
                f"{row.arm}: two rows with fine-tuning seed {row.finetune_seed}; pair per pre-training seed"
            )
        out[row.finetune_seed] = row
    return out


def paired_gains(
    rows: Iterable[RestoreRow], baseline: Iterable[RestoreRow], metric: str = "average"
) -> List[Tuple[int, float]]:
    """(fine-tuning seed, PSNR gain in dB over the baseline row with that seed), by seed; seeds the
    baseline lacks are left out. The seed sets the fine-tuning crops and, for scratch, the initial net, so
    pairing removes the fine-tuning run's share of the spread."""
    base = by_finetune_seed(baseline)
    mine = by_finetune_seed(rows)
    return [(s, mine[s].psnr[metric] - base[s].psnr[metric]) for s in sorted(mine) if s in base]


def compress(seeds: Iterable[int]) -> str:
    """``0-4`` for 0, 1, 2, 3, 4; ``0,2,3`` otherwise."""
    seeds = sorted(set(seeds))
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def seeds_cell(rows: Sequence[RestoreRow]) -> str:
    """The (pre-training x fine-tuning) seeds of some rows: ``0-4`` when nothing is pre-trained,
    ``0-2 = fine`` when each pre-training seed is fine-tuned with itself, ``1-4 x 0-4`` for a grid."""
    if all(r.pretrain_seed is None for r in rows):
        return compress(r.finetune_seed for r in rows)
    if len(rows) > 1 and all(r.pretrain_seed == r.finetune_seed for r in rows):
        return compress(r.finetune_seed for r in rows) + " = fine"
    groups: Dict[Tuple[int, ...], List[int]] = {}
    for pre in sorted({r.pretrain_seed for r in rows}):
        fine = tuple(sorted(r.finetune_seed for r in rows if r.pretrain_seed == pre))
        groups.setdefault(fine, []).append(pre)
    return "; ".join(f"{compress(pres)} x {compress(fine)}" for fine, pres in groups.items())
