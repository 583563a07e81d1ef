//! `keyward replay`: recompute the KMS decisions in CloudTrail logs against a world, report where
//! keyward and AWS disagree, and with `--against` every decision that a second world changes.

use crate::engine::Engine;
use crate::replay::emit::{Emitted, Emitter};
use crate::replay::read::{self, Input};
use crate::replay::report;
use crate::replay::run::{self, Options};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// What `keyward replay --help` says after the options.
const AFTER_HELP: &str = "\
LOGS are CloudTrail log files as AWS writes them ({\"Records\": [...]}, gzip or not), folders of them
(walked recursively, e.g. a copy of the trail's S3 bucket), JSON Lines of single records, or `-`
for standard input. Records of other services are counted and skipped.

Each KMS record is mapped to the request AWS authorized and decided against --world. No errorCode
means AWS allowed; AccessDenied / AccessDeniedException means AWS denied; a PutKeyPolicy refused by
the lockout safety check is MalformedPolicyDocumentException; other error codes are counted but not
compared. Records are named by file and record: the 0-based index in the file's Records array, or
the 1-based line number for JSON Lines.

Exit codes: 0 when every compared decision agrees with AWS and no record was bad; 1 when some
disagree or some records were bad (invalid JSON, missing fields, unknown identity types, truncated
gzip: each is reported and the replay still completes); 2 on usage errors or a world that cannot be
loaded. With --against: 0 when no decision changes between the two worlds and no record was bad,
1 otherwise (disagreements with AWS are still reported).";

/// Arguments of `keyward replay` (the long help is [`AFTER_HELP`]).
#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The world to decide against (a JSON file or a directory of them).
    #[arg(long, short, required_unless_present = "emit_requests")]
    world: Option<PathBuf>,
    /// A second world: list every record whose decision changes (allowed ↔ denied) between
    /// --world and this one, grouped by principal, key and action, with the reasons of both.
    #[arg(long, requires = "world")]
    against: Option<PathBuf>,
    /// Print the summary as one JSON document on standard output.
    #[arg(long)]
    json: bool,
    /// Print the request each KMS record maps to, one JSON line per record, and decide nothing
    /// (no world needed). Skipped and bad records print their reason.
    #[arg(long, conflicts_with_all = ["against", "json", "report"])]
    emit_requests: bool,
    /// Also write the summary as one self-contained HTML page (charts, the disagreements and,
    /// with --against, the decisions that change, filterable) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Most records listed in detail per category (disagreements, bad records, changed
    /// decisions); counts are always complete. 0 lists every one.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// CloudTrail files, folders, or `-` for standard input.
    #[arg(required = true, value_name = "LOGS")]
    logs: Vec<String>,
}

pub fn run(args: Args) -> u8 {
    if args.threads == Some(0) {
        eprintln!("keyward: --threads must be at least 1");
        return super::BAD_INPUT;
    }
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("keyward: cannot start worker threads: {e}");
            return super::BAD_INPUT;
        }
    };
    pool.install(|| run_in_pool(args))
}

fn run_in_pool(args: Args) -> u8 {
    if args.logs.iter().filter(|l| l.as_str() == "-").count() > 1 {
        eprintln!("keyward: `-` (standard input) may be given once");
        return super::BAD_INPUT;
    }
    let inputs = match read::inputs(&args.logs) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("keyward: {e}");
            return super::BAD_INPUT;
        }
    };
    if args.emit_requests {
        return emit(&inputs);
    }
    let Some(world_path) = &args.world else {
        eprintln!("keyward: --world is required (or use --emit-requests)");
        return super::BAD_INPUT;
    };
    let Some(world) = super::load_world(world_path) else {
        return super::BAD_INPUT;
    };
    let engine = Engine::compile(world);
    let against = match &args.against {
        Some(p) => match super::load_world(p) {
            Some(w) => Some(Engine::compile(w)),
            None => return super::BAD_INPUT,
        },
        None => None,
    };
    let progress = progress_bar(&inputs);
    let done = |n: u64| {
        if let Some(p) = &progress {
            p.inc(n.max(1));
        }
    };
    let options = Options { limit: args.limit };
    let summary = run::replay(&inputs, &engine, against.as_ref(), options, &done);
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if let Some(path) = &args.report {
        let world_name = world_path.display().to_string();
        let against_name = args.against.as_ref().map(|p| p.display().to_string());
        let names = report::Names {
            world: &world_name,
            against: against_name.as_deref(),
        };
        let page = report::render(&summary, &inputs, &engine, against.as_ref(), &names);
        if let Err(e) = std::fs::write(path, page) {
            eprintln!("keyward: cannot write the report {}: {e}", path.display());
            return super::BAD_INPUT;
        }
        eprintln!("keyward: report written to {}", path.display());
    }
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let v = summary.to_json(&inputs, &engine, against.as_ref(), args.limit);
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )
    } else {
        write!(
            out,
            "{}",
            summary.to_text(&inputs, &engine, against.as_ref())
        )
    };
    if written.and_then(|()| out.flush()).is_err() {
        return super::FAILED;
    }
    if summary.failed() {
        super::FAILED
    } else {
        super::OK
    }
}

/// `--emit-requests`: JSON Lines in input order, written as each group of files is read.
fn emit(inputs: &[Input]) -> u8 {
    let emitter = Emitter { inputs };
    let mut total = Emitted::default();
    let mut out = std::io::stdout().lock();
    let mut broken = false;
    let chunk = 2 * rayon::current_num_threads();
    read::visit_in_order(inputs, &emitter, chunk, |e| {
        if !broken && out.write_all(e.text.as_bytes()).is_err() {
            broken = true;
        }
        total.requests += e.requests;
        total.skipped += e.skipped;
        total.bad += e.bad;
        total.non_kms += e.non_kms;
    });
    if broken || out.flush().is_err() {
        return super::FAILED;
    }
    eprintln!(
        "keyward: {} requests, {} KMS records skipped (not authorizations), {} bad records, {} records of other services",
        total.requests, total.skipped, total.bad, total.non_kms
    );
    if total.bad > 0 {
        super::FAILED
    } else {
        super::OK
    }
}

/// A progress bar over the inputs' bytes, on standard error when it is a terminal.
fn progress_bar(inputs: &[Input]) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = inputs.iter().map(|i| i.size.max(1)).sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    Some(bar)
}
