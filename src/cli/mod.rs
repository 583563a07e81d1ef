//! The command line (SPEC B.5): argument parsing, reading inputs, printing results and exit
//! codes. No decisions are made here; every command calls the library.
//!
//! Exit codes: 0 success; 1 a check, test or replay found what it reports as failure; 2 bad input
//! or usage.

mod bench;
mod check;
mod gen;
mod import;
mod replay;
mod serve;
mod test;
mod validate;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// keyward decides AWS KMS authorization exactly as AWS does: key policies, IAM policies,
/// grants, condition keys and cross-account access.
#[derive(Parser, Debug)]
#[command(name = "keyward", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decide one request, or a JSON Lines stream of requests, against a world.
    ///
    /// Reads a request (SPEC B.2) from FILE or standard input. A single JSON object gives one
    /// decision; JSON Lines give one decision per line, in order. Decisions (SPEC B.3) are printed
    /// as JSON Lines on standard output.
    Check {
        /// The world: a JSON file or a directory of JSON files.
        #[arg(long, short)]
        world: PathBuf,
        /// Add an explanation to each decision: for an implicit deny, the missing layer.
        #[arg(long)]
        explain: bool,
        /// Exit with code 1 when any decision is not Allow.
        #[arg(long)]
        fail_on_deny: bool,
        /// Request file (a JSON object or JSON Lines); `-` or nothing reads standard input.
        #[arg(default_value = "-")]
        input: String,
    },
    /// Run test cases (SPEC B.4) and end with `N passed, M failed`.
    ///
    /// PATHS are case files ({"cases": [...]} or JSON Lines of cases) or directories searched
    /// recursively. Each failure shows the request, the expected and actual decision, and the
    /// explanation. Exits 1 when any case fails.
    Test {
        /// Case files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print every case, not only failures.
        #[arg(long, short)]
        verbose: bool,
        /// Decide with the reference evaluator instead of the compiled engine.
        #[arg(long)]
        reference: bool,
    },
    /// Check policy documents, worlds and test files; print findings with file, statement and field.
    ///
    /// A file holding a policy document ({"Statement": ...}) is checked as a key policy when its
    /// statements name principals and as an identity policy otherwise (override with --kind).
    /// Exits 2 when any error is found; warnings alone exit 0.
    Validate {
        /// Files or directories (searched recursively for *.json).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How to read bare policy documents.
        #[arg(long, value_enum, default_value = "auto")]
        kind: validate::Kind,
        /// Largest key policy accepted, in bytes.
        #[arg(long, default_value_t = 32_768)]
        max_key_policy_bytes: usize,
    },
    /// Replay CloudTrail logs: recompute every KMS decision and report disagreements with AWS.
    Replay(replay::Args),
    /// Build a world from AWS CLI outputs.
    Import(import::Args),
    /// Run the sidecar HTTP server (SPEC B.6).
    Serve(serve::Args),
    /// Measure checks per second on a world and a request stream.
    Bench(bench::Args),
    /// Generate a synthetic world, request stream and CloudTrail logs.
    Gen(gen::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check {
            world,
            explain,
            fail_on_deny,
            input,
        } => check::run(&world, explain, fail_on_deny, &input),
        Command::Test {
            paths,
            verbose,
            reference,
        } => {
            let evaluator = if reference {
                crate::testcase::Evaluator::Reference
            } else {
                crate::testcase::Evaluator::Compiled
            };
            test::run(&paths, verbose, evaluator)
        }
        Command::Validate {
            paths,
            kind,
            max_key_policy_bytes,
        } => validate::run(&paths, kind, max_key_policy_bytes),
        Command::Replay(args) => replay::run(args),
        Command::Import(args) => import::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Gen(args) => gen::run(args),
    };
    ExitCode::from(code)
}

/// Exit code: success.
pub const OK: u8 = 0;
/// Exit code: the command found what it reports as failure.
pub const FAILED: u8 = 1;
/// Exit code: bad input or usage.
pub const BAD_INPUT: u8 = 2;

/// Loads a world, printing its errors and warnings to stderr; `None` means exit 2.
pub(crate) fn load_world(path: &std::path::Path) -> Option<crate::world::World> {
    match crate::world::World::load(path) {
        Ok(w) => {
            for warning in &w.warnings {
                eprintln!("keyward: {warning}");
            }
            Some(w)
        }
        Err(e) => {
            eprintln!("keyward: cannot load world {}:\n{e}", path.display());
            None
        }
    }
}
