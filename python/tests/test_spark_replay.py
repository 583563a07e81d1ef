"""Spark local[2] and `keyward replay` give the same summary on the same logs: totals,
decisions, agreement, the most denied, disagreements with their eventIDs, bad records, and with
--against the same changed decisions. Both are run as a user runs them, as commands."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from conftest import run_cli

MASTER = os.environ.get("KEYWARD_SPARK_MASTER", "local[2]")

# Each Spark run takes minutes on a shared machine: run these with KEYWARD_SPARK_EQUALITY=1.
pytestmark = pytest.mark.skipif(os.environ.get("KEYWARD_SPARK_EQUALITY") != "1",
                                reason="set KEYWARD_SPARK_EQUALITY=1 to run Spark against the CLI")


def spark_replay(*args):
    done = subprocess.run(
        [sys.executable, "-m", "keyward.spark", "replay", "--master", MASTER, "--json", *args],
        capture_output=True, text=True, timeout=1800)
    assert done.returncode in (0, 1), done.stderr[-4000:]
    return done.returncode, json.loads(done.stdout)


def cli_replay(*args):
    done = run_cli("replay", "--json", *args)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def event_ids(summary):
    return [d["source"].get("eventID") for d in summary["disagreements"]]


def assert_same(spark, cli):
    """Field by field, so that a failure names the field."""
    assert list(spark) == list(cli)
    for field in cli:
        assert spark[field] == cli[field], field


@pytest.fixture(scope="module")
def against_run(trail, tmp_path_factory):
    """The changed world replayed with --against the generated one, by Spark and the CLI."""
    out = tmp_path_factory.mktemp("parquet") / "decisions"
    spark = spark_replay("--world", trail["changed"], "--against", trail["world"],
                         "--logs", trail["logs"], "--out", str(out))
    cli = cli_replay("--world", trail["changed"], "--against", trail["world"], trail["logs"])
    return spark, cli, out


def test_the_trail_is_large_and_spans_accounts(against_run, trail):
    (_, spark), (_, cli), _ = against_run
    assert cli["totals"]["records"] >= int(os.environ.get("KEYWARD_SPARK_RECORDS", "200000"))
    accounts = os.listdir(os.path.join(trail["logs"], "AWSLogs"))
    assert len(accounts) >= 2


def test_against_gives_the_same_summary(against_run):
    (spark_rc, spark), (cli_rc, cli), _ = against_run
    assert spark["totals"] == cli["totals"]
    assert spark["decisions"] == cli["decisions"]
    assert spark["comparison"] == cli["comparison"]
    assert cli["comparison"]["disagreements"] > 0
    assert event_ids(spark) == event_ids(cli)
    assert spark["bad_by_kind"] == cli["bad_by_kind"] and cli["totals"]["bad_records"] >= 2
    assert spark["diff"]["changed"] == cli["diff"]["changed"] > 0
    assert_same(spark, cli)
    assert spark_rc == cli_rc == 1


def test_replay_gives_the_same_summary(trail):
    spark_rc, spark = spark_replay("--world", trail["world"], "--logs", trail["logs"],
                                   "--limit", "0")
    cli_rc, cli = cli_replay("--world", trail["world"], "--limit", "0", trail["logs"])
    assert cli["comparison"]["agreements"] > 0
    assert event_ids(spark) == event_ids(cli)
    assert_same(spark, cli)
    assert spark_rc == cli_rc


def test_parquet_holds_every_record_by_account_and_day(against_run):
    (_, spark), _, out = against_run
    accounts = sorted(p.split("=", 1)[1] for p in os.listdir(out) if p.startswith("account="))
    assert len(accounts) >= 2
    table = pq.read_table(str(out))
    assert table.num_rows == spark["totals"]["records"]
    decided = [d for d in table.column("decision").to_pylist() if d]
    assert len(decided) == spark["totals"]["evaluated"]
    assert decided.count("Allow") == spark["decisions"]["Allow"]
    changed = [c for c in table.column("change").to_pylist() if c]
    assert len(changed) == spark["diff"]["changed"]


def test_the_example_trail_gives_the_same_summary(example):
    """The repository's example trail: hand-written records of every caller type and shape."""
    spark_rc, spark = spark_replay("--world", example["world"], "--against", example["tightened"],
                                   "--logs", example["logs"])
    cli_rc, cli = cli_replay("--world", example["world"], "--against", example["tightened"],
                             example["logs"])
    assert cli["totals"]["evaluated"] > 0
    assert_same(spark, cli)
    assert spark_rc == cli_rc
