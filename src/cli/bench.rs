//! `keyward bench`: checks per second on a world and a request stream.

use super::{load_world, BAD_INPUT, FAILED, OK};
use crate::bench::{run as measure, Settings};
use crate::engine::Engine;
use crate::request::Request;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `keyward bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The world (JSON file or directory).
    #[arg(long, short)]
    world: PathBuf,
    /// Requests, one JSON object a line (as `keyward gen` writes them).
    #[arg(long, short)]
    requests: PathBuf,
    /// Threads for the multi-threaded run (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds spent on each measured phase.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Save the results as JSON to this file, as a baseline for later runs.
    #[arg(long)]
    save_baseline: Option<PathBuf>,
    /// Compare with a saved baseline and exit 1 if checks/s fell more than --max-regression.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Largest slowdown against the baseline that still passes, in percent.
    #[arg(long, default_value_t = 10.0)]
    max_regression: f64,
    /// Instead of timing, make exactly this many checks and stop: a fixed workload for
    /// instruction counters (`valgrind --tool=callgrind`), which do not depend on machine load.
    #[arg(long, value_name = "N")]
    fixed_checks: Option<u64>,
}

pub fn run(args: Args) -> u8 {
    let Some(world) = load_world(&args.world) else {
        return BAD_INPUT;
    };
    let text = match std::fs::read_to_string(&args.requests) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("keyward: cannot read {}: {e}", args.requests.display());
            return BAD_INPUT;
        }
    };
    let mut requests = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match Request::from_json(line) {
            Ok((r, _)) => requests.push(r),
            Err(e) => {
                eprintln!("keyward: {}:{}: {e}", args.requests.display(), n + 1);
                return BAD_INPUT;
            }
        }
    }
    if requests.is_empty() {
        eprintln!("keyward: {} holds no requests", args.requests.display());
        return BAD_INPUT;
    }
    let start = Instant::now();
    let engine = Engine::compile(world);
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    let world_bytes = Some(engine.table_bytes() as u64);
    if let Some(n) = args.fixed_checks {
        let mut allowed = 0u64;
        for i in 0..n {
            let r = &requests[(i % requests.len() as u64) as usize];
            allowed += u64::from(
                engine.check(std::hint::black_box(r)).outcome == crate::decision::Outcome::Allow,
            );
        }
        println!("{n} checks, {allowed} allowed");
        return OK;
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let settings = Settings {
        threads,
        phase: Duration::from_secs_f64(args.seconds.max(0.05)),
    };
    let mut report = measure(&engine, &requests, &settings, compile_ms, world_bytes);
    report.value["world"] = args.world.display().to_string().into();
    if args.json {
        println!("{}", report.value);
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = &args.save_baseline {
        if let Err(e) = std::fs::write(path, format!("{:#}\n", report.value)) {
            eprintln!("keyward: cannot write {}: {e}", path.display());
            return BAD_INPUT;
        }
    }
    if let Some(path) = &args.baseline {
        let baseline = match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                eprintln!("keyward: cannot read baseline {}: {e}", path.display());
                return BAD_INPUT;
            }
        };
        let regressions = report.regressions(&baseline, args.max_regression);
        if !regressions.is_empty() {
            for r in regressions {
                eprintln!("keyward: regression: {r}");
            }
            return FAILED;
        }
        eprintln!(
            "keyward: no regression beyond {}% against {}",
            args.max_regression,
            path.display()
        );
    }
    OK
}
