//! Findings on the public real policies of `../shared/corpus-public/` (or `$KEYWARD_PUBLIC_CORPUS`,
//! when present): every key
//! policy that parses becomes a key of one world, every identity policy a role, every public
//! ListGrants body a set of grants. The findings must agree with `who-can` where they overlap,
//! and a summary is printed for the record. Skips, saying so, when the folder is absent.

use keyward::actions::{self, ActionSet};
use keyward::analysis::findings::findings;
use keyward::analysis::Analyzer;
use keyward::policy::{parse_policy, ParseOptions, PolicyKind};
use keyward::world::World;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

const ACCOUNT: &str = "111122223333";

fn corpus() -> Option<PathBuf> {
    // KEYWARD_PUBLIC_CORPUS points elsewhere, e.g. from a second checkout.
    let dir = std::env::var_os("KEYWARD_PUBLIC_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus-public")
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

/// The policy in `path` as a JSON value, when it parses as a policy of `kind`.
fn policy(path: &std::path::Path, kind: PolicyKind) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = serde_json::from_str::<serde_json::Value>(&text).ok()?;
    parse_policy(&value, Some(&text), kind, &ParseOptions::default()).ok()?;
    serde_json::from_str(&text).ok()
}

/// The world: keys from the key policies, roles from the identity policies, and the grants.
fn public_world(dir: &std::path::Path) -> (Value, BTreeMap<String, String>) {
    let sources: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sources.json")).unwrap()).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("policies"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let (mut keys, mut principals) = (Vec::new(), Vec::new());
    let mut names = BTreeMap::new();
    for (n, path) in files.iter().enumerate() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match sources["policies"][&name]["kind"].as_str() {
            Some("key-policy") => {
                let Some(p) = policy(path, PolicyKind::Key) else {
                    continue;
                };
                let arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/public-{n:04}");
                names.insert(arn.clone(), name);
                keys.push(json!({"arn": arn, "policy": p}));
            }
            Some("identity-policy" | "aws-managed-identity-policy") => {
                let Some(p) = policy(path, PolicyKind::Identity) else {
                    continue;
                };
                let arn = format!("arn:aws:iam::{ACCOUNT}:role/public-{n:04}");
                names.insert(arn.clone(), name);
                principals.push(json!({"arn": arn, "policies": [p]}));
            }
            _ => {}
        }
    }
    let mut grants = Vec::new();
    let mut grant_files: Vec<_> = std::fs::read_dir(dir.join("grants"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    grant_files.sort();
    for path in grant_files {
        let body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for g in body["Grants"].as_array().into_iter().flatten() {
            let key = g["KeyId"].as_str().unwrap_or_default().to_owned();
            if key.starts_with("arn:aws:kms:") && !keys.iter().any(|k| k["arn"] == key) {
                // The key a real grant names, with the default key policy.
                let account = key.split(':').nth(4).unwrap_or(ACCOUNT);
                keys.push(
                    json!({"arn": key, "policy": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                     "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                     "Action": "kms:*", "Resource": "*"}]}}),
                );
            }
            grants.push(g.clone());
        }
    }
    (
        json!({"accounts": [{"id": ACCOUNT}], "keys": keys, "principals": principals, "grants": grants}),
        names,
    )
}

#[test]
fn public_policy_findings() {
    let Some(dir) = corpus() else { return };
    let (value, names) = public_world(&dir);
    let world = World::from_value(&value, "public corpus").expect("the public world loads");
    assert!(world.keys.len() > 100, "only {} keys", world.keys.len());
    let an = Analyzer::new(&world);
    let found = findings(&an);
    let mut by_code: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for f in &found {
        *by_code.entry((f.code, f.severity.name())).or_default() += 1;
    }
    eprintln!(
        "public corpus: {} keys, {} roles, {} grants: {} findings",
        world.keys.len(),
        world.principals.len(),
        world.grants.len(),
        found.len()
    );
    for ((code, severity), n) in &by_code {
        eprintln!("  {n:>4}  {severity:<8}  {code}");
    }
    for f in &found {
        let source = f.key.as_ref().and_then(|k| names.get(k));
        eprintln!(
            "  {} {} {} [{}]: {}",
            f.severity.name(),
            f.code,
            f.place,
            source.map_or("", String::as_str),
            f.why
        );
    }
    // A key flagged as having no administrator is one who-can finds nobody to administer, and
    // the other way round.
    let mut put = ActionSet::EMPTY;
    put.insert(actions::by_name("PutKeyPolicy").unwrap());
    for key in &world.keys {
        let nobody = an
            .who_can(key, put)
            .actions
            .iter()
            .all(|(_, e)| e.is_empty());
        let flagged = found
            .iter()
            .any(|f| f.code == "no-administrator" && f.key.as_deref() == Some(&key.arn));
        let aws_managed = key
            .policy
            .as_ref()
            .and_then(|p| p.id.as_deref())
            .is_some_and(|id| id.starts_with("auto-"));
        assert_eq!(
            nobody && !aws_managed,
            flagged,
            "no-administrator on {}",
            key.arn
        );
    }
    // A public-principal finding points at a key whose who-can lists the `*` class.
    for f in found.iter().filter(|f| f.code == "public-principal") {
        let Some(key) = f.key.as_deref().and_then(|k| an.resolve_key(k)) else {
            continue;
        };
        let who = an.who_can(key, keyward::analysis::analysed_actions());
        assert!(
            who.actions
                .iter()
                .any(|(_, es)| es.iter().any(|e| e.class && e.principal == "*")),
            "public-principal on {} without a `*` entry",
            key.arn
        );
    }
}
