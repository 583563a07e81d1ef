"""Replay an organization's CloudTrail on Spark with keyward's engine (docs/spark.md).

::

    python -m keyward.spark replay --world world.json --logs s3a://trail/AWSLogs/ [--json]
        [--against new-world.json] [--out decisions/] [--master local[2]]

Spark lists and reads the log files where they are (local paths, ``s3a://`` and any other
Hadoop file system); each task hands its files to keyward (``mapInArrow``), which decompresses
them, explodes ``Records``, maps every record to a request and decides it exactly as
``keyward replay`` does (the same Rust code, not a re-implementation). The world travels as a
broadcast JSON text and is compiled once per Python worker, cached by its SHA-256. The rows add
up on the driver into the same summary as ``keyward replay --json``: totals, decisions,
agreement with AWS, the most denied principals, keys and actions, disagreements with their
eventID and explanation, bad records, and with ``--against`` the decisions that change.
``--out`` writes one row per record as Parquet, partitioned by account and day.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

# Names a folder walk picks up, as `keyward replay` (src/replay/read.rs).
LOG_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz")

# Bad-record kinds in the order `keyward replay --json` lists them.
BAD_KINDS = (
    "invalid-json",
    "invalid-field",
    "missing-field",
    "unknown-identity-type",
    "unmappable",
    "truncated-gzip",
    "unreadable",
    "not-cloudtrail",
    "too-large",
)

# Rows in the most-denied tables, as the CLI.
TOP = 10

# One row per record: what `Engine.replay_files` returns.
ROW_SCHEMA = (
    "file_index long, record long, file string, event_id string, account string, day string, "
    "event_name string, principal string, outcome string, reason string, error string, "
    "decision string, recorded string, comparison string, denied_principal string, "
    "denied_key string, denied_action string, disagreement string, change string, "
    "change_group string"
)

# Compiled engines of this Python worker, by the SHA-256 of their world's JSON text.
_ENGINES: Dict[str, Any] = {}


def engine_for(world_json: str) -> Any:
    """The compiled engine of a world's JSON text, compiled once per worker process."""
    digest = hashlib.sha256(world_json.encode("utf-8")).hexdigest()
    engine = _ENGINES.get(digest)
    if engine is None:
        import keyward

        engine = keyward.Engine(keyward.World.from_json(world_json, "(broadcast world)"))
        _ENGINES[digest] = engine
    return engine


def replay_partition(
    world: Any,
    against: Optional[Any],
    files: Any,
    max_rows: int,
    batches: Iterator[Any],
) -> Iterator[Any]:
    """``mapInArrow`` body: replays every file of the partition's batches (columns path,
    content) and yields the rows, at most ``max_rows`` per batch. ``world`` and ``against`` are
    broadcast JSON texts, ``files`` a broadcast map from path to (name, position)."""
    import pyarrow as pa

    engine = engine_for(world.value)
    other = engine_for(against.value) if against is not None else None
    names = files.value
    for batch in batches:
        paths = batch.column("path").to_pylist()
        contents = batch.column("content")
        for i, path in enumerate(paths):
            if path not in names:
                continue  # a file `keyward replay` would not read (a digest, another suffix)
            shown, position = names[path]
            one = pa.RecordBatch.from_arrays(
                [pa.array([shown]), pa.array([position], pa.int64()), contents.slice(i, 1)],
                names=["file", "file_index", "content"],
            )
            out = engine.replay_files(one, other)
            for start in range(0, out.num_rows, max_rows):
                yield out.slice(start, max_rows)


def _components(relative: str) -> List[str]:
    return [c for c in relative.split("/") if c]


def list_inputs(spark: Any, logs: List[str]) -> List[Tuple[str, str, int]]:
    """The log files to read, in `keyward replay`'s order: each argument in turn, folders walked
    recursively in name order, skipping hidden entries and ``CloudTrail-Digest`` folders and
    taking only log-like names. Returns (Hadoop path, name in reports, size)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    out: List[Tuple[str, str, int]] = []
    for arg in logs:
        hpath = jvm.org.apache.hadoop.fs.Path(arg)
        fs = hpath.getFileSystem(conf)
        if not fs.exists(hpath):
            raise SystemExit(f"keyward: {arg}: no such file or folder")
        qualified = fs.makeQualified(hpath).toString()
        if not fs.getFileStatus(hpath).isDirectory():
            out.append((qualified, arg, fs.getFileStatus(hpath).getLen()))
            continue
        found = []
        walk = fs.listFiles(hpath, True)
        prefix = qualified.rstrip("/") + "/"
        while walk.hasNext():
            status = walk.next()
            path = status.getPath().toString()
            relative = path[len(prefix):] if path.startswith(prefix) else status.getPath().getName()
            parts = _components(relative)
            if any(p.startswith(".") or p == "CloudTrail-Digest" for p in parts[:-1]):
                continue
            if parts[-1].startswith(".") or not parts[-1].endswith(LOG_SUFFIXES):
                continue
            found.append((parts, path, status.getLen()))
        found.sort(key=lambda f: [p.encode("utf-8") for p in f[0]])
        base = arg.rstrip("/") if arg.rstrip("/") else "/"
        for parts, path, size in found:
            out.append((path, base + "/" + "/".join(parts), size))
    return out


def _top(counts: Dict[str, int], name: str) -> List[Dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode("utf-8")))[:TOP]
    return [{name: k, "count": n} for k, n in ranked]


def _group_changes(listed: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Groups the listed changes as `keyward replay --against --json` does: allow-to-deny
    first, then by principal, resource, action and the reasons on each side."""
    groups: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
    for g in listed:
        key = (
            g["change"] != "allow-to-deny",
            g["principal"],
            g["resource"],
            g["action"],
            json.dumps(g["before"].get("reasons", [])),
            json.dumps(g["after"].get("reasons", [])),
        )
        if key in groups:
            groups[key]["count"] += 1
            groups[key]["records"].extend(g["records"])
        else:
            groups[key] = dict(g, records=list(g["records"]))
    return [groups[k] for k in sorted(groups, key=lambda k: tuple(
        x.encode("utf-8") if isinstance(x, str) else x for x in k))]


def summarize(rows: Any, limit: int, against: bool) -> Dict[str, Any]:
    """Adds the replay rows up into `keyward replay --json`'s summary, field for field."""
    from pyspark.sql import functions as F

    def listed(frame: Any) -> List[Any]:
        frame = frame.orderBy("file_index", "record")
        return frame.limit(limit).collect() if limit else frame.collect()

    counts = rows.groupBy("outcome", "reason", "decision", "recorded", "comparison", "change") \
        .count().collect()
    n: Dict[str, int] = {}
    skipped: Dict[str, int] = {}
    bad: Dict[str, int] = {}
    decisions = {"Allow": 0, "ExplicitDeny": 0, "ImplicitDeny": 0}
    codes: Dict[str, int] = {}
    recorded = {"allowed": 0, "denied": 0}
    comparison = {"agree": 0, "disagree": 0, "not_compared": 0}
    change = {"allow-to-deny": 0, "deny-to-allow": 0}
    for r in counts:
        c = r["count"]
        n[r["outcome"]] = n.get(r["outcome"], 0) + c
        if r["outcome"] == "skipped":
            skipped[r["reason"]] = skipped.get(r["reason"], 0) + c
        elif r["outcome"] == "bad":
            bad[r["reason"]] = bad.get(r["reason"], 0) + c
        elif r["outcome"] == "evaluated":
            decisions[r["decision"]] += c
            if r["recorded"] in recorded:
                recorded[r["recorded"]] += c
            else:
                codes[r["recorded"]] = codes.get(r["recorded"], 0) + c
            comparison[r["comparison"]] += c
            if r["change"]:
                change[r["change"]] += c
    total = sum(n.values())
    tops = {}
    for column, name in (("denied_principal", "principal"), ("denied_key", "key"),
                         ("denied_action", "action")):
        got = rows.where(F.col(column).isNotNull()).groupBy(column).count().collect()
        tops[name + "s"] = _top({r[column]: r["count"] for r in got}, name)
    disagreements = [json.loads(r["disagreement"]) for r in
                     listed(rows.where(F.col("comparison") == "disagree"))]
    bad_list = [{"source": {"file": r["file"], "record": r["record"]}, "kind": r["reason"],
                 "error": r["error"]} for r in listed(rows.where(F.col("outcome") == "bad"))]
    summary: Dict[str, Any] = {
        "totals": {
            "records": total,
            "kms_records": total - n.get("not_kms", 0),
            "skipped_non_kms": n.get("not_kms", 0),
            "skipped_not_authorization": n.get("skipped", 0),
            "bad_records": n.get("bad", 0),
            "evaluated": n.get("evaluated", 0),
        },
        "skipped_reasons": dict(sorted(skipped.items(), key=lambda kv: kv[0].encode("utf-8"))),
        "bad_by_kind": {k: bad[k] for k in BAD_KINDS if k in bad},
        "decisions": decisions,
        "recorded": {
            "allowed": recorded["allowed"],
            "denied": recorded["denied"],
            "other_error": sum(codes.values()),
            "other_error_codes": dict(sorted(codes.items(), key=lambda kv: kv[0].encode("utf-8"))),
        },
        "comparison": {
            "agreements": comparison["agree"],
            "disagreements": comparison["disagree"],
            "not_compared": comparison["not_compared"],
        },
        "top_denied": tops,
        "disagreements": disagreements,
        "bad_records": bad_list,
        "unlisted": {
            "disagreements": comparison["disagree"] - len(disagreements),
            "bad_records": n.get("bad", 0) - len(bad_list),
        },
        "limit": limit,
    }
    if against:
        changes = [json.loads(r["change_group"]) for r in
                   listed(rows.where(F.col("change").isNotNull()))]
        changed = change["allow-to-deny"] + change["deny-to-allow"]
        summary["diff"] = {
            "changed": changed,
            "allow_to_deny": change["allow-to-deny"],
            "deny_to_allow": change["deny-to-allow"],
            "unlisted": changed - len(changes),
            "groups": _group_changes(changes),
        }
    return summary


def failed(summary: Dict[str, Any]) -> bool:
    """Whether the replay found what `keyward replay` reports as failure (exit 1)."""
    if "diff" in summary:
        return summary["diff"]["changed"] > 0 or summary["totals"]["bad_records"] > 0
    return summary["comparison"]["disagreements"] > 0 or summary["totals"]["bad_records"] > 0


def to_text(summary: Dict[str, Any], inputs: int) -> str:
    """The summary for people, in the CLI's words."""
    t, d, r, c = summary["totals"], summary["decisions"], summary["recorded"], \
        summary["comparison"]
    lines = [
        f"replayed {t['records']} records from {inputs} inputs",
        f"  other services, skipped  {t['skipped_non_kms']:>10}",
        f"  KMS, not authorizations  {t['skipped_not_authorization']:>10}",
        f"  bad records              {t['bad_records']:>10}",
        f"  evaluated                {t['evaluated']:>10}",
        f"decisions: Allow {d['Allow']}, ExplicitDeny {d['ExplicitDeny']}, "
        f"ImplicitDeny {d['ImplicitDeny']}",
        f"AWS recorded: allowed {r['allowed']}, denied {r['denied']}, "
        f"other errors {r['other_error']}",
        f"agreement with AWS: {c['agreements']} agree, {c['disagreements']} disagree, "
        f"{c['not_compared']} not compared (errors other than authorization)",
    ]
    for x in summary["disagreements"]:
        s = x["source"]
        lines.append(f"  {s['file']} record {s['record']} (eventID {s.get('eventID', '?')}): "
                     f"AWS {x['recorded']}, keyward {x['decision']['decision']}")
    if "diff" in summary:
        diff = summary["diff"]
        lines.append(f"changed decisions: {diff['changed']} ({diff['allow_to_deny']} allow to "
                     f"deny, {diff['deny_to_allow']} deny to allow)")
    return "\n".join(lines)


def _read_world(path: str) -> str:
    import keyward

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SystemExit(f"keyward: {path}: {e}")
    try:
        keyward.World.from_json(text, path)
    except ValueError as e:
        print(f"keyward: {e}", file=sys.stderr)
        raise SystemExit(2)
    return text


def replay(args: argparse.Namespace) -> int:
    """Runs `replay`: returns the exit code (0, or 1 when the replay found failures)."""
    from pyspark.sql import SparkSession

    import keyward.spark as importable  # by name, so that executors import it rather than unpickle it

    world = _read_world(args.world)
    against = _read_world(args.against) if args.against else None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("keyward replay")
    if args.master:
        builder = builder.master(args.master)
    builder = builder.config("spark.ui.enabled", "false") \
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.batch_size))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        inputs = list_inputs(spark, args.logs)
        if not inputs:
            print("keyward: no log files found", file=sys.stderr)
            return 2
        partitions = args.partitions or 2 * spark.sparkContext.defaultParallelism
        total = sum(size for _, _, size in inputs)
        spark.conf.set("spark.sql.files.minPartitionNum", str(partitions))
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(max(1, -(-total // partitions))))
        spark.conf.set("spark.sql.files.openCostInBytes", "0")
        files = spark.sparkContext.broadcast(
            {path: (shown, i) for i, (path, shown, _) in enumerate(inputs)})
        world_bc = spark.sparkContext.broadcast(world)
        against_bc = spark.sparkContext.broadcast(against) if against is not None else None
        body = functools.partial(importable.replay_partition, world_bc, against_bc, files,
                                 args.batch_size)
        # Spark lists the arguments again (in parallel on object stores); the body skips what
        # the listing above left out.
        read = spark.read.format("binaryFile").option("recursiveFileLookup", "true") \
            .load(args.logs)
        started = time.perf_counter()
        rows = read.select("path", "content").mapInArrow(body, ROW_SCHEMA).persist()
        if args.out:
            rows.write.mode("overwrite").partitionBy("account", "day").parquet(args.out)
        summary = summarize(rows, args.limit, against is not None)
        elapsed = time.perf_counter() - started
        rows.unpersist()
        if args.stats:
            cores = spark.sparkContext.defaultParallelism
            rate = summary["totals"]["records"] / elapsed
            print(f"keyward: replayed {summary['totals']['records']} records in {elapsed:.2f} s "
                  f"(session start and listing excluded): {rate:.0f} records/s, "
                  f"{rate / cores:.0f} per core on {cores} cores", file=sys.stderr)
    finally:
        spark.stop()
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(to_text(summary, len(inputs)))
    return 1 if failed(summary) else 0


def main(argv: Optional[List[str]] = None) -> int:
    """The command line: ``python -m keyward.spark replay ...``."""
    parser = argparse.ArgumentParser(prog="python -m keyward.spark",
                                     description="keyward on Spark (docs/spark.md)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("replay", help="replay CloudTrail logs against a world, on Spark",
                       description="Recompute every KMS decision in CloudTrail logs on Spark and "
                       "compare it with what AWS recorded, like `keyward replay`.")
    p.add_argument("--world", required=True, help="the world JSON file")
    p.add_argument("--logs", required=True, action="append",
                   help="log files or folders: local paths, s3a://... (repeatable)")
    p.add_argument("--against", help="a second world: report the decisions that change")
    p.add_argument("--master", help="Spark master, e.g. local[2] (default: Spark's own)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--out", help="write one row per record as Parquet here, by account and day")
    p.add_argument("--limit", type=int, default=1000,
                   help="most records listed per category (0: all); counts are always complete")
    p.add_argument("--partitions", type=int, default=0,
                   help="Spark partitions to read the files into (default: 2 per core)")
    p.add_argument("--batch-size", type=int, default=10000,
                   help="most rows per Arrow batch (spark.sql.execution.arrow.maxRecordsPerBatch)")
    p.add_argument("--stats", action="store_true",
                   help="print the replay's wall time and records per second to standard error")
    args = parser.parse_args(argv)
    if args.limit < 0 or args.batch_size < 1 or args.partitions < 0:
        parser.error("--limit and --partitions must be at least 0, --batch-size at least 1")
    return replay(args)


if __name__ == "__main__":
    sys.exit(main())
