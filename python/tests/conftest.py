"""Shared fixtures: the keyward binary, a generated trail and the CLI's answers on it.

The trail is generated once per session with `keyward gen --cloudtrail` (size from
KEYWARD_SPARK_RECORDS, 200000 by default) into a temporary folder, with two damaged files added
so that bad records are compared too.
"""

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def keyward_bin() -> str:
    """The keyward binary: $KEYWARD_BIN, or the workspace's release build."""
    path = os.environ.get("KEYWARD_BIN") or str(ROOT / "target" / "release" / "keyward")
    if not Path(path).exists():
        pytest.skip(f"{path} is missing: build it with `cargo build --release`")
    return path


def run_cli(*args: str, stdin: str = None) -> subprocess.CompletedProcess:
    """Runs the keyward CLI, returning the finished process (stdout as text)."""
    return subprocess.run([keyward_bin(), *args], input=stdin, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="session")
def trail(tmp_path_factory):
    """A generated world, a changed copy of it, and its CloudTrail logs (with damaged files)."""
    records = int(os.environ.get("KEYWARD_SPARK_RECORDS", "200000"))
    out = tmp_path_factory.mktemp("trail")
    done = run_cli("gen", "--keys", "2000", "--principals", "1000", "--seed", "7",
                   "--requests", "300", "--cloudtrail", str(records), "--out", str(out))
    assert done.returncode == 0, done.stderr
    logs = out / "cloudtrail"
    # A truncated gzip file and a file with one record of the wrong shape: bad records.
    first = sorted(logs.rglob("*.json.gz"))[0]
    data = first.read_bytes()
    (first.parent / "zz-truncated.json.gz").write_bytes(data[: len(data) // 2])
    doc = json.loads(gzip.decompress(data))
    doc["Records"] = doc["Records"][:3] + [{"eventSource": 7}] + doc["Records"][3:6]
    (first.parent / "zz-one-bad-record.json").write_text(json.dumps(doc))
    # The changed world: every third principal loses its identity policies, so some calls AWS
    # allowed are denied (disagreements) and decisions change between the two worlds.
    world = json.loads((out / "world.json").read_text())
    for i, p in enumerate(world.get("principals", [])):
        if i % 3 == 0:
            p["policies"] = []
    (out / "world-changed.json").write_text(json.dumps(world))
    return {
        "dir": out,
        "world": str(out / "world.json"),
        "changed": str(out / "world-changed.json"),
        "logs": str(logs),
        "requests": str(out / "requests.jsonl"),
    }


@pytest.fixture(scope="session")
def example():
    """The repository's example trail and world (corpus/cloudtrail/example)."""
    base = ROOT / "corpus" / "cloudtrail" / "example"
    if not base.exists():
        pytest.skip("corpus/cloudtrail/example is missing")
    return {"world": str(base / "world.json"), "tightened": str(base / "world-tightened.json"),
            "logs": str(base / "logs")}


def copy_tree(src: str, dst: Path) -> str:
    shutil.copytree(src, dst)
    return str(dst)
