//! The deployment files (Dockerfile, deploy/kubernetes, deploy/systemd) hold together: the YAML
//! is valid and wires the world, the probes and the volumes as docs/operations.md says, and
//! every option they pass to `keyward serve` exists.

use serde_json::Value;
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The long options `keyward serve` accepts, from its help.
fn serve_options() -> Vec<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned()
        })
        .collect()
}

fn assert_known_options(args: &[String], known: &[String], file: &str) {
    for a in args.iter().filter(|a| a.starts_with("--")) {
        let name = a.split('=').next().unwrap();
        assert!(
            known.iter().any(|k| k == name),
            "{file} passes {name}, which keyward serve does not accept"
        );
    }
}

#[test]
fn the_kubernetes_sidecar_is_valid_and_wired_as_documented() {
    let text = std::fs::read_to_string(repo("deploy/kubernetes/sidecar.yaml")).unwrap();
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML"))
        .collect();
    let kind = |k: &str| -> &Value {
        docs.iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("no {k}"))
    };
    for d in &docs {
        assert!(
            d["apiVersion"].is_string() && d["metadata"]["name"].is_string(),
            "{d}"
        );
    }
    // The world in the ConfigMap loads.
    let config = kind("ConfigMap");
    let world_text = config["data"]["world.json"].as_str().unwrap();
    let world = keyward::World::from_json(world_text, "ConfigMap keyward-world").unwrap();
    assert!(!world.keys.is_empty());

    let deployment = kind("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let keyward = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "keyward")
        .unwrap();
    let args: Vec<String> = keyward["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(args[0], "serve");
    assert_known_options(&args, &serve_options(), "sidecar.yaml");
    let arg = |name: &str| -> &str {
        let i = args.iter().position(|a| a == name).unwrap();
        &args[i + 1]
    };
    // Readiness on /ready, liveness on /health, on the port keyward listens on.
    let port_name = keyward["ports"][0]["name"].as_str().unwrap();
    let port = keyward["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(arg("--listen").ends_with(&format!(":{port}")));
    assert_eq!(keyward["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(keyward["readinessProbe"]["httpGet"]["port"], port_name);
    assert_eq!(keyward["livenessProbe"]["httpGet"]["path"], "/health");
    // The world path lies in a directory mount of the ConfigMap (no subPath: updates arrive).
    let mounts = keyward["volumeMounts"].as_array().unwrap();
    let world_mount = mounts
        .iter()
        .find(|m| arg("--world").starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the world path is mounted");
    assert!(world_mount.get("subPath").is_none());
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == world_mount["name"])
        .unwrap();
    assert_eq!(volume["configMap"]["name"], config["metadata"]["name"]);
    let file = arg("--world").rsplit('/').next().unwrap();
    assert!(config["data"].get(file).is_some(), "{file}");
    // The admin token comes from the Secret.
    let token_mount = mounts
        .iter()
        .find(|m| arg("--admin-token-file").starts_with(m["mountPath"].as_str().unwrap()))
        .unwrap();
    let token_volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == token_mount["name"])
        .unwrap();
    assert_eq!(
        token_volume["secret"]["secretName"],
        kind("Secret")["metadata"]["name"]
    );
}

#[test]
fn the_systemd_unit_and_the_dockerfile_pass_real_options() {
    let known = serve_options();
    let unit = std::fs::read_to_string(repo("deploy/systemd/keyward.service")).unwrap();
    let mut exec = String::new();
    for l in unit.lines().skip_while(|l| !l.starts_with("ExecStart=")) {
        exec.push_str(l.trim_end_matches('\\'));
        exec.push(' ');
        if !l.ends_with('\\') {
            break;
        }
    }
    let args: Vec<String> = exec
        .trim_start_matches("ExecStart=")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(args.get(1).map(String::as_str), Some("serve"), "{args:?}");
    assert_known_options(&args, &known, "keyward.service");
    let limit: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("LimitNOFILE="))
        .expect("LimitNOFILE is set")
        .parse()
        .unwrap();
    assert!(limit >= 65536);
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));

    let dockerfile = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    assert!(dockerfile.matches("\nFROM ").count() >= 1 && dockerfile.contains(" AS build"));
    let user = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(
        !user.starts_with("0") && !user.starts_with("root"),
        "{user}"
    );
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/ready"));
    let cmd = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("CMD "))
        .unwrap();
    let cmd: Vec<String> = serde_json::from_str(cmd).unwrap();
    assert_known_options(&cmd, &known, "Dockerfile");
    // The image's default world is the demo world, copied where CMD reads it.
    let world = &cmd[cmd.iter().position(|a| a == "--world").unwrap() + 1];
    assert!(
        dockerfile.contains(&format!("COPY corpus/default/world.json {world}\n")),
        "{world}"
    );
    assert!(repo("corpus/default/world.json").exists());
}
