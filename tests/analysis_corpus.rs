//! The hand-made analysis cases of `corpus/analysis/`: each runs a `keyward` analysis command
//! with `--output json` as a user would, and compares its answer with the expected one. An entry
//! is written `PRINCIPAL[ if KEY OPERATOR VALUES and …][ unless …]`, a grant's constraints as
//! `grant ID`, a finding as `SEVERITY CODE KEY`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/analysis")
}

fn cond_text(c: &Value) -> String {
    if let Some(g) = c.get("grant") {
        return format!("grant {}", g.as_str().unwrap());
    }
    if let Some(inner) = c.get("not") {
        return format!("not ({})", conds_text(inner));
    }
    let values: Vec<&str> = c["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    format!(
        "{} {} {}",
        c["key"].as_str().unwrap(),
        c["operator"].as_str().unwrap(),
        values.join(" | ")
    )
}

fn conds_text(cs: &Value) -> String {
    cs.as_array()
        .unwrap()
        .iter()
        .map(cond_text)
        .collect::<Vec<_>>()
        .join(" and ")
}

fn entry_text(e: &Value) -> String {
    let mut s = e["principal"].as_str().unwrap().to_owned();
    let conds = conds_text(&e["conditions"]);
    if !conds.is_empty() {
        s.push_str(" if ");
        s.push_str(&conds);
    }
    if let Some(unless) = e.get("unless") {
        for d in unless.as_array().unwrap() {
            s.push_str(" unless ");
            s.push_str(&conds_text(&d["conditions"]));
        }
    }
    s
}

fn sorted(v: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().collect();
    v.sort();
    v
}

fn actions_text(actions: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (a, entries) in actions.as_object().unwrap() {
        let texts = sorted(entries.as_array().unwrap().iter().map(entry_text));
        out.insert(a.clone(), texts.into());
    }
    Value::Object(out)
}

fn expected_sorted(expect: &Value) -> Value {
    match expect {
        Value::Array(items) => sorted(items.iter().map(|v| v.as_str().unwrap().to_owned())).into(),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), expected_sorted(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn analysis_corpus_cases_hold() {
    let mut ran = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in file["analysis"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let world = corpus().join(case["world"].as_str().unwrap());
            let args: Vec<&str> = case["command"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyward"));
            cmd.args(&args[..1])
                .arg("--world")
                .arg(&world)
                .args(&args[1..]);
            if args[0] != "findings" {
                cmd.args(["--output", "json"]);
            }
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let actual: Value = match args[0] {
                "who-can" => {
                    let v: Value = serde_json::from_str(&stdout).unwrap();
                    let mut a = actions_text(&v["actions"]);
                    // Actions asked for but not expected are not compared.
                    let expect = case["expect"].as_object().unwrap();
                    a.as_object_mut()
                        .unwrap()
                        .retain(|k, _| expect.contains_key(k));
                    a
                }
                "what-can" => {
                    let v: Value = serde_json::from_str(&stdout).unwrap();
                    let keys = v["keys"].as_object().unwrap();
                    Value::Object(
                        keys.iter()
                            .map(|(k, acts)| (k.clone(), actions_text(acts)))
                            .collect(),
                    )
                }
                "findings" => sorted(stdout.lines().map(|l| {
                    let f: Value = serde_json::from_str(l).unwrap();
                    format!(
                        "{} {} {}",
                        f["severity"].as_str().unwrap(),
                        f["code"].as_str().unwrap(),
                        f["key"].as_str().unwrap_or("-")
                    )
                }))
                .into(),
                other => panic!("{name}: unknown command {other}"),
            };
            assert_eq!(
                actual,
                expected_sorted(&case["expect"]),
                "{name} ({})",
                path.display()
            );
            ran += 1;
        }
    }
    assert!(ran >= 6, "only {ran} analysis cases ran");
}
