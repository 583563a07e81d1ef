"""The Python API gives the CLI's answers: check, check_batch, check_arrow, map_records."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

import keyward

from conftest import ROOT, run_cli


def requests_of(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def cli_decisions(world, requests_path):
    done = run_cli("check", "--world", world, requests_path)
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def generated(trail):
    world = keyward.World.load(trail["world"])
    requests = requests_of(trail["requests"])
    assert len(requests) >= 300
    return keyward.Engine(world), requests, cli_decisions(trail["world"], trail["requests"])


def test_check_matches_the_cli(generated):
    engine, requests, expected = generated
    got = [engine.check(r) for r in requests]
    assert got == expected
    assert {d["decision"] for d in got} >= {"Allow", "ImplicitDeny"}


def test_check_batch_matches_the_cli(generated):
    engine, requests, expected = generated
    assert engine.check_batch(requests) == expected


def test_check_batch_answers_a_bad_request_with_a_deny():
    engine = keyward.Engine(keyward.World.load(str(ROOT / "corpus/default/world.json")))
    out = engine.check_batch([{"principal": "not an arn", "action": "kms:Decrypt",
                               "resource": "*"}])
    assert out[0]["decision"] == "ImplicitDeny"
    assert "principal" in out[0]["error"]
    with pytest.raises(ValueError, match="principal"):
        engine.check({"action": "kms:Decrypt", "resource": "*"})


def to_columns(requests):
    """Requests as check_arrow's columns; fields beyond the named ones go to request_extra."""
    named = ("principal", "action", "resource", "context", "encryption_context", "grant_id")
    cols = {n: [] for n in named + ("request_extra",)}
    for r in requests:
        for n in ("principal", "action", "resource", "grant_id"):
            cols[n].append(r.get(n))
        for n in ("context", "encryption_context"):
            cols[n].append(json.dumps(r[n]) if n in r else None)
        extra = {k: v for k, v in r.items() if k not in named}
        cols["request_extra"].append(json.dumps(extra) if extra else None)
    return pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in cols.items()})


def test_check_arrow_matches_the_cli(generated):
    engine, requests, expected = generated
    out = engine.check_arrow(to_columns(requests))
    assert isinstance(out, pa.RecordBatch)
    assert out.num_rows == len(requests)
    assert out.column("decision").to_pylist() == [d["decision"] for d in expected]
    assert [json.loads(r) for r in out.column("reasons").to_pylist()] == \
        [d["reasons"] for d in expected]
    assert out.column("error").null_count == len(requests)


def test_check_arrow_takes_large_strings_and_reports_bad_rows(generated):
    engine, requests, expected = generated
    batch = to_columns(requests[:5])
    large = pa.RecordBatch.from_arrays(
        [c.cast(pa.large_string()) for c in batch.columns], names=batch.schema.names)
    assert engine.check_arrow(large).column("decision").to_pylist() == \
        [d["decision"] for d in expected[:5]]
    bad = pa.RecordBatch.from_pydict({"principal": ["nobody"], "action": ["kms:Decrypt"],
                                      "resource": ["*"]})
    out = engine.check_arrow(bad)
    assert out.column("decision").to_pylist() == ["ImplicitDeny"]
    assert "principal" in out.column("error")[0].as_py()
    with pytest.raises(ValueError, match="column action is missing"):
        engine.check_arrow(pa.RecordBatch.from_pydict({"principal": ["x"], "resource": ["*"]}))


def test_world_errors_name_the_file(tmp_path):
    bad = tmp_path / "w.json"
    bad.write_text('{"keys": [{"arn": 7}]}')
    with pytest.raises(ValueError, match="w.json"):
        keyward.World.load(str(bad))
    with pytest.raises(OSError):
        keyward.World.load(str(tmp_path / "missing.json"))
    assert len(keyward.World.from_json('{"keys": []}').digest) == 64


def raw_records(logs):
    """Every record of the example trail as JSON text, with its file and index."""
    out = []
    for f in sorted(Path(logs).rglob("*.json*")):
        data = f.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for i, r in enumerate(json.loads(data)["Records"]):
            out.append((str(f), i, json.dumps(r)))
    return out


def test_map_records_matches_the_cli_mapping(example):
    done = run_cli("replay", "--emit-requests", example["logs"])
    emitted = {}
    for line in done.stdout.splitlines():
        v = json.loads(line)
        emitted[(v["source"]["file"], v["source"]["record"])] = v
    records = raw_records(example["logs"])
    out = keyward.map_records(pa.RecordBatch.from_pydict(
        {"record": [r for _, _, r in records]})).to_pylist()
    assert len(out) == len(records)
    mapped = 0
    for (file, index, _), row in zip(records, out):
        cli = emitted.get((file, index))
        if row["status"] == "request":
            mapped += 1
            request = {k: row[k] for k in ("principal", "action", "resource", "grant_id") if row[k]}
            for k in ("context", "encryption_context"):
                if row[k]:
                    request[k] = json.loads(row[k])
            request.update(json.loads(row["request_extra"] or "{}"))
            expected = {k: v for k, v in cli.items() if k not in ("source", "recorded", "notes")}
            assert request == expected, (file, index)
            assert row["recorded"] == cli["recorded"]
            assert row["event_id"] == cli["source"].get("eventID")
        elif row["status"] == "skipped":
            assert cli["skipped"] == row["reason"]
        elif row["status"] == "bad":
            assert row["reason"].startswith(cli["bad"])
        else:
            assert row["status"] == "not_kms" and cli is None
    assert mapped > 0
