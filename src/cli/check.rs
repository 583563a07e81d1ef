//! `keyward check`: decide requests read from a file or standard input.

use super::{load_world, BAD_INPUT, FAILED, OK};
use crate::decision::Outcome;
use crate::request::Request;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

pub fn run(world: &Path, explain: bool, fail_on_deny: bool, input: &str) -> u8 {
    let Some(world) = load_world(world) else {
        return BAD_INPUT;
    };
    let engine = crate::engine::Engine::compile(world);
    let world = engine.world();
    let reader: Box<dyn Read> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(input) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("keyward: cannot read {input}: {e}");
                return BAD_INPUT;
            }
        }
    };
    let mut reader = BufReader::new(reader);
    let mut text = String::new();
    if let Err(e) = reader.read_to_string(&mut text) {
        eprintln!("keyward: cannot read {input}: {e}");
        return BAD_INPUT;
    }
    // One JSON object (possibly pretty-printed), or JSON Lines.
    let lines: Vec<(usize, &str)> = if crate::json::parse(&text).is_ok() {
        vec![(1, text.as_str())]
    } else {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.trim().is_empty())
            .collect()
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut bad, mut denied) = (0usize, 0usize);
    for (n, line) in lines {
        let place = if input == "-" {
            format!("<stdin>:{n}")
        } else {
            format!("{input}:{n}")
        };
        let request = match Request::from_json(line) {
            Ok((r, warnings)) => {
                for w in warnings {
                    eprintln!("keyward: {place}: {w}");
                }
                r
            }
            Err(e) => {
                eprintln!("keyward: {place}: {e}");
                bad += 1;
                continue;
            }
        };
        let value = if explain {
            let (_, x) = crate::reference::explain(world, &request);
            engine.decide(&request).to_value(Some(&x))
        } else {
            engine.decide(&request).to_value(None)
        };
        if value["decision"] != Outcome::Allow.as_str() {
            denied += 1;
        }
        if writeln!(out, "{value}").is_err() {
            return FAILED;
        }
    }
    let _ = out.flush();
    if bad > 0 {
        BAD_INPUT
    } else if fail_on_deny && denied > 0 {
        FAILED
    } else {
        OK
    }
}
