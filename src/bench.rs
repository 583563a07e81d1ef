//! Measuring the engine (`keyward bench`): checks per second on one thread and across threads,
//! for string requests and for requests resolved once, against a plain hash probe measured in the
//! same process as the baseline; latency percentiles; compile time and memory of the compiled
//! world. Results compare against a saved run, so a slowdown can fail a pipeline.

use crate::decision::Outcome;
use crate::engine::{Engine, Resolved};
use crate::request::{Request, RequestAction};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `f` over the requests, round and round, for about `time`; returns checks per second.
pub fn rate(n: usize, time: Duration, mut f: impl FnMut(usize)) -> f64 {
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

/// What one benchmark run measured.
pub struct Report {
    pub value: Value,
}

/// Settings of a run.
pub struct Settings {
    pub threads: usize,
    /// Time spent on each measured phase.
    pub phase: Duration,
}

/// Measures `engine` on `requests`. `compile_ms` and `world_bytes` (the compiled tables' heap
/// bytes) come from the caller, which compiled the engine.
pub fn run(
    engine: &Engine,
    requests: &[Request],
    settings: &Settings,
    compile_ms: f64,
    world_bytes: Option<u64>,
) -> Report {
    let n = requests.len();
    let resolved: Vec<Resolved> = requests.iter().map(|r| engine.resolve(r)).collect();

    // The decision mix, and a warm-up.
    let mut mix = [0u64; 3];
    for r in requests {
        let v = engine.check(r);
        mix[match v.outcome {
            Outcome::Allow => 0,
            Outcome::ExplicitDeny => 1,
            Outcome::ImplicitDeny => 2,
        }] += 1;
    }

    // Baseline: hash the request's strings, then probe a table of precomputed answers.
    let mut table: hashbrown::HashMap<u64, Outcome> = hashbrown::HashMap::with_capacity(n);
    let hasher = hashbrown::DefaultHashBuilder::default();
    let key_of = |r: &Request| {
        let action = match r.action {
            RequestAction::One(a) => crate::actions::info(a).name,
            RequestAction::ReEncrypt => "ReEncrypt",
        };
        std::hash::BuildHasher::hash_one(
            &hasher,
            (r.caller.arn.as_str(), action, r.resource.as_str()),
        )
    };
    for r in requests {
        table.insert(key_of(r), engine.check(r).outcome);
    }
    let baseline = rate(n, settings.phase, |i| {
        black_box(table.get(&key_of(black_box(&requests[i]))));
    });
    let strings = rate(n, settings.phase, |i| {
        black_box(engine.check(black_box(&requests[i])).outcome);
    });
    let pre_resolved = rate(n, settings.phase, |i| {
        black_box(
            engine
                .check_resolved(&requests[i], black_box(&resolved[i]))
                .outcome,
        );
    });

    // Latency of single checks, timed one by one.
    let samples = n.clamp(1, 200_000);
    let mut lat: Vec<u64> = Vec::with_capacity(samples);
    for i in 0..samples {
        let r = &requests[i % n];
        let t = Instant::now();
        black_box(engine.check(black_box(r)).outcome);
        lat.push(t.elapsed().as_nanos() as u64);
    }
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];

    // Across threads: every thread checks the whole stream from its own starting point.
    let threads = settings.threads.max(1);
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut done = 0u64;
                    let offset = t * n / threads;
                    while start.elapsed() < settings.phase {
                        for i in 0..n {
                            black_box(engine.check(black_box(&requests[(i + offset) % n])).outcome);
                        }
                        done += n as u64;
                    }
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let multi = total as f64 / start.elapsed().as_secs_f64();

    let world = engine.world();
    let statements: usize = world
        .keys
        .iter()
        .filter_map(|k| k.policy.as_ref())
        .map(|p| p.statements.len())
        .sum();
    Report {
        value: json!({
            "requests": n,
            "keys": world.keys.len(),
            "principals": world.principals.len(),
            "grants": world.grants.len(),
            "key_policy_statements": statements,
            "principal_tokens": engine.token_count(),
            "compile_ms": compile_ms,
            "world_bytes": world_bytes,
            "single_thread": {
                "checks_per_sec": strings,
                "resolved_checks_per_sec": pre_resolved,
                "baseline_hash_probe_per_sec": baseline,
                "ratio_vs_baseline": strings / baseline,
            },
            "multi_thread": {"threads": threads, "checks_per_sec": multi, "speedup": multi / strings},
            "latency_ns": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "p999": pct(0.999), "max": lat[lat.len() - 1]},
            "decisions": {"Allow": mix[0], "ExplicitDeny": mix[1], "ImplicitDeny": mix[2]},
        }),
    }
}

impl Report {
    /// The report as a table for people.
    pub fn table(&self) -> String {
        let v = &self.value;
        let f = |p: &str| v.pointer(p).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let mib = v["world_bytes"]
            .as_f64()
            .map(|b| format!("{:.1} MiB", b / 1048576.0))
            .unwrap_or_else(|| "n/a".into());
        let statements = f("/key_policy_statements");
        let per_stmt = v["world_bytes"]
            .as_f64()
            .filter(|_| statements > 0.0)
            .map(|b| format!(" ({:.0} B per key-policy statement)", b / statements))
            .unwrap_or_default();
        format!(
            "world        {} keys, {} principals, {} grants, {} key-policy statements\n\
             compile      {:.1} ms, {}{}\n\
             requests     {} ({} Allow, {} ExplicitDeny, {} ImplicitDeny)\n\
             1 thread     {:>12.0} checks/s  string requests ({:.2}x the hash-probe baseline)\n\
             1 thread     {:>12.0} checks/s  pre-resolved requests\n\
             baseline     {:>12.0} probes/s  hash the request strings, probe a table\n\
             {} threads    {:>12.0} checks/s  ({:.2}x one thread)\n\
             latency      p50 {} ns, p90 {} ns, p99 {} ns, p99.9 {} ns\n",
            v["keys"],
            v["principals"],
            v["grants"],
            v["key_policy_statements"],
            f("/compile_ms"),
            mib,
            per_stmt,
            v["requests"],
            v["decisions"]["Allow"],
            v["decisions"]["ExplicitDeny"],
            v["decisions"]["ImplicitDeny"],
            f("/single_thread/checks_per_sec"),
            f("/single_thread/ratio_vs_baseline"),
            f("/single_thread/resolved_checks_per_sec"),
            f("/single_thread/baseline_hash_probe_per_sec"),
            v["multi_thread"]["threads"],
            f("/multi_thread/checks_per_sec"),
            f("/multi_thread/speedup"),
            v["latency_ns"]["p50"],
            v["latency_ns"]["p90"],
            v["latency_ns"]["p99"],
            v["latency_ns"]["p999"],
        )
    }

    /// Compares with a saved run: the regressions beyond `max_pct` percent, if any.
    pub fn regressions(&self, baseline: &Value, max_pct: f64) -> Vec<String> {
        let mut out = Vec::new();
        for path in [
            "/single_thread/checks_per_sec",
            "/single_thread/resolved_checks_per_sec",
            "/multi_thread/checks_per_sec",
        ] {
            let (Some(now), Some(before)) = (
                self.value.pointer(path).and_then(Value::as_f64),
                baseline.pointer(path).and_then(Value::as_f64),
            ) else {
                continue;
            };
            let change = (now - before) / before * 100.0;
            if change < -max_pct {
                out.push(format!("{path}: {now:.0} vs {before:.0} in the baseline ({change:+.1}%, allowed -{max_pct}%)"));
            }
        }
        out
    }
}
