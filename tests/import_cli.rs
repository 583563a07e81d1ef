//! `keyward import` on AWS CLI outputs in their exact shapes (`corpus/import/`: two accounts'
//! describe-key, get-key-policy, list-resource-tags, list-grants, list-aliases and
//! get-account-authorization-details): the world loads, holds what the outputs say, decides as
//! the hand-written world of the README example does, and every problem is reported.

use keyward::engine::Engine;
use keyward::{Outcome, Request, World};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn keyward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const K1: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const K2: &str = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
const MRK: &str = "arn:aws:kms:us-east-1:111122223333:key/mrk-5e6f7a8b9c0d41e2a3b4c5d6e7f80912";
const KEYS: &str = "corpus/import/111122223333/kms/us-east-1";

fn import_all(dir: &Path) -> (Output, std::path::PathBuf) {
    let out = dir.join("world.json");
    (
        keyward(&["import", "corpus/import", "--out", out.to_str().unwrap()]),
        out,
    )
}

fn decide(world: &Engine, principal: &str, action: &str, resource: &str) -> Outcome {
    let (r, _) = Request::from_value(
        &serde_json::json!({"principal": principal, "action": action, "resource": resource}),
    )
    .unwrap();
    world.decide(&r).outcome
}

#[test]
fn a_folder_of_outputs_becomes_a_world_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (out, path) = import_all(dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("wrote") && stderr.contains("(3 keys, 1 grants, 4 principals, 1 groups)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 aliases point to keys with no describe-key"),
        "alias/aws/ebs is reported: {stderr}"
    );

    let world = World::load(&path).unwrap();
    let k1 = world.key(K1).unwrap();
    assert_eq!(k1.aliases, ["alias/app-data"]);
    assert_eq!(k1.tags.get("team").map(String::as_str), Some("payments"));
    assert_eq!(k1.tags.get("env").map(String::as_str), Some("prod"));
    assert!(k1.policy.is_some());
    let mrk = world.key(MRK).unwrap();
    assert_eq!(mrk.metadata.key_state, "Disabled");
    assert!(mrk.metadata.multi_region);
    assert_eq!(
        mrk.metadata.multi_region_key_type.as_deref(),
        Some("PRIMARY")
    );
    assert_eq!(mrk.aliases, ["alias/legacy-mrk"]);
    assert_eq!(world.grants.len(), 1);
    assert_eq!(world.grants[0].key, K1);
    assert_eq!(world.grants[0].operations, ["Decrypt", "GenerateDataKey"]);

    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let alice = v["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["arn"] == "arn:aws:iam::111122223333:user/Alice")
        .unwrap();
    assert_eq!(
        alice["groups"],
        serde_json::json!(["arn:aws:iam::111122223333:group/Developers"])
    );
    assert_eq!(alice["tags"]["team"], "payroll");
    assert_eq!(
        alice["policies"].as_array().unwrap().len(),
        2,
        "the inline policy and the attached managed one"
    );
    let intern = v["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["arn"] == "arn:aws:iam::111122223333:user/interns/intern")
        .unwrap();
    assert!(intern["permissions_boundary"].is_object());
    // The group's URL-encoded inline policy was decoded.
    assert_eq!(
        v["groups"][0]["policies"][0]["Statement"][0]["Action"],
        "kms:DescribeKey"
    );
}

#[test]
fn the_imported_world_decides_like_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let (out, path) = import_all(dir.path());
    assert_eq!(out.status.code(), Some(0));
    let world = Engine::compile(World::load(&path).unwrap());
    let alice = "arn:aws:iam::111122223333:user/Alice";
    let intern = "arn:aws:iam::111122223333:user/interns/intern";
    // KmsReadOnly's default version (v2) reads keys; its older v1 allowed kms:* and must not apply.
    assert_eq!(decide(&world, alice, "kms:DescribeKey", K1), Outcome::Allow);
    assert_eq!(
        decide(&world, alice, "kms:ScheduleKeyDeletion", K1),
        Outcome::ImplicitDeny
    );
    assert_eq!(
        decide(&world, alice, "kms:GenerateDataKey", K2),
        Outcome::Allow,
        "the inline policy"
    );
    // AdministratorAccess, held back by the read-only permissions boundary.
    assert_eq!(
        decide(&world, intern, "kms:DescribeKey", K1),
        Outcome::Allow
    );
    assert_eq!(
        decide(&world, intern, "kms:Encrypt", K1),
        Outcome::ImplicitDeny
    );
    // The other account's role, from its own authorization details.
    assert_eq!(
        decide(
            &world,
            "arn:aws:sts::444455556666:assumed-role/Dev/d",
            "kms:Encrypt",
            K1
        ),
        Outcome::Allow
    );
}

#[test]
fn replaying_against_the_imported_world_matches_the_hand_written_one() {
    let dir = tempfile::tempdir().unwrap();
    let (out, path) = import_all(dir.path());
    assert_eq!(out.status.code(), Some(0));
    let logs = "corpus/cloudtrail/example/logs";
    let imported = keyward(&["replay", "--json", "--world", path.to_str().unwrap(), logs]);
    let written = keyward(&[
        "replay",
        "--json",
        "--world",
        "corpus/cloudtrail/example/world.json",
        logs,
    ]);
    let a: Value = serde_json::from_slice(&imported.stdout).unwrap();
    let b: Value = serde_json::from_slice(&written.stdout).unwrap();
    assert_eq!(a["decisions"], b["decisions"]);
    assert_eq!(a["comparison"], b["comparison"]);
    assert_eq!(a["disagreements"], b["disagreements"]);
    assert_eq!(a["top_denied"], b["top_denied"]);
}

#[test]
fn options_name_each_output_and_keys_can_be_given() {
    let dir = tempfile::tempdir().unwrap();
    // A key policy saved under a name that does not hold the key id.
    let policy = dir.path().join("policy.json");
    std::fs::copy(
        format!("{KEYS}/1234abcd-12ab-34cd-56ef-1234567890ab/key-policy.json"),
        &policy,
    )
    .unwrap();
    let out = dir.path().join("w.json");
    let describe = format!("{KEYS}/1234abcd-12ab-34cd-56ef-1234567890ab/describe-key.json");
    let tags = format!("{KEYS}/1234abcd-12ab-34cd-56ef-1234567890ab/tags.json");
    let aliases = format!("{KEYS}/aliases.json");
    let given = format!("1234abcd-12ab-34cd-56ef-1234567890ab={}", policy.display());
    let args = [
        "import",
        "--describe-key",
        &describe,
        "--key-policy",
        &given,
        "--list-resource-tags",
        &tags,
        "--list-aliases",
        &aliases,
        "--authorization-details",
        "corpus/import/111122223333/authorization-details.json",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = keyward(&args);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let world = World::load(&out).unwrap();
    assert_eq!(world.keys.len(), 1);
    assert_eq!(world.keys[0].aliases, ["alias/app-data"]);

    // Without KEY= nothing says which key the policy belongs to.
    let bare = policy.display().to_string();
    let run = keyward(&[
        "import",
        "--describe-key",
        &describe,
        "--key-policy",
        &bare,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("does not say which key it is for"),
        "{}",
        text(&run.stderr)
    );
    // A key id with no describe-key output has no known ARN, but a key ARN does.
    let run = keyward(&[
        "import",
        "--key-policy",
        &given,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("its ARN is unknown"),
        "{}",
        text(&run.stderr)
    );
    let by_arn = format!("{K1}={}", policy.display());
    let run = keyward(&[
        "import",
        "--key-policy",
        &by_arn,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("no describe-key output"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn problems_are_reported_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.json");
    let odd = dir.path().join("odd.json");
    std::fs::write(&odd, r#"{"Something": "else"}"#).unwrap();
    let run = keyward(&[
        "import",
        odd.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("not an output keyward imports"),
        "{}",
        text(&run.stderr)
    );
    assert!(!out.exists());

    let describe = format!("{KEYS}/1234abcd-12ab-34cd-56ef-1234567890ab/describe-key.json");
    let run = keyward(&[
        "import",
        "--list-grants",
        &describe,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains(
        "expected the output of `aws kms list-grants`, found that of `aws kms describe-key`"
    ));

    // A policy that keyward rejects is reported with its key, and no world is written.
    let bad_policy = dir.path().join("1234abcd-12ab-34cd-56ef-1234567890ab.json");
    std::fs::write(&bad_policy, r#"{"Policy": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Maybe\"}]}", "PolicyName": "default"}"#).unwrap();
    let run = keyward(&[
        "import",
        &describe,
        bad_policy.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run.stderr).contains(K1), "{}", text(&run.stderr));
    assert!(!out.exists());

    // A managed policy missing from the output is a warning: the world is written without it.
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        r#"{"UserDetailList": [{"UserName": "x", "Arn": "arn:aws:iam::111122223333:user/x",
            "AttachedManagedPolicies": [{"PolicyName": "Gone", "PolicyArn": "arn:aws:iam::111122223333:policy/Gone"}]}],
            "GroupDetailList": [], "RoleDetailList": [], "Policies": []}"#,
    )
    .unwrap();
    let run = keyward(&[
        "import",
        auth.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("policy/Gone is not in the output's Policies"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(
        keyward(&["import", "--out", out.to_str().unwrap()])
            .status
            .code(),
        Some(2),
        "nothing to import"
    );
}
