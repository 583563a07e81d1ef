//! The command line: argument parsing, reading inputs, printing results and exit codes. No
//! decisions are made here; every command calls the library. docs/cli.md describes every
//! command.
//!
//! Exit codes: 0 success; 1 a check, test or replay found what it reports as failure; 2 bad input
//! or usage.

mod analysis;
mod bench;
mod bundle;
mod check;
mod gen;
mod import;
mod replay;
mod serve;
mod test;
mod validate;

use clap::{CommandFactory, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// keyward decides AWS KMS authorization exactly as AWS does: key policies, IAM policies,
/// grants, condition keys and cross-account access.
#[derive(Parser, Debug)]
#[command(
    name = "keyward",
    version,
    about,
    long_about = None,
    after_help = "Documentation: docs/README.md (formats, commands, semantics). Exit codes: 0 success, 1 a failure the command reports, 2 bad input or usage."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decide requests against a world: JSON from FILE or standard input, or one question asked
    /// with --principal/--action/--resource.
    ///
    /// Requests and decisions are described in docs/formats.md. JSON output is one line per
    /// request, in order.
    Check(check::Args),
    /// Run test cases and end with `N passed, M failed`.
    ///
    /// PATHS are case files ({"cases": [...]} or JSON Lines of cases; docs/formats.md) or
    /// directories searched recursively, where files that are not test files (shared worlds,
    /// request streams) are skipped with a warning. Each failure shows the request, the expected
    /// and actual decision, and the explanation. Exits 1 when any case fails, 2 when a file is
    /// malformed or no case was found.
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
        /// Run only the cases whose name or origin (file#index) contains PATTERN (case-insensitive).
        #[arg(long, value_name = "PATTERN")]
        filter: Option<String>,
        /// Report format on standard output: text, JUnit XML or JSON.
        #[arg(long, value_enum, default_value = "text")]
        format: test::Format,
    },
    /// Check policy documents, worlds and test files; print findings with file, statement and field.
    ///
    /// A file holding a policy document ({"Statement": ...}, or the output of
    /// `aws kms get-key-policy`) is checked as a key policy when its statements name principals
    /// and as an identity policy otherwise (override with --kind). Exits 2 when any error is
    /// found; warnings alone exit 0.
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
    /// Run the sidecar HTTP server (docs/http-api.md).
    Serve(serve::Args),
    /// Measure checks per second on a world and a request stream.
    Bench(bench::Args),
    /// Generate a synthetic world, request stream and CloudTrail logs.
    Gen(gen::Args),
    /// Print a shell completion script: `keyward completions bash > /etc/bash_completion.d/keyward`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `keyward man | man -l -`.
    Man,
    /// Who can use a key: every principal and principal class allowed each action, how, and
    /// under which conditions (docs/analysis.md).
    WhoCan(analysis::WhoCanArgs),
    /// What a principal can do: the keys and actions it is allowed, how, and under which
    /// conditions (docs/analysis.md).
    WhatCan(analysis::WhatCanArgs),
    /// Flag exposures: external access, `*` principals, cross-account grants, keys nobody can
    /// administer, kms:* on * identity policies. Exits 1 with --fail-on when one is found.
    Findings(analysis::FindingsArgs),
    /// Write the whole key × principal × action access matrix, grouped, as JSON Lines.
    AccessReport(analysis::ReportArgs),
    /// Build, verify and sign world bundles for `keyward serve --bundle` (docs/bundles.md).
    Bundle(bundle::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Test {
            paths,
            verbose,
            reference,
            filter,
            format,
        } => {
            let evaluator = if reference {
                crate::testcase::Evaluator::Reference
            } else {
                crate::testcase::Evaluator::Compiled
            };
            test::run(test::Options {
                paths,
                verbose,
                evaluator,
                filter,
                format,
            })
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
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "keyward",
                &mut std::io::stdout(),
            );
            OK
        }
        Command::WhoCan(args) => analysis::who_can(args),
        Command::WhatCan(args) => analysis::what_can(args),
        Command::Findings(args) => analysis::run_findings(args),
        Command::AccessReport(args) => analysis::access_report(args),
        Command::Bundle(args) => bundle::run(args),
        Command::Man => {
            let page = clap_mangen::Man::new(Cli::command());
            match page.render(&mut std::io::stdout()) {
                Ok(()) => OK,
                Err(_) => FAILED,
            }
        }
    };
    ExitCode::from(code)
}

/// Exit code: success.
pub const OK: u8 = 0;
/// Exit code: the command found what it reports as failure.
pub const FAILED: u8 = 1;
/// Exit code: bad input or usage.
pub const BAD_INPUT: u8 = 2;

/// `1 file`, `2 files`: a count with its noun in the right number.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A style for terminal output.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Paint {
    /// Success: green.
    Ok,
    /// Failure or deny: red.
    Bad,
    /// A warning: yellow.
    Warn,
}

/// `text` in colour when standard output is a terminal and `NO_COLOR` is unset or empty
/// (no-color.org); unchanged otherwise, so pipes and files never see escape codes.
pub(crate) fn paint(style: Paint, text: &str) -> String {
    static COLOUR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let colour = *COLOUR.get_or_init(|| {
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    });
    if !colour {
        return text.to_owned();
    }
    let code = match style {
        Paint::Ok => "32",
        Paint::Bad => "31",
        Paint::Warn => "33",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

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
