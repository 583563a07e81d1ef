//! Reload soak: `keyward serve` under steady load while a new world is PUT every 100 ms. Every
//! answer is checked — the generated requests against the engine's own decisions, and a probe
//! request whose answer flips between the two alternating worlds against the world version the
//! server says decided it — so a dropped, failed or wrong answer during a swap is counted.
//!
//! Ignored by default (it runs for over a minute); `benches/serve/soak.sh` runs it in release:
//! `cargo test --release --test serve_soak -- --ignored --nocapture`. Settings (environment):
//! `SOAK_SECONDS` (60), `SOAK_STEADY_SECONDS` (10), `SOAK_RELOAD_MS` (100), `SOAK_CLIENTS` (4),
//! `SOAK_KEYS` (300), `SOAK_PRINCIPALS` (150), `SOAK_RELOAD_NICENESS` (10, the server's
//! `--reload-niceness`). Only ever talks to 127.0.0.1.

mod serve_harness;

use serde_json::{json, Value};
use serve_harness::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counts and latencies of one phase.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    wrong: AtomicU64,
    batch_checks: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// A world with the generated keys and principals plus a probe key and role whose identity
/// policy allows `probe_action`.
fn soak_world(generated: &Value, probe_action: &str) -> Value {
    let mut world = generated.clone();
    let probe = world_allowing(probe_action);
    world["keys"]
        .as_array_mut()
        .unwrap()
        .push(probe["keys"][0].clone());
    world["principals"]
        .as_array_mut()
        .unwrap()
        .push(probe["principals"][0].clone());
    world
}

#[test]
#[ignore = "runs for over a minute; benches/serve/soak.sh runs it"]
fn reloads_every_100ms_under_load_never_fail_or_answer_wrong() {
    let seconds = setting("SOAK_SECONDS", 60);
    let steady_seconds = setting("SOAK_STEADY_SECONDS", 10);
    let reload_every = Duration::from_millis(setting("SOAK_RELOAD_MS", 100));
    let clients = setting("SOAK_CLIENTS", 4) as usize;
    let shape = keyward::gen::Shape {
        keys: setting("SOAK_KEYS", 300) as usize,
        principals: setting("SOAK_PRINCIPALS", 150) as usize,
        seed: 11,
    };

    // Two worlds that differ only in what the probe role may do.
    let generated = keyward::gen::world(shape);
    let world_a = soak_world(&generated.world, "kms:Decrypt");
    let world_b = soak_world(&generated.world, "kms:Encrypt");
    let (text_a, text_b) = (world_a.to_string(), world_b.to_string());
    let engine = |w: &Value| {
        keyward::engine::Engine::compile(keyward::World::from_value(w, "soak").unwrap())
    };
    let (engine_a, engine_b) = (engine(&world_a), engine(&world_b));

    // Generated requests with their expected decisions, the same in both worlds.
    let mut cases = Vec::new();
    for r in generated.requests(2_000, 11) {
        let (request, _) = keyward::Request::from_value(&r).unwrap();
        let a = engine_a.decide(&request).to_value(None);
        assert_eq!(
            a,
            engine_b.decide(&request).to_value(None),
            "the probe must not change {r}"
        );
        cases.push((r.to_string(), a));
    }
    let cases = Arc::new(cases);
    let probe = request("kms:Decrypt").to_string();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    std::fs::write(&path, &text_a).unwrap();
    let niceness = setting("SOAK_RELOAD_NICENESS", 10).to_string();
    let server = Server::start(&path, &["--no-watch", "--reload-niceness", &niceness]);
    let base = server.base.clone();

    let steady = Arc::new(Tally::default());
    let reloading = Arc::new(Tally::default());
    let in_reload_phase = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(steady_seconds + seconds);

    let mut threads = Vec::new();
    for c in 0..clients {
        let (cases, probe, base) = (cases.clone(), probe.clone(), base.clone());
        let (steady, reloading, phase, stop) = (
            steady.clone(),
            reloading.clone(),
            in_reload_phase.clone(),
            stop.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build();
            let url = format!("{base}/v1/authorize");
            let batch_url = format!("{base}/v1/authorize/batch");
            let mut latencies = (Vec::new(), Vec::new());
            let mut i = c * 7919;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let reload_phase = phase.load(Ordering::Relaxed);
                let tally = if reload_phase { &reloading } else { &steady };
                i += 1;
                // Client 0 sends batches of 100 now and then; every client sends probes.
                let batch = c == 0 && i % 50 == 0;
                let is_probe = !batch && i % 4 == 0;
                let (target, body) = if batch {
                    let start = i % (cases.len() - 100);
                    let items: Vec<&str> = cases[start..start + 100]
                        .iter()
                        .map(|(r, _)| r.as_str())
                        .collect();
                    (
                        &batch_url,
                        format!("{{\"requests\":[{}]}}", items.join(",")),
                    )
                } else if is_probe {
                    (&url, probe.clone())
                } else {
                    (&url, cases[i % cases.len()].0.clone())
                };
                let t = Instant::now();
                let answer = agent.post(target).send_string(&body);
                let elapsed = t.elapsed();
                let response = match answer {
                    Ok(r) => r,
                    Err(e) => {
                        tally.failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("soak: request failed: {e}");
                        continue;
                    }
                };
                let version: Option<u64> = response
                    .header("x-keyward-world-version")
                    .and_then(|v| v.parse().ok());
                let Ok(text) = response.into_string() else {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let right = if batch {
                    let start = i % (cases.len() - 100);
                    let want: Vec<&Value> =
                        cases[start..start + 100].iter().map(|(_, d)| d).collect();
                    let got: Vec<&Value> = value["decisions"]
                        .as_array()
                        .map(|d| d.iter().collect())
                        .unwrap_or_default();
                    tally.batch_checks.fetch_add(100, Ordering::Relaxed);
                    got == want
                } else if is_probe {
                    // Odd versions serve world A (the probe is allowed), even ones world B.
                    let want = match version {
                        Some(v) if v % 2 == 1 => "Allow",
                        Some(_) => "ImplicitDeny",
                        None => "(no version header)",
                    };
                    value["decision"] == want
                } else {
                    value == cases[i % cases.len()].1
                };
                if right {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    tally.wrong.fetch_add(1, Ordering::Relaxed);
                    eprintln!("soak: wrong answer (version {version:?}): {text}");
                }
                if !batch {
                    let us = u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX);
                    if reload_phase {
                        latencies.1.push(us);
                    } else {
                        latencies.0.push(us);
                    }
                }
            }
            steady.latencies_us.lock().unwrap().extend(latencies.0);
            reloading.latencies_us.lock().unwrap().extend(latencies.1);
        }));
    }

    // Steady phase, then a new world every `reload_every` until the deadline.
    std::thread::sleep(Duration::from_secs(steady_seconds));
    in_reload_phase.store(true, Ordering::Relaxed);
    let reload_started = Instant::now();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let (mut reloads_ok, mut reloads_failed, mut put_ms) = (0u64, 0u64, Vec::new());
    let mut next = Instant::now();
    let mut expected_version = 1;
    while Instant::now() < deadline {
        expected_version += 1;
        let body = if expected_version % 2 == 1 {
            &text_a
        } else {
            &text_b
        };
        let t = Instant::now();
        match agent.put(&format!("{base}/v1/world")).send_string(body) {
            Ok(r) => {
                let v: Value = r
                    .into_string()
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null);
                if v["version"] == json!(expected_version) {
                    reloads_ok += 1;
                } else {
                    reloads_failed += 1;
                    eprintln!("soak: reload answered {v}, expected version {expected_version}");
                }
            }
            Err(e) => {
                reloads_failed += 1;
                eprintln!("soak: reload failed: {e}");
            }
        }
        put_ms.push(t.elapsed().as_secs_f64() * 1e3);
        next += reload_every;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let reload_seconds = reload_started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }

    let summary = |name: &str, tally: &Tally, secs: f64| {
        let mut l = tally.latencies_us.lock().unwrap().clone();
        l.sort_unstable();
        let ok = tally.ok.load(Ordering::Relaxed);
        let p99 = percentile(&l, 0.99);
        println!(
            "soak {name:<8} {:>7.0} req/s  answers {ok}  failed {}  wrong {}  batch checks {}  latency µs p50 {} p90 {} p99 {} p99.9 {} max {}",
            l.len() as f64 / secs,
            tally.failed.load(Ordering::Relaxed),
            tally.wrong.load(Ordering::Relaxed),
            tally.batch_checks.load(Ordering::Relaxed),
            percentile(&l, 0.5),
            percentile(&l, 0.9),
            p99,
            percentile(&l, 0.999),
            l.last().copied().unwrap_or(0),
        );
        p99
    };
    let p99_steady = summary("steady", &steady, steady_seconds as f64);
    let p99_reload = summary("reloads", &reloading, reload_seconds);
    put_ms.sort_by(f64::total_cmp);
    println!(
        "soak reloads   ok {reloads_ok}  failed {reloads_failed}  PUT ms p50 {:.1} p99 {:.1}  world {} keys {} principals ({} KiB)",
        put_ms.get(put_ms.len() / 2).copied().unwrap_or(0.0),
        put_ms.get(put_ms.len() * 99 / 100).copied().unwrap_or(0.0),
        shape.keys + 1,
        shape.principals + 1,
        text_a.len() / 1024,
    );
    println!(
        "soak p99 during reloads / steady = {:.2}",
        p99_reload as f64 / p99_steady.max(1) as f64
    );

    let failed = steady.failed.load(Ordering::Relaxed) + reloading.failed.load(Ordering::Relaxed);
    let wrong = steady.wrong.load(Ordering::Relaxed) + reloading.wrong.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "failed answers");
    assert_eq!(wrong, 0, "wrong answers");
    assert_eq!(reloads_failed, 0, "failed reloads");
    assert!(
        reloads_ok as f64 >= 0.5 * seconds as f64 * 1000.0 / reload_every.as_millis() as f64,
        "too few reloads: {reloads_ok}"
    );
    assert!(server.get("/health").status == 200);
    assert!(
        p99_reload <= 2 * p99_steady.max(1),
        "p99 during reloads {p99_reload} µs is over twice the steady p99 {p99_steady} µs"
    );
}
