//! Replay throughput, in records per second: parsing and mapping alone, and parsing, mapping and
//! deciding, on generated CloudTrail logs (gzipped and plain), with one and two worker threads.
//!
//! `cargo bench --bench replay` runs the measurements on 200k generated records.
//!
//! `KEYWARD_REPLAY_GEN=DIR:RECORDS[:plain] cargo bench --bench replay` only writes a world
//! (`DIR/world.json`) and RECORDS records of logs (`DIR/logs/`, gzipped unless `plain`), for
//! measuring the `keyward replay` binary itself (for example its memory with `/usr/bin/time -v`).

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use keyward::engine::Engine;
use keyward::replay::map::{map_record, Mapping, Recorded};
use keyward::replay::read::{self, Input, Visit};
use keyward::replay::record::Record;
use keyward::replay::run::{self, Options};
use keyward::replay::synth::{write_logs, LogOptions};
use keyward::replay::time::format_time;
use keyward::replay::{At, Bad};
use keyward::{Outcome, Request, World};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const A: &str = "111122223333";
const B: &str = "444455556666";
const KEYS: usize = 40;
const USERS: usize = 60;
const ROLES: usize = 40;
const START: i64 = 1_777_885_200;

fn key(i: usize) -> String {
    let region = ["us-east-1", "us-west-2", "eu-west-1"][i % 3];
    format!(
        "arn:aws:kms:{region}:{A}:key/{i:08x}-1234-4abc-8def-{:012x}",
        i * 7919
    )
}

fn region_of(i: usize) -> &'static str {
    ["us-east-1", "us-west-2", "eu-west-1"][i % 3]
}

/// A world shaped like a real account: console default key policies with administrators and
/// users, AWS managed style keys for S3, a cross-account key, users with identity policies.
fn world_json() -> Value {
    let mut keys = Vec::new();
    for i in 0..KEYS {
        let mut statements = vec![
            json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")}, "Action": "kms:*", "Resource": "*"}),
            json!({"Sid": "Allow access for Key Administrators", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:role/KeyAdmin")},
                   "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*",
                              "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
                   "Resource": "*"}),
            json!({"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:role/service/app-{}", i % ROLES)},
                   "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}),
        ];
        if i % 4 == 1 {
            statements.push(json!({"Sid": "Through S3", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": A, "kms:ViaService": format!("s3.{}.amazonaws.com", region_of(i))}}}));
        }
        if i % 4 == 2 {
            statements.push(json!({"Sid": "Only through the VPC endpoint", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60789"}, "Bool": {"aws:ViaAWSService": "false"}}}));
        }
        if i % 4 == 3 {
            statements.push(json!({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{B}:root")}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}));
        }
        keys.push(json!({"arn": key(i), "aliases": [format!("alias/key-{i}")], "policy": {"Version": "2012-10-17", "Statement": statements}}));
    }
    let mut principals = vec![json!({"arn": format!("arn:aws:iam::{A}:role/KeyAdmin")})];
    for u in 0..USERS {
        let own = key(u % KEYS);
        principals.push(json!({"arn": format!("arn:aws:iam::{A}:user/user-{u}"), "groups": [format!("arn:aws:iam::{A}:group/devs")], "policies": [{"Version": "2012-10-17", "Statement": [
            {"Sid": "OwnKey", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": own},
            {"Sid": "NoDeletionWithoutMfa", "Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
             "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
            {"Sid": "FromOffice", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
        ]}]}));
    }
    for r in 0..ROLES {
        principals.push(json!({"arn": format!("arn:aws:iam::{A}:role/service/app-{r}"), "tags": {"team": format!("t{}", r % 5)}}));
    }
    principals.push(json!({"arn": format!("arn:aws:iam::{B}:role/partner"), "policies": [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": format!("arn:aws:kms:*:{A}:key/*")}]}]}));
    json!({
        "accounts": [{"id": A, "org_id": "o-a1b2c3d4e5"}, {"id": B, "org_id": "o-a1b2c3d4e5"}],
        "keys": keys,
        "principals": principals,
        "groups": [{"arn": format!("arn:aws:iam::{A}:group/devs"), "policies": [{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["kms:Describe*", "kms:List*"], "Resource": "*"}]}]}]
    })
}

/// SplitMix64, for a deterministic request mix.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `i`-th request of the workload: mostly cryptographic calls by role sessions (directly
/// and through S3), some user calls, administration, listing, and cross-account use.
fn request(i: u64) -> Request {
    let h = mix(i);
    let k = (h % KEYS as u64) as usize;
    let region = region_of(k);
    let t = START + i as i64 / 50;
    let pick = (h >> 8) % 100;
    let role = (h >> 16) % ROLES as u64;
    let user = (h >> 24) % USERS as u64;
    let (principal, action, mut ctx) = match pick {
        0..=34 => (
            format!(
                "arn:aws:sts::{A}:assumed-role/app-{role}/i-{:012x}",
                h >> 20
            ),
            "kms:Decrypt",
            json!({"aws:SourceIp": "10.0.1.17"}),
        ),
        35..=54 => (
            format!("arn:aws:sts::{A}:assumed-role/app-{role}/s3-session"),
            "kms:GenerateDataKey",
            json!({"kms:ViaService": format!("s3.{region}.amazonaws.com")}),
        ),
        55..=69 => (
            format!("arn:aws:iam::{A}:user/user-{user}"),
            "kms:Decrypt",
            json!({"aws:SourceIp": "203.0.113.40"}),
        ),
        70..=79 => (
            format!("arn:aws:iam::{A}:user/user-{user}"),
            "kms:Encrypt",
            json!({"aws:SourceVpce": "vpce-0a1b2c3d4e5f60789"}),
        ),
        80..=86 => (
            format!("arn:aws:iam::{A}:user/user-{user}"),
            "kms:DescribeKey",
            json!({"aws:SourceIp": "198.51.100.4"}),
        ),
        87..=91 => (
            format!("arn:aws:sts::{A}:assumed-role/KeyAdmin/admin"),
            "kms:ScheduleKeyDeletion",
            json!({"aws:MultiFactorAuthPresent": "true", "aws:SourceIp": "198.51.100.4"}),
        ),
        92..=95 => (
            format!("arn:aws:iam::{A}:user/user-{user}"),
            "kms:ListAliases",
            json!({"aws:SourceIp": "198.51.100.4"}),
        ),
        _ => (
            format!("arn:aws:sts::{B}:assumed-role/partner/batch"),
            "kms:Encrypt",
            json!({"aws:SourceIp": "192.0.2.80"}),
        ),
    };
    ctx["aws:RequestedRegion"] = region.into();
    ctx["aws:CurrentTime"] = format_time(t).into();
    ctx["aws:EpochTime"] = t.to_string().into();
    ctx["aws:UserAgent"] = "aws-sdk-java/2.25.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/21.0.2".into();
    let resource = if action == "kms:ListAliases" {
        "*".to_owned()
    } else {
        key(k)
    };
    let mut v =
        json!({"principal": principal, "action": action, "resource": resource, "context": ctx});
    if matches!(
        action,
        "kms:Decrypt" | "kms:Encrypt" | "kms:GenerateDataKey"
    ) {
        v["encryption_context"] =
            json!({"aws:s3:arn": format!("arn:aws:s3:::bucket-{k}/objects/{:x}", h >> 40)});
    }
    Request::from_value(&v).expect("generated request").0
}

/// Writes `world.json` and `n` records of logs under `dir`; returns the world.
fn generate(dir: &Path, n: u64, gzip: bool) -> World {
    let value = world_json();
    std::fs::write(
        dir.join("world.json"),
        serde_json::to_string_pretty(&value).unwrap(),
    )
    .unwrap();
    let world = World::from_value(&value, "bench world").unwrap();
    let engine = Engine::compile(world.clone());
    let stream = (0..n).map(|i| {
        let r = request(i);
        let outcome = if engine.decide(&r).outcome == Outcome::Allow {
            Recorded::Allowed
        } else {
            Recorded::Denied
        };
        (r, outcome)
    });
    let options = LogOptions {
        records_per_file: 5000,
        gzip,
        ..LogOptions::default()
    };
    let written = write_logs(&world, &dir.join("logs"), stream, &options).unwrap();
    assert!(written.skipped.is_empty(), "{:?}", written.skipped.first());
    world
}

/// Reads and maps every record, deciding nothing.
struct ParseOnly;

impl Visit for ParseOnly {
    type Acc = u64;
    fn start(&self) -> u64 {
        0
    }
    fn record(&self, acc: &mut u64, _at: At, rec: &Record<'_>) {
        if let Mapping::Request(m) = map_record(rec) {
            *acc += std::hint::black_box(m).request.context.len() as u64 & 1 | 1;
        }
    }
    fn bad(&self, _acc: &mut u64, _at: At, bad: Bad) {
        panic!("{bad}");
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let n: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let plain_dir = dir.path().join("plain");
    let gz_dir = dir.path().join("gzip");
    std::fs::create_dir_all(&plain_dir).unwrap();
    std::fs::create_dir_all(&gz_dir).unwrap();
    let world = generate(&plain_dir, n, false);
    generate(&gz_dir, n, true);
    let engine = Engine::compile(world);
    let inputs =
        |d: &Path| -> Vec<Input> { read::inputs(&[d.join("logs").display().to_string()]).unwrap() };
    let (plain, gz) = (inputs(&plain_dir), inputs(&gz_dir));

    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for threads in [1, 2] {
        let pool = pool(threads);
        for (format, files) in [("plain", &plain), ("gzip", &gz)] {
            group.bench_function(BenchmarkId::new(format!("parse/{format}"), threads), |b| {
                b.iter(|| {
                    pool.install(|| assert_eq!(read::visit_all(files, &ParseOnly, &|_| {}), n))
                })
            });
            group.bench_function(
                BenchmarkId::new(format!("parse+evaluate/{format}"), threads),
                |b| {
                    b.iter(|| {
                        let s = pool.install(|| {
                            run::replay(files, &engine, None, Options::default(), &|_| {})
                        });
                        assert_eq!((s.evaluated, s.disagreements), (n, 0));
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("KEYWARD_REPLAY_GEN") {
        let mut parts = spec.split(':');
        let dir = Path::new(parts.next().unwrap_or_default());
        let n: u64 = parts
            .next()
            .and_then(|p| p.parse().ok())
            .expect("KEYWARD_REPLAY_GEN=DIR:RECORDS[:plain]");
        let gzip = parts.next() != Some("plain");
        std::fs::create_dir_all(dir).unwrap();
        generate(dir, n, gzip);
        eprintln!(
            "wrote {}/world.json and {n} records under {}/logs",
            dir.display(),
            dir.display()
        );
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
