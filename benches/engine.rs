//! Criterion benches of the compiled engine: check throughput (string and pre-resolved
//! requests, beside a plain hash probe as the in-process baseline), compile time against world
//! size, cost against statements per key, checks during policy swaps, and batches across cores.
//! Run with `cargo bench --bench engine`; `BENCHMARKS.md` records the figures.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use keyward::gen::{world, Shape};
use keyward::{Engine, LiveEngine, Request, World};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn setup(keys: usize, principals: usize, requests: usize) -> (Engine, Vec<Request>) {
    let generated = world(Shape {
        keys,
        principals,
        seed: 1,
    });
    let requests = generated
        .requests(requests, 1)
        .iter()
        .map(|r| Request::from_value(r).expect("generated requests parse").0)
        .collect();
    let w = World::from_value(&generated.world, "generated").expect("generated world loads");
    (Engine::compile(w), requests)
}

fn check_throughput(c: &mut Criterion) {
    let (engine, requests) = setup(10_000, 5_000, 10_000);
    let resolved: Vec<_> = requests.iter().map(|r| engine.resolve(r)).collect();
    let hasher = hashbrown::DefaultHashBuilder::default();
    let key = |r: &Request| {
        std::hash::BuildHasher::hash_one(
            &hasher,
            (r.caller.arn.as_str(), r.action_name(), r.resource.as_str()),
        )
    };
    let table: hashbrown::HashMap<u64, bool> = requests.iter().map(|r| (key(r), true)).collect();
    let names: Vec<String> = requests.iter().map(|r| r.action_name()).collect();
    let mut g = c.benchmark_group("check/10k-keys-5k-principals");
    g.throughput(Throughput::Elements(requests.len() as u64));
    g.bench_function("baseline-hash-strings-then-probe", |b| {
        b.iter(|| {
            for (r, a) in requests.iter().zip(&names) {
                let k = std::hash::BuildHasher::hash_one(
                    &hasher,
                    (r.caller.arn.as_str(), a.as_str(), r.resource.as_str()),
                );
                black_box(table.get(&k));
            }
        })
    });
    g.bench_function("string-requests", |b| {
        b.iter(|| {
            for r in &requests {
                black_box(engine.check(black_box(r)).outcome);
            }
        })
    });
    g.bench_function("pre-resolved-requests", |b| {
        b.iter(|| {
            for (r, res) in requests.iter().zip(&resolved) {
                black_box(engine.check_resolved(r, black_box(res)).outcome);
            }
        })
    });
    g.bench_function("batch-across-cores", |b| {
        b.iter(|| {
            requests
                .par_iter()
                .map(|r| u64::from(engine.check(r).outcome == keyward::Outcome::Allow))
                .sum::<u64>()
        })
    });
    g.finish();
}

fn compile_time(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for keys in [1_000usize, 10_000, 100_000] {
        let generated = world(Shape {
            keys,
            principals: keys / 2,
            seed: 1,
        });
        let w = World::from_value(&generated.world, "generated").expect("generated world loads");
        g.throughput(Throughput::Elements(keys as u64));
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{keys}-keys")),
            &w,
            |b, w| b.iter_with_large_drop(|| Engine::compile(w.clone())),
        );
    }
    g.finish();
}

/// One key whose policy has `n` statements naming other principals before the one that allows.
fn statements_per_key(c: &mut Criterion) {
    let mut g = c.benchmark_group("statements-per-key");
    for n in [1usize, 4, 16, 64, 128] {
        let mut statements: Vec<serde_json::Value> = (0..n - 1)
            .map(|i| {
                serde_json::json!({"Sid": format!("S{i}"), "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::111122223333:role/other-{i}")},
                "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})
            })
            .collect();
        statements.push(serde_json::json!({"Sid": "App", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"},
            "Action": "kms:Decrypt", "Resource": "*"}));
        let w = serde_json::json!({"keys": [{"arn": "arn:aws:kms:us-east-1:111122223333:key/k", "policy": {"Version": "2012-10-17", "Statement": statements}}]});
        let engine = Engine::compile(World::from_value(&w, "bench").expect("loads"));
        let (req, _) = Request::from_json(r#"{"principal": "arn:aws:sts::111122223333:assumed-role/app/s", "action": "kms:Decrypt", "resource": "arn:aws:kms:us-east-1:111122223333:key/k"}"#).expect("parses");
        assert_eq!(engine.check(&req).outcome, keyward::Outcome::Allow);
        g.bench_with_input(BenchmarkId::from_parameter(n), &req, |b, req| {
            b.iter(|| black_box(engine.check(black_box(req)).outcome))
        });
    }
    g.finish();
}

/// Readers checking while a writer swaps in a new engine every millisecond, against readers
/// alone.
fn swap_under_load(c: &mut Criterion) {
    let (engine, requests) = setup(1_000, 500, 10_000);
    let engines: Vec<Arc<Engine>> = (0..2)
        .map(|_| Arc::new(Engine::compile(engine.world().clone())))
        .collect();
    let live = LiveEngine::new(engine);
    let mut g = c.benchmark_group("swap");
    g.throughput(Throughput::Elements(requests.len() as u64));
    let read = |live: &LiveEngine| {
        let snapshot = live.load();
        for r in &requests {
            black_box(snapshot.engine.check(r).outcome);
        }
    };
    g.bench_function("readers-only", |b| b.iter(|| read(&live)));
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
                live.swap(Arc::clone(&engines[i % engines.len()]));
            }
        });
        g.bench_function("readers-with-a-swap-every-ms", |b| b.iter(|| read(&live)));
        stop.store(true, Ordering::Relaxed);
    });
    g.finish();
}

criterion_group!(
    benches,
    check_throughput,
    statements_per_key,
    swap_under_load,
    compile_time
);
criterion_main!(benches);
