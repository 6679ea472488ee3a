"""The committed results file follows its schema and the registry; the schema refuses what it does not know."""

import json

import pytest

from experiments import results as store
from experiments.migrate import FROM, ROOT


def test_the_committed_results_file_validates():
    results = store.read(store.RESULTS)
    assert results.header["schema_version"] == store.SCHEMA_VERSION
    assert results.header["protocol"] == store.PROTOCOL
    assert store.problems(results) == []
    assert len(results.restore()) >= 159 and len(results.classifier()) >= 26


def _row(**changes):
    raw = {
        "kind": "restore",
        "arm": "scratch",
        "pretrain_seed": None,
        "finetune_seed": 0,
        "pretrain_steps": 0,
        "finetune_steps": 1200,
        "psnr": {"rain": 20.0, "haze": 22.0, "average": 21.0},
    }
    return {**raw, **changes}


def test_a_row_round_trips(tmp_path):
    path = tmp_path / "results.jsonl"
    row = store.row_from_dict(_row())
    store.append(row, path)
    store.append(store.row_from_dict(_row(finetune_seed=1)), path)
    back = store.read(path)
    assert back.rows[0] == row and len(back.rows) == 2
    assert json.loads(path.read_text().splitlines()[0])["schema_version"] == store.SCHEMA_VERSION


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"kind": "gain"}, "kind"),
        ({"arms": "scratch"}, "unknown field"),
        ({"finetune_seed": "0"}, "finetune_seed"),
        ({"psnr": {"rain": "20"}}, "psnr"),
        ({"arm": None}, "arm is null"),
    ],
)
def test_the_schema_refuses(changes, message):
    with pytest.raises(store.SchemaError, match=message):
        store.row_from_dict(_row(**changes))


def test_problems_name_rows_that_contradict_the_registry():
    rows = [
        store.row_from_dict(_row()),
        store.row_from_dict(_row()),
        store.row_from_dict(_row(arm="dcpt-lr-1e-3", pretrain_seed=9, pretrain_steps=4000)),
        store.row_from_dict(_row(finetune_seed=1, finetune_steps=400)),
        store.row_from_dict(_row(finetune_seed=2, psnr={"rain": 20.0, "average": 21.0})),
        store.row_from_dict(_row(arm="nope")),
    ]
    found = "\n".join(store.problems(store.Results(rows)))
    for text in ("duplicate", "declared seeds", "F = 400", "mean of its 1 types", "unknown arm 'nope'"):
        assert text in found


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"schema_version": store.SCHEMA_VERSION + 1}) + "\n")
    with pytest.raises(store.SchemaError, match="schema_version"):
        store.read(path)


def test_the_migration_still_reproduces_the_committed_rows():
    """Every row of the old benchmarks/results files (read from git at FROM) is in the results file."""
    import subprocess

    from experiments.migrate import migrate

    if subprocess.run(["git", "cat-file", "-e", FROM], cwd=ROOT, capture_output=True).returncode:
        pytest.skip(f"commit {FROM[:7]} is not in this checkout's history")
    migrated, _ = migrate()
    committed = {json.dumps(store.row_to_dict(r), sort_keys=True) for r in store.read(store.RESULTS).rows}
    assert all(json.dumps(store.row_to_dict(r), sort_keys=True) in committed for r in migrated.rows)
