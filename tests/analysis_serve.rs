//! `GET /v1/who-can` and `GET /v1/what-can` on the real binary: the same answers as the library,
//! and clear errors for missing or unknown parameters.

mod serve_harness;

use keyward::analysis::{analysed_actions, Analyzer};
use keyward::arn::Caller;
use serve_harness::*;
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/11111111-1111-1111-1111-111111111111";

#[test]
fn who_can_and_what_can_answer_as_the_library_does() {
    let path = repo("corpus/analysis/worlds/bank.json");
    let world = keyward::World::load(&path).unwrap();
    let an = Analyzer::new(&world);
    let server = Server::start(&path, &["--no-watch"]);

    let a = server.get(&format!("/v1/who-can?key={KEY}"));
    assert_eq!(a.status, 200, "{}", a.body);
    let key = an.resolve_key(KEY).unwrap();
    assert_eq!(
        a.json(),
        an.who_can(key, analysed_actions()).to_json(&world)
    );
    assert_eq!(a.version, Some(1));

    let a = server.get(&format!(
        "/v1/who-can?key={KEY}&action=kms:Decrypt&action=DescribeKey"
    ));
    assert_eq!(a.status, 200, "{}", a.body);
    let actions: Vec<String> = a.json()["actions"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(actions, ["kms:Decrypt", "kms:DescribeKey"]);

    let partner = "arn:aws:iam::777788889999:role/partner";
    let a = server.get(&format!("/v1/what-can?principal={partner}"));
    assert_eq!(a.status, 200, "{}", a.body);
    let caller = Caller::parse(partner).unwrap();
    assert_eq!(
        a.json(),
        an.what_can(&caller, analysed_actions()).to_json(&world)
    );
    assert!(a.json()["keys"][KEY]["kms:Decrypt"].is_array());

    let a = server.get("/v1/who-can");
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["field"], "key");
    let a = server.get("/v1/who-can?key=arn:aws:kms:us-east-1:111122223333:key/nope");
    assert_eq!(a.status, 404);
    let a = server.get(&format!("/v1/who-can?key={KEY}&action=kms:Decrpyt"));
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["field"], "action");
    let a = server.get("/v1/what-can?principal=not-a-principal");
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["field"], "principal");
}
