"""The study's one results file: a header line, then one JSON line per measured row.

Three kinds of rows, each a typed record checked at load:

- ``restore``: one arm at one (pre-training seed, fine-tuning seed): PSNR per degradation type and
  average on the study's held-out crops, the pre-trained classifier's accuracy on the same crops;
- ``classifier``: one pre-training's checkpoint at one seed, scored on one view of the held-out
  photographs (square crops of a size, or whole photographs), with its confusion matrix;
- ``demo``: one `dcpt demo` run (average PSNR per model, wall time).

Rows are keyed by names and seeds (an arm, a pre-training), never by paths or recipe hashes; ``recipe``
records what the arm resolved to when the row was made, so a changed config can be noticed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from .arms import ARMS, PRETRAININGS

SCHEMA_VERSION = 1
RESULTS = Path(__file__).resolve().parent / "results" / "results.jsonl"
# The measurement every restore row shares: training crops and batch, the held-out crops (of the
# test photographs camera, chelsea, coffee, spread evenly over the types) and the seed of their
# degradations, identical for every arm and seed.
PROTOCOL = {
    "patch_size": 64,
    "batch_size": 8,
    "eval_patch": 128,
    "eval_count": 200,
    "eval_seed": 20250423,
    "model": "nafnet-tiny",
}


@dataclass(frozen=True)
class RestoreRow:
    arm: str
    pretrain_seed: Optional[int]
    finetune_seed: int
    pretrain_steps: int
    finetune_steps: int
    psnr: Dict[str, float]
    ssim: Optional[Dict[str, float]] = None
    classifier_accuracy: Optional[float] = None
    classifier_accuracy_per_type: Optional[Dict[str, float]] = None
    pretrain_s: Optional[float] = None
    finetune_s: Optional[float] = None
    threads: Optional[int] = None
    recipe: Optional[str] = None
    dcpt_version: Optional[str] = None
    commit: Optional[str] = None
    source: Optional[str] = None
    kind: str = "restore"

    @property
    def key(self) -> Tuple:
        return (self.arm, self.pretrain_seed, self.finetune_seed)


@dataclass(frozen=True)
class ClassifierRow:
    pretraining: str
    pretrain_seed: int
    view: str
    image_seed: int
    accuracy: float
    count: int
    per_type: Dict[str, float]
    confusion: List[List[float]]
    classes: List[str]
    predicted: List[str]
    dcpt_version: Optional[str] = None
    commit: Optional[str] = None
    source: Optional[str] = None
    kind: str = "classifier"

    @property
    def key(self) -> Tuple:
        return (self.pretraining, self.pretrain_seed, self.view, self.image_seed)


@dataclass(frozen=True)
class DemoRow:
    name: str
    wall_s: float
    threads: int
    average_psnr: Dict[str, float]
    classifier_accuracy: Dict[str, float]
    note: str = ""
    dcpt_version: Optional[str] = None
    commit: Optional[str] = None
    source: Optional[str] = None
    kind: str = "demo"

    @property
    def key(self) -> Tuple:
        return (self.name,)


Row = Union[RestoreRow, ClassifierRow, DemoRow]
KINDS = {"restore": RestoreRow, "classifier": ClassifierRow, "demo": DemoRow}


class SchemaError(ValueError):
    """A results file that does not follow the schema: one line names the row and the problem."""


@dataclass
class Results:
    rows: List[Row]
    header: Dict = dataclasses.field(default_factory=lambda: header())

    def restore(self, arm: Optional[str] = None) -> List[RestoreRow]:
        return [r for r in self.rows if isinstance(r, RestoreRow) and (arm is None or r.arm == arm)]

    def classifier(self) -> List[ClassifierRow]:
        return [r for r in self.rows if isinstance(r, ClassifierRow)]

    def demo(self) -> List[DemoRow]:
        return [r for r in self.rows if isinstance(r, DemoRow)]


def header() -> Dict:
    return {"schema_version": SCHEMA_VERSION, "protocol": dict(PROTOCOL)}


def _check_types(row, where: str) -> None:
    """The JSON types of a record's fields, by its annotations (numbers, names, dicts of numbers)."""
    for field in dataclasses.fields(row):
        value = getattr(row, field.name)
        text = str(field.type)
        if value is None:
            if "Optional" not in text:
                raise SchemaError(f"{where}: {field.name} is null")
            continue
        if text.startswith(("Dict", "Optional[Dict")):
            ok = isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, (int, float)) for k, v in value.items()
            )
        elif text.startswith("List[List"):
            ok = isinstance(value, list) and all(isinstance(v, list) for v in value)
        elif text.startswith("List"):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif "float" in text:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif "int" in text:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise SchemaError(f"{where}: {field.name} = {value!r} does not match {text}")


def row_from_dict(raw: Dict, where: str = "row") -> Row:
    kind = raw.get("kind")
    if kind not in KINDS:
        raise SchemaError(f"{where}: kind {kind!r} is not one of {sorted(KINDS)}")
    cls = KINDS[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise SchemaError(f"{where}: unknown field(s) {unknown} for a {kind} row")
    try:
        row = cls(**raw)
    except TypeError as exc:
        raise SchemaError(f"{where}: {exc}") from None
    _check_types(row, where)
    return row


def row_to_dict(row: Row) -> Dict:
    raw = dataclasses.asdict(row)
    return {"kind": raw.pop("kind"), **raw}


def read(path: Path = RESULTS) -> Results:
    """The rows of a results file (none if it does not exist), each checked against the schema."""
    path = Path(path)
    if not path.is_file():
        return Results([])
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    head = json.loads(lines[0]) if lines else header()
    if head.get("schema_version") != SCHEMA_VERSION:
        raise SchemaError(
            f"{path}: schema_version {head.get('schema_version')!r}, this code reads {SCHEMA_VERSION}"
        )
    rows = [row_from_dict(json.loads(line), f"{path.name} line {i + 2}") for i, line in enumerate(lines[1:])]
    return Results(rows, head)


def write(results: Results, path: Path = RESULTS) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(results.header)] + [json.dumps(row_to_dict(r)) for r in results.rows]
    path.write_text("\n".join(lines) + "\n")


def append(row: Row, path: Path = RESULTS) -> None:
    """Add one row, writing the header first if the file is new (an interrupted run loses no row)."""
    path = Path(path)
    if not path.is_file():
        write(Results([]), path)
    with path.open("a") as fh:
        fh.write(json.dumps(row_to_dict(row)) + "\n")


def problems(results: Results) -> List[str]:
    """What in a results file contradicts the registry: unknown names, seeds or steps that are not the
    arm's, an average that is not the mean of the types, duplicate keys."""
    out: List[str] = []
    seen = set()
    for row in results.rows:
        if row.key in seen:
            out.append(f"duplicate {row.kind} row {row.key}")
        seen.add(row.key)
        if isinstance(row, RestoreRow):
            out += _restore_problems(row)
        elif isinstance(row, ClassifierRow):
            if row.pretraining not in PRETRAININGS:
                out.append(f"classifier row of unknown pre-training {row.pretraining!r}")
            shape = (len(row.classes), len(row.predicted))
            if (len(row.confusion), len(row.confusion[0]) if row.confusion else 0) != shape:
                out.append(f"{row.key}: confusion is not {shape[0]} x {shape[1]} (classes x predicted)")
    return out


def _restore_problems(row: RestoreRow) -> List[str]:
    arm = ARMS.get(row.arm)
    if arm is None:
        return [f"row of unknown arm {row.arm!r}"]
    out = []
    if (row.pretrain_seed, row.finetune_seed) not in arm.seeds:
        out.append(f"{row.key}: seeds not among {arm.name}'s declared seeds")
    pre_steps = PRETRAININGS[arm.pretraining].steps if arm.pretraining else 0
    if (row.pretrain_steps, row.finetune_steps) != (pre_steps, arm.finetune_steps):
        out.append(
            f"{row.key}: P = {row.pretrain_steps}, F = {row.finetune_steps}; the arm is P = {pre_steps}, "
            f"F = {arm.finetune_steps}"
        )
    types = [v for k, v in row.psnr.items() if k != "average"]
    if "average" not in row.psnr or abs(sum(types) / len(types) - row.psnr["average"]) > 1e-6:
        out.append(f"{row.key}: psnr average is not the mean of its {len(types)} types")
    return out
