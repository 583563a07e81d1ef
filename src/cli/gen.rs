//! `keyward gen`: write a synthetic world and request stream.

use super::{BAD_INPUT, OK};
use crate::gen::{world, Shape};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `keyward gen`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of keys.
    #[arg(long, default_value_t = 1_000)]
    keys: usize,
    /// Number of principals (roles and users).
    #[arg(long, default_value_t = 500)]
    principals: usize,
    /// Random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of requests to write to requests.jsonl.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Output directory (created if missing): world.json and requests.jsonl.
    #[arg(long)]
    out: PathBuf,
    /// Also write this many CloudTrail records of generated calls, decided against the world, as
    /// gzipped log files in the S3 layout under DIR/cloudtrail (for `keyward replay`).
    #[arg(long, value_name = "N")]
    cloudtrail: Option<u64>,
    /// Records per CloudTrail file.
    #[arg(long, default_value_t = 5_000)]
    records_per_file: usize,
    /// Put the organization's accounts this many OU levels deep, with FullAWSAccess attached at
    /// every level (docs/guardrails.md); 0 leaves service and resource control policies out.
    #[arg(long, default_value_t = 0)]
    org_depth: usize,
    /// SCPs attached at every root, OU and account besides FullAWSAccess (with --org-depth).
    #[arg(long, default_value_t = 0)]
    scps_per_level: usize,
    /// RCPs attached at every root, OU and account (with --org-depth).
    #[arg(long, default_value_t = 0)]
    rcps_per_level: usize,
    /// KMS VPC endpoints; about a third of the requests then come through one.
    #[arg(long, default_value_t = 0)]
    endpoints: usize,
}

pub fn run(args: Args) -> u8 {
    if args.keys == 0 || args.principals == 0 {
        eprintln!("keyward: --keys and --principals must be at least 1");
        return BAD_INPUT;
    }
    let mut generated = world(Shape {
        keys: args.keys,
        principals: args.principals,
        seed: args.seed,
    });
    if (args.scps_per_level > 0 || args.rcps_per_level > 0) && args.org_depth == 0 {
        eprintln!("keyward: --scps-per-level and --rcps-per-level need --org-depth of at least 1");
        return BAD_INPUT;
    }
    generated.add_guardrails(crate::gen::Guardrails {
        org_depth: args.org_depth,
        scps_per_level: args.scps_per_level,
        rcps_per_level: args.rcps_per_level,
        endpoints: args.endpoints,
    });
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&args.out)?;
        let mut w = std::io::BufWriter::new(std::fs::File::create(args.out.join("world.json"))?);
        serde_json::to_writer(&mut w, &generated.world)?;
        w.flush()?;
        let mut r =
            std::io::BufWriter::new(std::fs::File::create(args.out.join("requests.jsonl"))?);
        for request in generated.requests(args.requests, args.seed) {
            serde_json::to_writer(&mut r, &request)?;
            r.write_all(b"\n")?;
        }
        r.flush()
    };
    match write() {
        Ok(()) => {
            eprintln!(
                "keyward: wrote {} ({} keys, {} principals) and {} requests",
                args.out.join("world.json").display(),
                args.keys,
                args.principals,
                args.requests
            );
            match args.cloudtrail {
                Some(n) => write_cloudtrail(&generated, n, &args),
                None => OK,
            }
        }
        Err(e) => {
            eprintln!("keyward: cannot write to {}: {e}", args.out.display());
            BAD_INPUT
        }
    }
}

/// Writes `n` generated calls as CloudTrail logs, each recorded with the outcome the engine
/// decides for it, streaming so any `n` fits in memory.
fn write_cloudtrail(generated: &crate::gen::Generated, n: u64, args: &Args) -> u8 {
    use crate::decision::Outcome;
    use crate::replay::map::Recorded;
    use crate::replay::synth::{write_logs, LogOptions};
    let world = match crate::World::from_value(&generated.world, "generated") {
        Ok(w) => w,
        Err(e) => {
            eprintln!("keyward: the generated world does not load: {e}");
            return BAD_INPUT;
        }
    };
    let engine = crate::engine::Engine::compile(world);
    const BATCH: u64 = 10_000;
    let stream = (0..n.div_ceil(BATCH)).flat_map(|batch| {
        let count = BATCH.min(n - batch * BATCH) as usize;
        generated.requests(count, args.seed.wrapping_add(batch.wrapping_mul(0x9E37)))
    });
    let engine_ref = &engine;
    let records = stream
        .filter_map(|v| crate::Request::from_value(&v).ok())
        .map(|(request, _)| {
            let recorded = match engine_ref.check(&request).outcome {
                Outcome::Allow => Recorded::Allowed,
                Outcome::ExplicitDeny | Outcome::ImplicitDeny => Recorded::Denied,
            };
            (request, recorded)
        });
    let options = LogOptions {
        records_per_file: args.records_per_file.max(1),
        ..LogOptions::default()
    };
    let dir = args.out.join("cloudtrail");
    match write_logs(engine.world(), &dir, records, &options) {
        Ok(written) => {
            eprintln!(
                "keyward: wrote {} CloudTrail records in {} files under {} ({} calls a record cannot carry were left out)",
                written.records,
                written.files.len(),
                dir.display(),
                written.skipped.len()
            );
            OK
        }
        Err(e) => {
            eprintln!(
                "keyward: cannot write CloudTrail logs to {}: {e}",
                dir.display()
            );
            BAD_INPUT
        }
    }
}
