//! `keyward who-can`, `what-can`, `findings` and `access-report`: questions about a world as a
//! whole (docs/analysis.md).

use super::{load_world, BAD_INPUT, FAILED, OK};
use crate::actions::{self, ActionSet};
use crate::analysis::findings::{findings, Severity};
use crate::analysis::{report, Analyzer, Entry};
use crate::arn::Caller;
use crate::world::World;
use std::io::Write;
use std::path::PathBuf;

/// Output format of the analysis commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Readable lines, grouped.
    Text,
    /// One JSON object.
    Json,
}

/// Output format of `keyward findings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingsOutput {
    /// An aligned table.
    Table,
    /// One JSON object per line.
    Json,
}

/// Arguments of `keyward who-can`.
#[derive(clap::Args, Debug)]
pub struct WhoCanArgs {
    /// The world file.
    #[arg(long)]
    world: PathBuf,
    /// The key: key ARN, alias ARN, or an alias name the world holds once.
    #[arg(long)]
    key: String,
    /// Only these actions (repeatable; wildcards such as kms:GenerateDataKey* allowed). Default:
    /// every action authorized against a key. Not analysed (`keyward check` answers them):
    /// RetireGrant, decided by the grant named in the request; the alias operations, authorized
    /// against an alias and keys together; and actions without a resource (CreateKey, ListKeys,
    /// …), which no key policy or grant takes part in (docs/analysis.md).
    #[arg(long = "action", value_name = "ACTION")]
    actions: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

/// Arguments of `keyward what-can`.
#[derive(clap::Args, Debug)]
pub struct WhatCanArgs {
    /// The world file.
    #[arg(long)]
    world: PathBuf,
    /// The principal: an IAM user or role ARN, a role session, an account id (its root user) or
    /// a service principal name; it need not be defined in the world.
    #[arg(long)]
    principal: String,
    /// Only these actions (repeatable; wildcards allowed). Default: every action authorized
    /// against a key; RetireGrant, the alias operations and actions without a resource are not
    /// analysed (see `keyward who-can --help`).
    #[arg(long = "action", value_name = "ACTION")]
    actions: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

/// Arguments of `keyward findings`.
#[derive(clap::Args, Debug)]
pub struct FindingsArgs {
    /// The world file.
    #[arg(long)]
    world: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    output: FindingsOutput,
    /// Exit 1 when a finding of this severity or higher is present.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Severity>,
}

/// Arguments of `keyward access-report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The world file.
    #[arg(long)]
    world: PathBuf,
    /// Where to write the report (JSON Lines); `-` for standard output.
    #[arg(long)]
    out: PathBuf,
    /// Do not draw the progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The action set named by `--action` arguments; every action when none is given.
fn action_set(names: &[String]) -> Result<ActionSet, String> {
    if names.is_empty() {
        return Ok(ActionSet::ALL);
    }
    let mut set = ActionSet::EMPTY;
    for n in names {
        let named = ActionSet::matching(n);
        set.0 |= named.0;
        if named == ActionSet::EMPTY {
            let hint = actions::suggest(n)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            return Err(format!("--action {n}: no KMS action matches{hint}"));
        }
    }
    let analysed = ActionSet(set.0 & crate::analysis::analysed_actions().0);
    if analysed.0 == 0 {
        return Err("--action: none of these actions is authorized against a single key (alias operations, RetireGrant and resourceless actions are not analysed)".into());
    }
    Ok(analysed)
}

fn print_entries(world: &World, entries: &[Entry], out: &mut impl Write) -> std::io::Result<()> {
    for e in entries {
        let via: Vec<String> = e.via.iter().map(|r| r.to_string()).collect();
        let how = if e.conditions.is_empty() {
            "Allow".to_owned()
        } else {
            let c: Vec<String> = e.conditions.iter().map(|c| c.text(world)).collect();
            format!("Allow if {}", c.join(" and "))
        };
        writeln!(out, "    {}  {how}", e.principal)?;
        writeln!(out, "        via {}", via.join(" + "))?;
        for d in &e.unless {
            let c: Vec<String> = d.conditions.iter().map(|c| c.text(world)).collect();
            writeln!(out, "        unless {} (Deny: {})", c.join(" and "), d.via)?;
        }
        if let Some(n) = &e.note {
            writeln!(out, "        note: {n}")?;
        }
    }
    Ok(())
}

pub fn who_can(args: WhoCanArgs) -> u8 {
    let wanted = match action_set(&args.actions) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("keyward: {e}");
            return BAD_INPUT;
        }
    };
    let Some(world) = load_world(&args.world) else {
        return BAD_INPUT;
    };
    let an = Analyzer::new(&world);
    let Some(key) = an.resolve_key(&args.key) else {
        eprintln!(
            "keyward: --key {}: {} holds no key with this ARN, alias ARN or alias name",
            args.key,
            args.world.display()
        );
        return BAD_INPUT;
    };
    let who = an.who_can(key, wanted);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.output {
        Output::Json => writeln!(out, "{}", who.to_json(&world)),
        Output::Text => (|| {
            writeln!(out, "{}", who.key)?;
            for (a, entries) in &who.actions {
                if entries.is_empty() {
                    continue;
                }
                writeln!(out, "  {}", actions::full_name(*a))?;
                print_entries(&world, entries, &mut out)?;
            }
            Ok(())
        })(),
    };
    finish(written.and_then(|_| out.flush()))
}

fn finish(r: std::io::Result<()>) -> u8 {
    match r {
        Ok(()) => OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => OK,
        Err(e) => {
            eprintln!("keyward: cannot write output: {e}");
            FAILED
        }
    }
}

pub fn what_can(args: WhatCanArgs) -> u8 {
    let wanted = match action_set(&args.actions) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("keyward: {e}");
            return BAD_INPUT;
        }
    };
    let caller = match Caller::parse(&args.principal) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("keyward: --principal: {e}");
            return BAD_INPUT;
        }
    };
    let Some(world) = load_world(&args.world) else {
        return BAD_INPUT;
    };
    let an = Analyzer::new(&world);
    let what = an.what_can(&caller, wanted);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.output {
        Output::Json => writeln!(out, "{}", what.to_json(&world)),
        Output::Text => (|| {
            writeln!(out, "{}", what.principal)?;
            if what.keys.is_empty() {
                writeln!(out, "  no key of the world")?;
            }
            for (key, acts) in &what.keys {
                writeln!(out, "  {key}")?;
                for (a, entries) in acts {
                    writeln!(out, "   {}", actions::full_name(*a))?;
                    print_entries(&world, entries, &mut out)?;
                }
            }
            Ok(())
        })(),
    };
    finish(written.and_then(|_| out.flush()))
}

pub fn run_findings(args: FindingsArgs) -> u8 {
    let Some(world) = load_world(&args.world) else {
        return BAD_INPUT;
    };
    let an = Analyzer::new(&world);
    let found = findings(&an);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.output {
        FindingsOutput::Json => found
            .iter()
            .try_for_each(|f| writeln!(out, "{}", f.to_json())),
        FindingsOutput::Table => (|| {
            writeln!(
                out,
                "{:<8}  {:<20}  {:<30}  why",
                "severity", "finding", "where"
            )?;
            for f in &found {
                writeln!(
                    out,
                    "{:<8}  {:<20}  {:<30}  {}",
                    f.severity.name(),
                    f.code,
                    f.place,
                    f.why
                )?;
            }
            writeln!(out, "{}", super::count(found.len(), "finding", "findings"))
        })(),
    };
    let code = finish(written.and_then(|_| out.flush()));
    if code != OK {
        return code;
    }
    match args.fail_on {
        Some(level) if found.iter().any(|f| f.severity >= level) => FAILED,
        _ => OK,
    }
}

pub fn access_report(args: ReportArgs) -> u8 {
    let Some(world) = load_world(&args.world) else {
        return BAD_INPUT;
    };
    let an = Analyzer::new(&world);
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(world.keys.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} keys  {elapsed} elapsed, {eta} left",
            )
            .expect("valid template"),
        );
        b
    };
    let to_stdout = args.out.as_os_str() == "-";
    let file: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout())
    } else {
        match std::fs::File::create(&args.out) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("keyward: cannot create {}: {e}", args.out.display());
                return BAD_INPUT;
            }
        }
    };
    let mut out = std::io::BufWriter::new(file);
    let progress = |n: usize| bar.set_position(n as u64);
    let result = report::write(&an, &mut out, &progress).and_then(|t| out.flush().map(|_| t));
    bar.finish_and_clear();
    match result {
        Ok(t) => {
            eprintln!(
                "keyward: {} × {} principals: {} principal groups, {} key–principal pairs and {} allowed key–principal–action triples{}",
                super::count(t.keys, "key", "keys"),
                world.principals.len(),
                t.groups,
                t.pairs,
                t.triples,
                if to_stdout {
                    String::new()
                } else {
                    format!(", written to {}", args.out.display())
                }
            );
            OK
        }
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => OK,
        Err(e) => {
            eprintln!("keyward: cannot write {}: {e}", args.out.display());
            FAILED
        }
    }
}
