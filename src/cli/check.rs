//! `keyward check`: decide requests read from a file or standard input, or one question asked
//! with flags (`--principal P --action A --resource R`, where repeated actions and resources ask
//! every combination).

use super::{paint, Paint, BAD_INPUT, FAILED, OK};
use crate::decision::Outcome;
use crate::engine::Engine;
use crate::request::Request;
use serde_json::{json, Map, Value};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

/// How decisions are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// JSON Lines: one decision (or error object) per request, in input order.
    Json,
    /// A table: request, decision and what decided, one row per request.
    Table,
    /// One line per request: `Allow PRINCIPAL kms:Decrypt on KEY: what decided`.
    Text,
}

/// Arguments of `keyward check`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The world: a JSON file or a directory of JSON files.
    #[arg(long, short)]
    world: PathBuf,
    /// Add an explanation to each decision: for an implicit deny, the missing layer.
    #[arg(long)]
    explain: bool,
    /// Exit with code 1 when any decision is not Allow.
    #[arg(long)]
    fail_on_deny: bool,
    /// Output format [default: json for requests read from input, table for the flag form].
    #[arg(long, short, value_enum)]
    output: Option<Output>,
    /// Ask with flags instead of JSON: the calling principal's ARN.
    #[arg(long, requires = "action", requires = "resource")]
    principal: Option<String>,
    /// With --principal: a KMS action (`kms:Decrypt`); repeat to ask several.
    #[arg(long, requires = "principal")]
    action: Vec<String>,
    /// With --principal: a key or alias ARN, or `*`; repeat to ask several.
    #[arg(long, requires = "principal")]
    resource: Vec<String>,
    /// With --principal: a condition key given in the request, `KEY=VALUE` (repeatable; a key
    /// given twice is multivalued).
    #[arg(long, value_name = "KEY=VALUE", requires = "principal")]
    context: Vec<String>,
    /// Requests: a JSON object, a JSON array, `{"requests": [...]}`, or JSON Lines; `-` or
    /// nothing reads standard input.
    #[arg(default_value = "-", conflicts_with = "principal")]
    input: String,
}

const AFTER_HELP: &str = "\
Input forms (docs/formats.md has every request field):
  one request                {\"principal\": ..., \"action\": ..., \"resource\": ..., \"context\": {...}}
  JSON Lines                 one request per line; one output line per input line
  an array / a batch body    [{...}, {...}] or {\"requests\": [{...}, ...]} (the HTTP batch body)
A request may carry an \"id\" (any JSON value); it is echoed in its decision. A line that is
not a valid request gets an error object in its place ({\"line\": N, \"error\": ...}) and the
command exits 2 once every line is decided.

Examples:
  keyward check --world world.json requests.jsonl
  keyward check --world world.json --principal arn:aws:iam::111122223333:role/app \\
      --action kms:Decrypt --action kms:Encrypt --resource KEY_ARN --context kms:ViaService=s3.us-west-2.amazonaws.com

Exit codes: 0 decided; 1 with --fail-on-deny when any decision is not Allow; 2 bad input.";

/// One request to decide, or why it could not be read; with the place it came from.
struct Item {
    /// 1-based line (JSON Lines) or position (array, batch body) in the input.
    line: usize,
    id: Option<Value>,
    request: Result<Value, String>,
}

pub fn run(args: Args) -> u8 {
    let Some(world) = super::load_world(&args.world) else {
        return BAD_INPUT;
    };
    let engine = Engine::compile(world);
    let items = match &args.principal {
        Some(principal) => match flag_requests(principal, &args) {
            Ok(items) => items,
            Err(e) => {
                eprintln!("keyward: {e}");
                return BAD_INPUT;
            }
        },
        None => match read_input(&args.input) {
            Ok(items) => items,
            Err(e) => {
                eprintln!("keyward: {e}");
                return BAD_INPUT;
            }
        },
    };
    let output = args.output.unwrap_or(if args.principal.is_some() {
        Output::Table
    } else {
        Output::Json
    });
    // Tables and text are read by people: they always say what was missing for a deny.
    let explain = args.explain || output != Output::Json;
    let place = |line: usize| match (&args.principal, args.input.as_str()) {
        (Some(_), _) => format!("question {line}"),
        (None, "-") => format!("<stdin>:{line}"),
        (None, f) => format!("{f}:{line}"),
    };
    let (mut bad, mut denied) = (0usize, 0usize);
    // JSON and text stream out line by line; a table waits for every row to size its columns.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut rows = Vec::new();
    for item in items {
        let decided = item.request.and_then(|v| {
            let (request, warnings) = Request::from_value(&v).map_err(|e| e.to_string())?;
            for w in warnings {
                eprintln!("keyward: {}: {w}", place(item.line));
            }
            Ok((decide(&engine, &request, explain), request))
        });
        let (mut value, request) = match decided {
            Ok((v, r)) => (v, Some(r)),
            Err(e) => {
                eprintln!("keyward: {}: {e}", place(item.line));
                bad += 1;
                (json!({"line": item.line, "error": e}), None)
            }
        };
        if value["decision"] != Outcome::Allow.as_str() {
            denied += 1;
        }
        if let Some(id) = item.id {
            value["id"] = id;
        }
        let written = match output {
            Output::Json => writeln!(out, "{value}"),
            Output::Text => out.write_all(text_line(&value, request.as_ref()).as_bytes()),
            Output::Table => {
                rows.push((value, request));
                Ok(())
            }
        };
        if written.is_err() {
            return FAILED;
        }
    }
    if output == Output::Table && out.write_all(table(&rows).as_bytes()).is_err() {
        return FAILED;
    }
    if out.flush().is_err() {
        return FAILED;
    }
    if bad > 0 {
        BAD_INPUT
    } else if args.fail_on_deny && denied > 0 {
        FAILED
    } else {
        OK
    }
}

/// The decision as JSON, with the reference evaluator's explanation when asked.
fn decide(engine: &Engine, request: &Request, explain: bool) -> Value {
    let explanation = explain.then(|| crate::reference::explain(engine.world(), request).1);
    engine.decide(request).to_value(explanation.as_ref())
}

/// Reads the requests of a file or standard input, in any of the accepted forms.
fn read_input(input: &str) -> Result<Vec<Item>, String> {
    let mut text = String::new();
    let read = if input == "-" {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!(
                "keyward: reading requests from the terminal, one JSON object per line; end with Ctrl-D \
                 (or ask with --principal P --action A --resource R; see keyward check --help)"
            );
        }
        stdin.lock().read_to_string(&mut text)
    } else {
        std::fs::File::open(input).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| format!("cannot read {input}: {e}"))?;
    let listed = |items: &[Value]| {
        (items.iter().enumerate())
            .map(|(i, v)| item(i + 1, Ok(v.clone())))
            .collect()
    };
    Ok(match crate::json::parse(&text) {
        Ok(Value::Array(items)) => listed(&items),
        Ok(Value::Object(o)) if o.get("requests").is_some_and(Value::is_array) => {
            listed(o["requests"].as_array().expect("checked"))
        }
        Ok(v) => vec![item(1, Ok(v))],
        Err(_) => (text.lines().enumerate())
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                item(
                    n + 1,
                    crate::json::parse(l).map_err(|e| format!("invalid JSON: {e}")),
                )
            })
            .collect(),
    })
}

/// An item whose `id`, if any, is taken out of the request.
fn item(line: usize, request: Result<Value, String>) -> Item {
    let mut id = None;
    let request = request.map(|v| match v {
        Value::Object(mut o) => {
            id = o.remove("id");
            Value::Object(o)
        }
        v => v,
    });
    Item { line, id, request }
}

/// The requests of the flag form: every action on every resource, actions outermost.
fn flag_requests(principal: &str, args: &Args) -> Result<Vec<Item>, String> {
    let mut context = Map::new();
    for pair in &args.context {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--context {pair:?}: expected KEY=VALUE"))?;
        match context.get_mut(k) {
            Some(Value::Array(vs)) => vs.push(v.into()),
            Some(one) => *one = json!([one.take(), v]),
            None => drop(context.insert(k.to_owned(), v.into())),
        }
    }
    let mut items = Vec::new();
    for action in &args.action {
        for resource in &args.resource {
            let mut r = json!({"principal": principal, "action": action, "resource": resource});
            if !context.is_empty() {
                r["context"] = Value::Object(context.clone());
            }
            items.push(item(items.len() + 1, Ok(r)));
        }
    }
    Ok(items)
}

/// What decided, in words: the reasons, else the missing layer, else the error.
fn decided_by(v: &Value) -> String {
    if let Some(e) = v["error"].as_str() {
        return e.to_owned();
    }
    let mut parts: Vec<String> = (v["reasons"].as_array().into_iter().flatten())
        .map(describe_reason)
        .collect();
    if let Some(m) = v["explanation"]["missing"].as_str() {
        parts.push(format!("missing: {m}"));
    }
    for k in ["key_state_error", "operation_error"] {
        if let Some(e) = v[k].as_str() {
            parts.push(e.to_owned());
        }
    }
    parts.join("; ")
}

fn describe_reason(r: &Value) -> String {
    let source = r["source"].as_str().unwrap_or("?");
    let mut s = match source {
        "grant" => format!("grant {}", r["grant_id"].as_str().unwrap_or("?")),
        "root-user" => format!("root user of {}", r["account"].as_str().unwrap_or("?")),
        other => other.to_owned(),
    };
    if let Some(i) = r["statement"].as_u64() {
        s.push_str(&format!(" #{i}"));
    }
    if let Some(sid) = r["sid"].as_str() {
        s.push_str(&format!(" ({sid})"));
    }
    s
}

fn outcome_cell(v: &Value) -> (String, Paint) {
    match v["decision"].as_str() {
        Some(d) if d == Outcome::Allow.as_str() => (d.to_owned(), Paint::Ok),
        Some(d) => (d.to_owned(), Paint::Bad),
        None => ("error".to_owned(), Paint::Bad),
    }
}

/// The request's principal, action and resource as given (blank for an unreadable request).
fn who_what(request: Option<&Request>) -> [String; 3] {
    match request.map(Request::to_value) {
        Some(r) => ["principal", "action", "resource"]
            .map(|k| r[k].as_str().unwrap_or_default().to_owned()),
        None => Default::default(),
    }
}

fn table(rows: &[(Value, Option<Request>)]) -> String {
    let header = [
        "#",
        "principal",
        "action",
        "resource",
        "decision",
        "decided by",
    ]
    .map(String::from);
    let body: Vec<([String; 6], Paint)> = rows
        .iter()
        .enumerate()
        .map(|(i, (v, r))| {
            let [p, a, res] = who_what(r.as_ref());
            let n = match &v["id"] {
                Value::Null => (i + 1).to_string(),
                Value::String(s) => s.clone(),
                id => id.to_string(),
            };
            let (d, style) = outcome_cell(v);
            ([n, p, a, res, d, decided_by(v)], style)
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for (cells, _) in &body {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String; 6], style: Option<Paint>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            let padded = if i == 5 {
                c.clone()
            } else {
                format!("{c:<w$}  ")
            };
            match style {
                Some(p) if i == 4 => s.push_str(&paint(p, &padded)),
                _ => s.push_str(&padded),
            }
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(&header, None);
    for (cells, style) in &body {
        out.push_str(&line(cells, Some(*style)));
    }
    out
}

fn text_line(v: &Value, request: Option<&Request>) -> String {
    let (d, style) = outcome_cell(v);
    let [p, a, r] = who_what(request);
    let id = match &v["id"] {
        Value::Null => String::new(),
        id => format!("[{}] ", id.as_str().map_or(id.to_string(), str::to_owned)),
    };
    let by = decided_by(v);
    let by = if by.is_empty() { by } else { format!(": {by}") };
    if request.is_none() {
        return format!("{id}{} line {}{by}\n", paint(style, &d), v["line"]);
    }
    format!("{id}{} {p} {a} on {r}{by}\n", paint(style, &d))
}
