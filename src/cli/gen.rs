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
}

pub fn run(args: Args) -> u8 {
    if args.keys == 0 || args.principals == 0 {
        eprintln!("keyward: --keys and --principals must be at least 1");
        return BAD_INPUT;
    }
    let generated = world(Shape {
        keys: args.keys,
        principals: args.principals,
        seed: args.seed,
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
            OK
        }
        Err(e) => {
            eprintln!("keyward: cannot write to {}: {e}", args.out.display());
            BAD_INPUT
        }
    }
}
