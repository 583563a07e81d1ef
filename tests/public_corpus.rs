//! Real public data from `../shared/corpus-public/` (when present): every policy AWS would accept
//! parses, every rejection is one we reviewed, and real ListGrants bodies load as grants.
//! Skips, saying so, when the folder is absent.

use keyward::policy::{parse_policy, ParseOptions, PolicyKind, Severity};
use keyward::world::World;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus-public");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

fn reviewed_rejections() -> BTreeMap<String, String> {
    include_str!("data/public-policy-rejections.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (f, why) = l.split_once('\t').expect("file<TAB>reason");
            (f.to_owned(), why.to_owned())
        })
        .collect()
}

#[test]
fn public_policies_parse_or_are_reviewed_rejections() {
    let Some(dir) = corpus() else { return };
    let sources: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sources.json")).unwrap()).unwrap();
    let reviewed = reviewed_rejections();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("policies"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(
        files.len() > 400,
        "expected the whole public corpus, found {} files",
        files.len()
    );
    let (mut accepted, mut rejected) = (0, Vec::new());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let kind = match sources["policies"][&name]["kind"].as_str() {
            Some("key-policy" | "resource-policy" | "rcp") => PolicyKind::Key,
            _ => PolicyKind::Identity,
        };
        let text = std::fs::read_to_string(path).unwrap();
        let value = serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match parse_policy(&value, Some(&text), kind, &ParseOptions::default()) {
            Ok(_) => accepted += 1,
            Err(errors) => {
                assert!(
                    errors
                        .iter()
                        .all(|e| e.severity == Severity::Error && e.place.contains("Statement[")),
                    "{name}: {errors:?}"
                );
                rejected.push((name, errors));
            }
        }
    }
    println!(
        "public policies: {accepted} accepted, {} rejected",
        rejected.len()
    );
    for (name, errors) in &rejected {
        println!(
            "  rejected {name}: {} ({})",
            errors[0],
            reviewed.get(name).map_or("NOT REVIEWED", |s| s.as_str())
        );
    }
    let unexpected: Vec<_> = rejected
        .iter()
        .filter(|(n, _)| !reviewed.contains_key(n))
        .map(|(n, e)| format!("{n}: {}", e[0]))
        .collect();
    assert!(
        unexpected.is_empty(),
        "rejections nobody reviewed:\n{}",
        unexpected.join("\n")
    );
    let now_accepted: Vec<_> = reviewed
        .keys()
        .filter(|n| !rejected.iter().any(|(r, _)| r == *n))
        .collect();
    assert!(
        now_accepted.is_empty(),
        "reviewed rejections that now parse: {now_accepted:?}"
    );
}

#[test]
fn public_list_grants_bodies_load_as_grants() {
    let Some(dir) = corpus() else { return };
    let mut loaded = 0;
    for entry in std::fs::read_dir(dir.join("grants")).unwrap().flatten() {
        let body: Value =
            serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
        let grants = body["Grants"].as_array().unwrap().clone();
        let mut keys: Vec<String> = grants
            .iter()
            .filter_map(|g| g["KeyId"].as_str().map(str::to_owned))
            .collect();
        keys.sort();
        keys.dedup();
        let world = json!({
            "keys": keys.iter().map(|k| json!({"arn": k, "policy": {"Version": "2012-10-17", "Statement": []}})).collect::<Vec<_>>(),
            "grants": grants,
        });
        let w = World::from_value(&world, &entry.path().display().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.grants.len(), grants.len());
        loaded += w.grants.len();
    }
    assert!(loaded > 0);
}
