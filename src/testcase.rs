//! Test cases (docs/formats.md): a world, a request and the expected decision. The same format serves
//! keyward's conformance corpus and users' tests of their own policies. A case may instead expect
//! the world or request to be rejected (`expect_error`), or a key-state error beside the decision
//! (`expect_key_state_error`) or an operation error such as the lockout safety check's
//! (`expect_operation_error`).

use crate::decision::{Decision, Outcome};
use crate::engine::Engine;
use crate::request::Request;
use crate::world::World;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a case's world comes from.
#[derive(Clone, Debug)]
pub enum WorldSource {
    Inline(Value),
    File(PathBuf),
}

/// What a case expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// This decision.
    Outcome(Outcome),
    /// Loading the world or the request fails with a message containing this text.
    Error(String),
}

/// One test case.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub why: Option<String>,
    /// `file#index` where the case is written.
    pub origin: String,
    pub world: WorldSource,
    pub request: Value,
    pub expect: Expect,
    pub expect_key_state_error: Option<String>,
    pub expect_operation_error: Option<String>,
}

/// The cases found under one path, and the files passed over.
#[derive(Debug, Default)]
pub struct Loaded {
    pub cases: Vec<Case>,
    /// Files in a searched directory that are not test-case files (a shared world, a request
    /// stream), each with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Reads every case under `path`: a `{"cases": [...]}` file, a JSON Lines file of cases, or a
/// directory searched recursively for `*.json` / `*.jsonl` case files. In a directory, a file
/// that is not a test-case file (a shared world, a request stream) is skipped and listed in
/// [`Loaded::skipped`]; a file named explicitly must be one, and a malformed case in a test-case
/// file is an error either way.
pub fn load_cases(path: &Path) -> Result<Loaded, String> {
    let files = crate::json::files_under(path, &["json", "jsonl"])?;
    let explicit = !path.is_dir();
    let mut loaded = Loaded::default();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let shown = file.display().to_string();
        match read_file(&text, dir, &shown) {
            Ok(cases) => loaded.cases.extend(cases),
            Err(NotCases(why)) if !explicit => loaded.skipped.push((file.clone(), why)),
            Err(NotCases(why)) => {
                return Err(format!(
                    "{shown}: not a test-case file ({why}; expected {{\"cases\": [...]}} or JSON Lines of cases)"
                ))
            }
            Err(Malformed(e)) => return Err(e),
        }
    }
    Ok(loaded)
}

/// Why a file's cases could not be read.
enum Unreadable {
    /// The file is not a test-case file at all.
    NotCases(String),
    /// It is one, with a malformed case (the message names file and case).
    Malformed(String),
}
use Unreadable::{Malformed, NotCases};

/// Whether a JSON value looks like a test case: a request with a world or an expectation. A
/// request stream's line has neither; a case missing one of them is then reported as malformed.
fn looks_like_case(v: &Value) -> bool {
    v.get("request").is_some()
        && ["expect", "expect_error", "world", "world_file"]
            .iter()
            .any(|k| v.get(*k).is_some())
}

fn read_file(text: &str, dir: &Path, shown: &str) -> Result<Vec<Case>, Unreadable> {
    let parse_all = |items: Vec<(String, Value)>| {
        items
            .into_iter()
            .map(|(origin, v)| parse_case(&v, dir, origin).map_err(Malformed))
            .collect()
    };
    match crate::json::parse(text) {
        Ok(Value::Object(o)) if o.contains_key("cases") => {
            let items = o["cases"]
                .as_array()
                .ok_or_else(|| Malformed(format!("{shown}: field cases must be an array")))?;
            parse_all(
                (items.iter().enumerate())
                    .map(|(i, v)| (format!("{shown}#{i}"), v.clone()))
                    .collect(),
            )
        }
        Ok(v) if looks_like_case(&v) => parse_all(vec![(format!("{shown}#0"), v)]),
        Ok(_) => Err(NotCases("no \"cases\" array".into())),
        Err(whole) => {
            let mut items = Vec::new();
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let origin = format!("{shown}:{}", n + 1);
                match crate::json::parse(line) {
                    Ok(v) if looks_like_case(&v) => items.push((origin, v)),
                    // The first line decides what the file is; after a case, a bad line is a
                    // broken case.
                    Ok(_) if items.is_empty() => return Err(NotCases(
                        "its first line is not a case: no request with a world or an expectation"
                            .into(),
                    )),
                    Err(_) if items.is_empty() => {
                        return Err(NotCases(format!("invalid JSON: {whole}")))
                    }
                    Ok(v) => items.push((origin, v)),
                    Err(e) => return Err(Malformed(format!("{origin}: invalid JSON: {e}"))),
                }
            }
            parse_all(items)
        }
    }
}

fn parse_case(v: &Value, dir: &Path, origin: String) -> Result<Case, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("{origin}: a case must be an object"))?;
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    let label = match text("name") {
        Some(name) => format!("{origin} ({name})"),
        None => origin.clone(),
    };
    let name = text("name").unwrap_or_else(|| origin.clone());
    let world = match (o.get("world"), text("world_file")) {
        (Some(w), None) => WorldSource::Inline(w.clone()),
        (None, Some(f)) => WorldSource::File(dir.join(f)),
        _ => {
            return Err(format!(
                "{label}: needs exactly one of world and world_file"
            ))
        }
    };
    let request = o
        .get("request")
        .cloned()
        .ok_or_else(|| format!("{label}: field request is missing"))?;
    let expect = match (text("expect"), text("expect_error")) {
        (Some(e), None) => Expect::Outcome(Outcome::parse(&e).ok_or_else(|| {
            format!("{label}: expect must be Allow, ExplicitDeny or ImplicitDeny, not {e:?}")
        })?),
        (None, Some(e)) => Expect::Error(e),
        _ => {
            return Err(format!(
                "{label}: needs exactly one of expect and expect_error"
            ))
        }
    };
    Ok(Case {
        name,
        why: text("why"),
        origin,
        world,
        request,
        expect,
        expect_key_state_error: text("expect_key_state_error"),
        expect_operation_error: text("expect_operation_error"),
    })
}

/// The result of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub passed: bool,
    /// For a failure: what was expected, what happened, and the explanation (ends with a newline).
    pub report: String,
}

/// Which evaluator decides the cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evaluator {
    /// The compiled engine, as every user-facing command uses.
    Compiled,
    /// The reference evaluator.
    Reference,
}

/// Runs cases with one evaluator, caching the worlds loaded (and compiled) from files. The
/// explanation in failure reports always comes from the reference evaluator.
pub struct Runner {
    evaluator: Evaluator,
    worlds: HashMap<PathBuf, Result<Arc<Engine>, String>>,
}

impl Runner {
    /// A runner deciding with `evaluator`.
    pub fn new(evaluator: Evaluator) -> Self {
        Runner {
            evaluator,
            worlds: HashMap::new(),
        }
    }

    fn world(&mut self, source: &WorldSource) -> Result<Arc<Engine>, String> {
        let compile = |w: World| Arc::new(Engine::compile(w));
        match source {
            WorldSource::Inline(v) => World::from_value(v, "world")
                .map(compile)
                .map_err(|e| e.to_string()),
            WorldSource::File(p) => self
                .worlds
                .entry(p.clone())
                .or_insert_with(|| World::load(p).map(compile).map_err(|e| e.to_string()))
                .clone(),
        }
    }

    fn decide(&self, engine: &Engine, request: &Request) -> Decision {
        match self.evaluator {
            Evaluator::Compiled => engine.decide(request),
            Evaluator::Reference => crate::reference::evaluate(engine.world(), request),
        }
    }

    /// Runs one case.
    pub fn run(&mut self, case: &Case) -> CaseResult {
        let loaded = self.world(&case.world).and_then(|w| {
            Request::from_value(&case.request)
                .map(|(r, _)| (w, r))
                .map_err(|e| e.to_string())
        });
        let fail = |report: String| CaseResult {
            passed: false,
            report: format!("  {}\n", report.trim_start()),
        };
        let (world, request) = match (loaded, &case.expect) {
            (Err(e), Expect::Error(want)) if e.to_lowercase().contains(&want.to_lowercase()) => {
                return CaseResult {
                    passed: true,
                    report: String::new(),
                };
            }
            (Err(e), Expect::Error(want)) => {
                return fail(format!("expected an error containing {want:?}, got: {e}"))
            }
            (Err(e), Expect::Outcome(o)) => {
                return fail(format!("expected {o}, but the case does not load: {e}"))
            }
            (Ok(_), Expect::Error(want)) => {
                return fail(format!(
                    "expected an error containing {want:?}, but the world and request loaded"
                ))
            }
            (Ok(wr), Expect::Outcome(_)) => wr,
        };
        let Expect::Outcome(want) = case.expect else {
            unreachable!("handled above")
        };
        let decision = self.decide(&world, &request);
        let state_ok = case.expect_key_state_error.is_none()
            || decision.key_state_error == case.expect_key_state_error;
        // A case that says nothing of operation errors expects none.
        let operation_ok = decision.operation_error == case.expect_operation_error;
        if decision.outcome == want && state_ok && operation_ok {
            return CaseResult {
                passed: true,
                report: String::new(),
            };
        }
        let (_, explanation) = crate::reference::explain(world.world(), &request);
        let mut report = format!(
            "  request:  {}\n  expected: {want}{}\n  actual:   {}\n",
            request.to_value(),
            case.expect_key_state_error
                .iter()
                .chain(&case.expect_operation_error)
                .map(|e| format!(" with {e}"))
                .collect::<String>(),
            decision.to_value(None)
        );
        for note in &explanation.notes {
            report.push_str(&format!("  explain:  {note}\n"));
        }
        CaseResult {
            passed: false,
            report,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance_corpus_passes_through_both_evaluators() {
        let cases = load_cases(&Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/conformance"))
            .unwrap()
            .cases;
        assert!(cases.len() >= 250);
        for evaluator in [Evaluator::Compiled, Evaluator::Reference] {
            let mut runner = Runner::new(evaluator);
            let failures: Vec<String> = cases
                .iter()
                .filter_map(|c| {
                    let r = runner.run(c);
                    (!r.passed).then(|| format!("{} ({}):\n{}", c.name, c.origin, r.report))
                })
                .collect();
            assert!(
                failures.is_empty(),
                "{evaluator:?}: {} failures\n{}",
                failures.len(),
                failures.join("\n")
            );
        }
    }

    #[test]
    fn tells_other_files_from_broken_cases() {
        let dir = Path::new(".");
        let requests = "{\"principal\": \"p\", \"action\": \"kms:Decrypt\", \"resource\": \"*\"}\n";
        assert!(matches!(
            read_file(requests, dir, "r.jsonl"),
            Err(NotCases(_))
        ));
        assert!(matches!(
            read_file("{\"keys\": []}", dir, "w.json"),
            Err(NotCases(_))
        ));
        let no_expect = "{\"world\": {}, \"request\": {}}\n{\"world\": {}, \"request\": {}}\n";
        match read_file(no_expect, dir, "c.jsonl") {
            Err(Malformed(e)) => {
                assert_eq!(e, "c.jsonl:1: needs exactly one of expect and expect_error")
            }
            _ => panic!("a case without expect is a broken case"),
        }
    }

    #[test]
    fn runs_inline_case() {
        let case = parse_case(
            &serde_json::json!({
                "name": "root can decrypt with the default key policy",
                "world": {"keys": [{"arn": "arn:aws:kms:us-west-2:111122223333:key/k1",
                    "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}}]},
                "request": {"principal": "arn:aws:iam::111122223333:root", "action": "kms:Decrypt",
                    "resource": "arn:aws:kms:us-west-2:111122223333:key/k1"},
                "expect": "Allow"}),
            Path::new("."),
            "inline".into(),
        )
        .unwrap();
        let mut runner = Runner::new(Evaluator::Reference);
        assert!(runner.run(&case).passed);
        let mut wrong = case.clone();
        wrong.expect = Expect::Outcome(Outcome::ImplicitDeny);
        let r = runner.run(&wrong);
        assert!(!r.passed);
        assert!(r.report.contains("expected: ImplicitDeny"));
    }
}
