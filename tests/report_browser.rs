//! `keyward replay --report` as people see it: the page is generated from the example trail (and
//! from a second world with `--against`), then loaded in headless Chromium through chromedriver.
//! The tests check that the page's script ran without a console error, that the charts render
//! with the bars the replay's JSON summary predicts, that the tables hold the right counts, that
//! the filter box filters, and that record text full of HTML stays text. Screenshots are saved
//! under `target/tmp/report-browser/` (out of git).
//!
//! Without `chromium` and `chromedriver` on the PATH (Debian: `apt-get install chromium
//! chromium-driver`; or set `KEYWARD_CHROMIUM` and `KEYWARD_CHROMEDRIVER`) the browser tests say
//! so and pass without running; the escaping test needs no browser.

use base64::Engine as _;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORLD: &str = "corpus/cloudtrail/example/world.json";
const TIGHT: &str = "corpus/cloudtrail/example/world-tightened.json";
const LOGS: &str = "corpus/cloudtrail/example/logs";

/// A script injected into record fields: if it ever ran, the page would carry `data-pwned`.
const PAYLOAD: &str = r#"<img src=x onerror="document.documentElement.dataset.pwned=1"><script>document.documentElement.dataset.pwned=2</script>"#;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where reports and screenshots go: under target/, never in the repository.
fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `keyward replay --json --report <report> ...` and returns the JSON summary.
fn replay(report: &Path, extra: &[&str], logs: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .arg("replay")
        .args(["--world", WORLD])
        .args(extra)
        .arg("--json")
        .arg("--report")
        .arg(report)
        .arg(logs)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.is_file(), "no report written");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Records of the example trail with `PAYLOAD` in the event id, the caller, the key, the error
/// code and the identity type, as JSON Lines.
fn hostile_log(dir: &Path) -> PathBuf {
    let file = root().join(LOGS).join(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/05/04/111122223333_CloudTrail_us-east-1_20260504T0915Z_ExampleReplay0001.json",
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let base = v["Records"][6].clone();
    assert_eq!(base["eventName"], "ScheduleKeyDeletion");
    let mut records = Vec::new();
    let mut r = base.clone();
    r["eventID"] = PAYLOAD.into();
    records.push(r);
    let mut r = base.clone();
    r["userIdentity"]["arn"] = format!("arn:aws:iam::111122223333:user/{PAYLOAD}").into();
    records.push(r);
    let mut r = base.clone();
    let key = format!("arn:aws:kms:us-east-1:111122223333:key/{PAYLOAD}");
    r["resources"][0]["ARN"] = key.clone().into();
    r["requestParameters"]["keyId"] = key.into();
    records.push(r);
    let mut r = base.clone();
    r["errorCode"] = PAYLOAD.into();
    records.push(r);
    let mut r = base;
    r["userIdentity"]["type"] = PAYLOAD.into();
    records.push(r);
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    let path = dir.join("hostile.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn record_text_is_escaped_in_the_page() {
    let dir = out_dir();
    let logs = hostile_log(&dir);
    let report = dir.join("hostile-static.html");
    let summary = replay(&report, &[], logs.to_str().unwrap());
    assert_eq!(summary["totals"]["evaluated"], 4, "{summary}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(!html.contains("<img"), "an injected tag survived");
    assert!(
        !html.contains("<script>document"),
        "an injected script survived"
    );
    let escaped = "&lt;img src=x onerror=&quot;document.documentElement.dataset.pwned=1&quot;&gt;";
    // The event id, the caller (chart and table), the key (chart and table), the error code and
    // the bad record's message all show the payload, as text.
    assert!(
        html.matches(escaped).count() >= 6,
        "{}",
        html.matches(escaped).count()
    );
}

#[test]
fn a_report_that_cannot_be_written_is_a_usage_error_naming_the_file() {
    let missing = out_dir().join("no-such-folder").join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["replay", "--world", WORLD, "--report"])
        .arg(&missing)
        .arg(LOGS)
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write the report") && stderr.contains("no-such-folder"),
        "{stderr}"
    );
}

/// The first program of `names` found on the PATH, or the one `env` names.
fn program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A headless Chromium driven over the WebDriver protocol.
struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    /// Starts chromedriver and a session, or says why it cannot and returns `None`.
    fn start() -> Option<Browser> {
        let chromium = program(
            "KEYWARD_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let driver = program("KEYWARD_CHROMEDRIVER", &["chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            eprintln!(
                "SKIPPED: the report browser test needs chromium and chromedriver on the PATH \
                 (Debian: apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = ureq::get(&format!("{}/status", browser.base))
                .call()
                .ok()
                .and_then(|r| r.into_string().ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,2400"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v = browser.call("POST", "/session", Some(caps));
        browser.session = v["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        Some(browser)
    }

    /// One WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = ureq::request(method, &url).timeout(Duration::from_secs(60));
        let res = match body {
            Some(b) => req
                .set("Content-Type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        match res {
            Ok(r) => {
                serde_json::from_str::<Value>(&r.into_string().unwrap()).unwrap()["value"].take()
            }
            Err(ureq::Error::Status(code, r)) => {
                panic!(
                    "{method} {path}: {code} {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens a local file and waits for the page's script to mark it ready.
    fn open(&self, file: &Path) {
        let url = format!("file://{}", file.canonicalize().unwrap().display());
        self.session("POST", "/url", Some(json!({"url": url})));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = self.eval("return document.documentElement.dataset.ready;");
            if ready == "true" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page's script never finished (data-ready={ready}); console: {:?}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `script` in the page and returns its value.
    fn eval(&self, script: &str) -> Value {
        self.session(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The browser console since the last call: (level, message).
    fn console(&self) -> Vec<(String, String)> {
        let v = self.session("POST", "/se/log", Some(json!({"type": "browser"})));
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or("").to_owned(),
                            e["message"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the console holds no error or warning (a script error, a blocked load, a
    /// violated content policy).
    fn assert_quiet_console(&self) {
        let bad: Vec<_> = self
            .console()
            .into_iter()
            .filter(|(level, _)| level == "SEVERE" || level == "WARNING")
            .collect();
        assert!(bad.is_empty(), "console errors: {bad:?}");
    }

    /// The element `css` matches (its WebDriver id).
    fn find(&self, css: &str) -> String {
        let v = self.session(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.session("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.session(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.session("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Saves a screenshot of the window as PNG.
    fn screenshot(&self, to: &Path) {
        let b64 = self.session("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(to, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session))
                .timeout(Duration::from_secs(20))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// What the page shows, read in the browser: totals, bars, rows.
const FACTS: &str = r##"
const totals = {};
document.querySelectorAll("[data-total]").forEach(function (td) {
  totals[td.getAttribute("data-total")] = Number(td.textContent);
});
function rendered(el) { const b = el.getBoundingClientRect(); return b.width > 0 && b.height > 0; }
const buckets = Array.from(document.querySelectorAll("#chart-time g.bucket")).map(function (g) {
  return { allow: Number(g.dataset.allow), explicit: Number(g.dataset.explicit),
           implicit: Number(g.dataset.implicit),
           rects: g.querySelectorAll("rect").length,
           rendered: Array.from(g.querySelectorAll("rect")).every(rendered) };
});
const charts = {};
["principals", "keys", "actions"].forEach(function (id) {
  charts[id] = Array.from(document.querySelectorAll("#chart-" + id + " g.row")).map(function (g) {
    const bar = g.querySelector("rect.bar");
    return { name: g.querySelector("title").textContent.replace(/: \d+$/, ""),
             count: Number(bar.dataset.count), width: bar.getBoundingClientRect().width };
  });
});
function rows(id) {
  const t = document.getElementById(id);
  if (!t) { return null; }
  const all = Array.from(t.tBodies[0].rows);
  return { total: all.length, visible: all.filter(function (r) { return !r.hidden; }).length,
           counts: all.map(function (r) { return Number(r.dataset.count || 1); }),
           shown: document.getElementById(id + "-shown").textContent };
}
return { title: document.title, totals: totals, buckets: buckets, charts: charts,
         disagreements: rows("disagreement-table"), changes: rows("change-table"),
         pwned: document.documentElement.dataset.pwned || null,
         injected: document.querySelectorAll("main img, main script").length,
         text: document.body.innerText };
"##;

/// Every total the page shows equals the JSON summary's.
fn assert_totals(facts: &Value, summary: &Value) {
    let t = &facts["totals"];
    let s = &summary["totals"];
    for key in [
        "records",
        "kms_records",
        "skipped_non_kms",
        "skipped_not_authorization",
        "bad_records",
        "evaluated",
    ] {
        assert_eq!(t[key], s[key], "total {key}");
    }
    for key in ["Allow", "ExplicitDeny", "ImplicitDeny"] {
        assert_eq!(t[key], summary["decisions"][key], "decisions {key}");
    }
    assert_eq!(t["recorded_allowed"], summary["recorded"]["allowed"]);
    assert_eq!(t["recorded_denied"], summary["recorded"]["denied"]);
    assert_eq!(t["other_error"], summary["recorded"]["other_error"]);
    for key in ["agreements", "disagreements", "not_compared"] {
        assert_eq!(t[key], summary["comparison"][key], "comparison {key}");
    }
}

/// The three bar charts hold the JSON summary's most denied, in order, with proportional bars.
fn assert_bars(facts: &Value, summary: &Value) {
    for (chart, field) in [
        ("principals", "principal"),
        ("keys", "key"),
        ("actions", "action"),
    ] {
        let bars = facts["charts"][chart].as_array().unwrap();
        let expected = summary["top_denied"][chart].as_array().unwrap();
        assert!(!expected.is_empty());
        assert_eq!(bars.len(), expected.len(), "bars of {chart}");
        let max = bars[0]["width"].as_f64().unwrap();
        let max_count = bars[0]["count"].as_f64().unwrap();
        for (bar, want) in bars.iter().zip(expected) {
            assert_eq!(bar["name"], want[field], "{chart}");
            assert_eq!(bar["count"], want["count"], "{chart}");
            let ratio = bar["width"].as_f64().unwrap() / max;
            let want_ratio = bar["count"].as_f64().unwrap() / max_count;
            assert!(
                (ratio - want_ratio).abs() < 0.02,
                "{chart}: bar {bar} not proportional"
            );
        }
    }
}

/// The timeline's bars add up to every decision, each drawn.
fn assert_timeline(facts: &Value, summary: &Value) {
    let buckets = facts["buckets"].as_array().unwrap();
    // The example's decided records fall in five minutes, 09:10 to 09:14.
    assert_eq!(buckets.len(), 5, "{buckets:?}");
    let mut sums = [0u64; 3];
    for b in buckets {
        assert_eq!(b["rendered"], true, "{b}");
        let parts: Vec<u64> = ["allow", "explicit", "implicit"]
            .iter()
            .map(|k| b[k].as_u64().unwrap())
            .collect();
        assert_eq!(
            b["rects"].as_u64().unwrap(),
            parts.iter().filter(|n| **n > 0).count() as u64
        );
        for i in 0..3 {
            sums[i] += parts[i];
        }
    }
    assert_eq!(sums[0], summary["decisions"]["Allow"].as_u64().unwrap());
    assert_eq!(
        sums[1],
        summary["decisions"]["ExplicitDeny"].as_u64().unwrap()
    );
    assert_eq!(
        sums[2],
        summary["decisions"]["ImplicitDeny"].as_u64().unwrap()
    );
}

#[test]
fn report_renders_in_a_browser_with_the_replays_figures() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let dir = out_dir();

    // A replay against one world: totals, charts, the disagreement.
    let report = dir.join("report.html");
    let summary = replay(&report, &[], LOGS);
    browser.open(&report);
    browser.assert_quiet_console();
    let facts = browser.eval(FACTS);
    assert_eq!(facts["title"], "keyward replay report");
    assert_totals(&facts, &summary);
    assert_bars(&facts, &summary);
    assert_timeline(&facts, &summary);
    let listed = summary["disagreements"].as_array().unwrap().len() as u64;
    assert_eq!(listed, 1);
    assert_eq!(facts["disagreements"]["total"], listed);
    assert_eq!(facts["disagreements"]["visible"], listed);
    assert_eq!(facts["changes"], Value::Null, "no second world, no changes");
    browser.screenshot(&dir.join("report.png"));

    // The same traffic against a tightened world: the changed decisions, grouped and filterable.
    let report = dir.join("report-against.html");
    let summary = replay(&report, &["--against", TIGHT], LOGS);
    browser.open(&report);
    browser.assert_quiet_console();
    let facts = browser.eval(FACTS);
    assert_totals(&facts, &summary);
    let diff = &summary["diff"];
    assert_eq!(facts["totals"]["changed"], diff["changed"]);
    assert_eq!(facts["totals"]["allow_to_deny"], diff["allow_to_deny"]);
    assert_eq!(facts["totals"]["deny_to_allow"], diff["deny_to_allow"]);
    let groups = diff["groups"].as_array().unwrap();
    let changes = &facts["changes"];
    assert_eq!(changes["total"], groups.len());
    let counts: Vec<u64> = groups
        .iter()
        .map(|g| g["count"].as_u64().unwrap())
        .collect();
    assert_eq!(changes["counts"], json!(counts));
    assert_eq!(changes["shown"], "2 of 2 rows shown");
    browser.screenshot(&dir.join("report-against.png"));

    // The filter box: one principal's row, then nothing in the other direction.
    browser.type_into("#change-table-filter", "user/alice");
    let facts = browser.eval(FACTS);
    assert_eq!(facts["changes"]["visible"], 1);
    assert_eq!(facts["changes"]["shown"], "1 of 2 rows shown");
    browser.type_into("#change-table-filter", "");
    browser.click("select[data-filter-for='change-table'] option[value='deny-to-allow']");
    let facts = browser.eval(FACTS);
    assert_eq!(facts["changes"]["visible"], 0);
    browser.click("select[data-filter-for='change-table'] option[value='allow-to-deny']");
    let facts = browser.eval(FACTS);
    assert_eq!(facts["changes"]["visible"], 2);
    browser.assert_quiet_console();
}

#[test]
fn injected_markup_stays_text_in_a_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let dir = out_dir();
    let logs = hostile_log(&dir);
    let report = dir.join("hostile.html");
    let summary = replay(&report, &[], logs.to_str().unwrap());
    browser.open(&report);
    browser.assert_quiet_console();
    let facts = browser.eval(FACTS);
    assert_eq!(facts["pwned"], Value::Null, "an injected script ran");
    assert_eq!(facts["injected"], 0, "an injected element exists");
    assert_totals(&facts, &summary);
    let text = facts["text"].as_str().unwrap();
    assert!(text.contains(PAYLOAD), "the payload is shown as text");
    browser.screenshot(&dir.join("hostile.png"));
}
