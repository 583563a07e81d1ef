//! keyward beside its peers on one workload: the generated 1k-key, 500-principal world and its
//! request stream, decided by keyward, by Cedar (`cedar-policy`, one Cedar policy per statement,
//! per-key and per-principal slices) and by regorus (Rego on its RVM). Every engine must give
//! keyward's outcome on every request of the stream before anything is timed; a disagreement
//! stops the bench, naming the request. Then a quick summary (eprintln) and the criterion group
//! `peers`, whose medians give the ratios printed at the end.
//!
//! `cargo bench --features peers --bench peers -- --warm-up-time 1 --measurement-time 3`
//! (`KEYWARD_PEERS_KEYS=10000 KEYWARD_PEERS_PRINCIPALS=5000` for the larger world).

use criterion::{black_box, Criterion, Throughput};
use keyward::engine::Engine;
use keyward::gen::{world, Shape};
use keyward::peers::cedar::CedarPeer;
use keyward::peers::disagreements;
use keyward::peers::rego::RegoPeer;
use keyward::{Outcome, Request, World};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Runs `f` over `n` requests, round and round, for about `time`; returns checks per second.
fn rate(n: usize, time: Duration, mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    let mut done = 0u64;
    loop {
        for i in 0..n {
            f(i);
        }
        done += n as u64;
        let elapsed = start.elapsed();
        if elapsed >= time {
            return done as f64 / elapsed.as_secs_f64();
        }
    }
}

/// Requests whose decisions are compared (the `keyward gen --requests 100000` stream).
const STREAM: usize = 100_000;
/// The first requests of the stream, timed.
const TIMED: usize = 10_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fail_on(engine: &str, bad: &[keyward::peers::Disagreement]) {
    if let Some(first) = bad.first() {
        panic!(
            "{engine} disagrees with keyward on {} of the {STREAM} requests; first: {first}",
            bad.len()
        );
    }
}

fn median_ns(group: &str, bench: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir
        .join("criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn main() {
    let keys = env("KEYWARD_PEERS_KEYS", 1_000);
    let principals = env("KEYWARD_PEERS_PRINCIPALS", 500);
    let g = world(Shape {
        keys,
        principals,
        seed: 1,
    });
    let w = World::from_value(&g.world, "generated").expect("generated world loads");
    let requests: Vec<Request> = g
        .requests(STREAM, 1)
        .iter()
        .map(|r| Request::from_value(r).expect("generated requests parse").0)
        .collect();
    let engine = Engine::compile(w.clone());
    let started = Instant::now();
    let cedar = CedarPeer::new(&w).expect("the world translates to Cedar");
    let cedar_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let rego = RegoPeer::new(&w).expect("the world translates to Rego");
    let rego_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut vm = rego.vm().expect("the RVM loads");

    // Every engine agrees with keyward on every request of the stream, or nothing is timed.
    let expected: Vec<Outcome> = requests.iter().map(|r| engine.check(r).outcome).collect();
    fail_on(
        "Cedar",
        &disagreements(&requests, &expected, |r| cedar.decide(&w, r)),
    );
    let prepared: Vec<_> = requests
        .iter()
        .map(|r| cedar.prepare(&w, r).expect("Cedar inputs build"))
        .collect();
    let mut i = 0;
    fail_on(
        "Cedar (prebuilt inputs)",
        &disagreements(&requests, &expected, |_| {
            i += 1;
            cedar.decide_prepared(prepared[i - 1].as_ref())
        }),
    );
    fail_on(
        "regorus",
        &disagreements(&requests, &expected, |r| rego.decide(&mut vm, &w, r)),
    );
    let count = |o: Outcome| expected.iter().filter(|&&e| e == o).count();
    eprintln!(
        "peers: {keys} keys, {principals} principals; all engines agree on all {STREAM} requests \
         (Allow {}, ExplicitDeny {}, ImplicitDeny {}); {} Cedar policies (translated in {cedar_ms:.0} ms), \
         Rego data + RVM program in {rego_ms:.0} ms",
        count(Outcome::Allow),
        count(Outcome::ExplicitDeny),
        count(Outcome::ImplicitDeny),
        cedar.policy_count(),
    );

    let timed = &requests[..TIMED];
    let prepared = &prepared[..TIMED];
    let inputs: Vec<_> = timed
        .iter()
        .map(|r| rego.input(&w, r).expect("Rego input builds"))
        .collect();
    let quick = Duration::from_millis(700);
    let k = rate(TIMED, quick, |i| {
        black_box(engine.check(&timed[i]).outcome);
    });
    let rows = [
        ("keyward, string requests", k),
        (
            "Cedar, prebuilt inputs (best case)",
            rate(TIMED / 10, quick, |i| {
                black_box(cedar.decide_prepared(prepared[i].as_ref()).ok());
            }),
        ),
        (
            "Cedar, end to end",
            rate(TIMED / 10, quick, |i| {
                black_box(cedar.decide(&w, &timed[i]).ok());
            }),
        ),
        (
            "regorus RVM, end to end",
            rate(TIMED / 10, quick, |i| {
                black_box(rego.decide(&mut vm, &w, &timed[i]).ok());
            }),
        ),
    ];
    eprintln!(
        "quick summary (one thread, {:.1} s each):",
        quick.as_secs_f64()
    );
    for (name, r) in rows {
        eprintln!("  {name:<36} {:>10.0} checks/s  keyward {:>6.1}x", r, k / r);
    }

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("peers");
    group.throughput(Throughput::Elements(TIMED as u64));
    group.sample_size(10);
    group.bench_function("keyward-string-requests", |b| {
        b.iter(|| {
            for r in timed {
                black_box(engine.check(black_box(r)).outcome);
            }
        })
    });
    group.bench_function("cedar-prebuilt-inputs", |b| {
        b.iter(|| {
            for p in prepared {
                black_box(cedar.decide_prepared(black_box(p.as_ref())).ok());
            }
        })
    });
    group.bench_function("cedar-end-to-end", |b| {
        b.iter(|| {
            for r in timed {
                black_box(cedar.decide(&w, black_box(r)).ok());
            }
        })
    });
    group.bench_function("regorus-rvm-end-to-end", |b| {
        b.iter(|| {
            for r in timed {
                black_box(rego.decide(&mut vm, &w, black_box(r)).ok());
            }
        })
    });
    group.bench_function("regorus-rvm-prebuilt-input", |b| {
        b.iter(|| {
            for input in &inputs {
                black_box(rego.decide_input(&mut vm, input.clone()).ok());
            }
        })
    });
    group.finish();
    c.final_summary();

    // The ratios, from criterion's medians of this run.
    let Some(kw) = median_ns("peers", "keyward-string-requests") else {
        return;
    };
    let per_s = |ns: f64| TIMED as f64 / (ns / 1e9);
    eprintln!("peers, criterion medians ({TIMED} requests an iteration):");
    for (bench, target) in [
        ("keyward-string-requests", None),
        ("cedar-prebuilt-inputs", Some(120.0)),
        ("cedar-end-to-end", None),
        ("regorus-rvm-end-to-end", Some(180.0)),
        ("regorus-rvm-prebuilt-input", None),
    ] {
        if let Some(ns) = median_ns("peers", bench) {
            let target = target.map_or(String::new(), |t| format!(" (target >= {t:.0}x)"));
            eprintln!(
                "  {bench:<28} {:>12.0} checks/s  keyward {:>7.1}x{target}",
                per_s(ns),
                ns / kw
            );
        }
    }
}
