//! `keyward test`: run test cases and end with `N passed, M failed` (or a JUnit XML or JSON
//! report for CI systems).

use super::{count, paint, Paint, BAD_INPUT, FAILED, OK};
use crate::testcase::{load_cases, Case, CaseResult, Evaluator, Runner, WorldSource};
use serde_json::json;
use std::collections::HashSet;
use std::path::PathBuf;

/// How results are reported on standard output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Failures with their explanation, then `N passed, M failed`.
    Text,
    /// A JUnit XML report (one testcase per case), as CI systems read it.
    Junit,
    /// One JSON object: counts and every case with its outcome.
    Json,
}

/// What `keyward test` was asked to do.
pub struct Options {
    pub paths: Vec<PathBuf>,
    pub verbose: bool,
    pub evaluator: Evaluator,
    pub filter: Option<String>,
    pub format: Format,
}

pub fn run(o: Options) -> u8 {
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for p in &o.paths {
        match load_cases(p) {
            Ok(l) => {
                cases.extend(l.cases);
                skipped.extend(l.skipped);
            }
            Err(e) => {
                eprintln!("keyward: {e}");
                return BAD_INPUT;
            }
        }
    }
    // Worlds the cases load with `world_file` are expected beside them: no warning for those.
    let worlds: HashSet<PathBuf> = cases
        .iter()
        .filter_map(|c| match &c.world {
            WorldSource::File(f) => f.canonicalize().ok(),
            WorldSource::Inline(_) => None,
        })
        .collect();
    let unexpected: Vec<_> = skipped
        .iter()
        .filter(|(file, _)| !file.canonicalize().is_ok_and(|f| worlds.contains(&f)))
        .collect();
    let shown = if o.verbose { unexpected.len() } else { 5 };
    for (file, why) in unexpected.iter().take(shown) {
        eprintln!(
            "keyward: warning: skipped {}: not a test-case file ({why})",
            file.display()
        );
    }
    if unexpected.len() > shown {
        eprintln!(
            "keyward: warning: skipped {} more {} not test-case files (--verbose lists them)",
            unexpected.len() - shown,
            if unexpected.len() - shown == 1 {
                "file: it is"
            } else {
                "files: they are"
            }
        );
    }
    if let Some(pattern) = &o.filter {
        let pattern = pattern.to_lowercase();
        cases.retain(|c| {
            c.name.to_lowercase().contains(&pattern) || c.origin.to_lowercase().contains(&pattern)
        });
    }
    if cases.is_empty() {
        let searched: Vec<String> = o.paths.iter().map(|p| p.display().to_string()).collect();
        let filter = o
            .filter
            .as_deref()
            .map(|f| format!(" matching --filter {f:?}"))
            .unwrap_or_default();
        eprintln!(
            "keyward: error: no test cases{filter} found in {} (test files hold {{\"cases\": [...]}} or JSON Lines of cases; see docs/formats.md)",
            searched.join(", ")
        );
        return BAD_INPUT;
    }
    let mut runner = Runner::new(o.evaluator);
    let results: Vec<(&Case, CaseResult)> = cases.iter().map(|c| (c, runner.run(c))).collect();
    let failed = results.iter().filter(|(_, r)| !r.passed).count();
    let passed = results.len() - failed;
    match o.format {
        Format::Text => {
            for (case, result) in &results {
                if result.passed {
                    if o.verbose {
                        println!(
                            "{}    {} ({})",
                            paint(Paint::Ok, "ok"),
                            case.name,
                            case.origin
                        );
                    }
                    continue;
                }
                println!(
                    "{}  {} ({})",
                    paint(Paint::Bad, "FAIL"),
                    case.name,
                    case.origin
                );
                if let Some(why) = &case.why {
                    println!("  why:      {why}");
                }
                print!("{}", result.report);
            }
            let summary = format!("{passed} passed, {failed} failed");
            let style = if failed > 0 { Paint::Bad } else { Paint::Ok };
            println!("{}", paint(style, &summary));
        }
        Format::Json => {
            let cases: Vec<_> = results
                .iter()
                .map(|(c, r)| {
                    json!({"name": c.name, "origin": c.origin, "passed": r.passed,
                           "why": c.why, "report": (!r.passed).then_some(r.report.as_str())})
                })
                .collect();
            println!(
                "{}",
                json!({"passed": passed, "failed": failed, "cases": cases})
            );
        }
        Format::Junit => print!("{}", junit(&results, failed)),
    }
    if o.format != Format::Text && failed > 0 {
        eprintln!(
            "keyward: {} of {} failed",
            count(failed, "case", "cases"),
            results.len()
        );
    }
    if failed > 0 {
        FAILED
    } else {
        OK
    }
}

/// A JUnit XML report: one `testsuite` per case file, one `testcase` per case.
fn junit(results: &[(&Case, CaseResult)], failed: usize) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"keyward\" tests=\"{}\" failures=\"{failed}\">\n",
        results.len()
    );
    let file = |c: &Case| {
        let o = &c.origin;
        o.rfind(['#', ':']).map_or(o.clone(), |i| o[..i].to_owned())
    };
    let mut i = 0;
    while i < results.len() {
        let suite = file(results[i].0);
        let end = i + results[i..]
            .iter()
            .take_while(|(c, _)| file(c) == suite)
            .count();
        let group = &results[i..end];
        let fails = group.iter().filter(|(_, r)| !r.passed).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\">\n",
            xml(&suite),
            group.len()
        ));
        for (c, r) in group {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&suite),
                xml(&c.name)
            ));
            if r.passed {
                out.push_str("/>\n");
            } else {
                let first = r.report.lines().next().unwrap_or_default().trim();
                out.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(first),
                    xml(&format!(
                        "{}{}",
                        c.why
                            .as_deref()
                            .map(|w| format!("why: {w}\n"))
                            .unwrap_or_default(),
                        r.report
                    ))
                ));
            }
        }
        out.push_str("  </testsuite>\n");
        i = end;
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escapes text for an XML attribute or element.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}
