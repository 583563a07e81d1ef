//! Replaying logs against a world: every record is mapped, decided with the compiled engine and
//! compared with the outcome AWS recorded, in parallel across files. The [`Summary`] holds the
//! totals, the decisions, the agreement with AWS, the most denied principals, keys and actions,
//! and — up to a limit — every disagreement with keyward's explanation and every bad record.
//! With a second world it also collects the decisions that change ([`super::diff`]).

use super::diff::{Change, Changes};
use super::map::{map_record, Mapping, Recorded};
use super::read::{self, Input, Visit};
use super::record::Record;
use super::{source_value, At, Bad, BadKind};
use crate::actions;
use crate::arn::CallerKind;
use crate::decision::{Decision, Explanation, Outcome};
use crate::engine::Engine;
use crate::request::{ContextValue, Request, RequestAction};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// How a replay runs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Most records listed in detail per category (disagreements, bad records, changed
    /// decisions); the counts are always complete. 0 lists every one.
    pub limit: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { limit: 1000 }
    }
}

impl Options {
    fn cap(&self) -> usize {
        if self.limit == 0 {
            usize::MAX
        } else {
            self.limit
        }
    }
}

/// A record where keyward and AWS disagree.
#[derive(Clone, Debug)]
pub struct Disagreement {
    pub at: At,
    pub event_id: Option<String>,
    pub recorded: Recorded,
    pub request: Request,
    pub decision: Decision,
    pub explanation: Explanation,
}

/// Everything a replay found.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Every record read (and every file-level failure, counted as one bad record).
    pub records: u64,
    /// Records of other services.
    pub skipped_non_kms: u64,
    /// KMS records that are not authorizations, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Bad records by kind.
    pub bad_by_kind: BTreeMap<BadKind, u64>,
    /// The first bad records (up to the limit), by position.
    pub bad: Vec<(At, Bad)>,
    /// Records decided.
    pub evaluated: u64,
    /// keyward's decisions: Allow, ExplicitDeny, ImplicitDeny.
    pub decisions: [u64; 3],
    pub recorded_allowed: u64,
    pub recorded_denied: u64,
    /// Other error codes, by code (compared only for the lockout safety check).
    pub recorded_failed: BTreeMap<String, u64>,
    pub agreements: u64,
    pub disagreements: u64,
    /// Records whose recorded error says nothing about authorization.
    pub not_compared: u64,
    /// The first disagreements (up to the limit), by position.
    pub disagreement_list: Vec<Disagreement>,
    /// Denied by keyward, by principal (role sessions counted under their role), key and action
    /// (the operation name without `kms:`).
    pub denied_principals: HashMap<String, u64>,
    pub denied_keys: HashMap<String, u64>,
    pub denied_actions: HashMap<String, u64>,
    /// With a second world: the decisions that change.
    pub changes: Option<Changes>,
    /// keyward's decisions over time: per minute of `eventTime` (epoch minutes), the counts of
    /// Allow, ExplicitDeny and ImplicitDeny.
    pub timeline: BTreeMap<i64, [u64; 3]>,
    /// Records decided whose `eventTime` is not a date and time (not in [`Summary::timeline`]).
    pub undated: u64,
}

/// What happened to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Succeeded,
    Denied,
    /// Authorized, but refused by the policy lockout safety check.
    LockedOut,
}

fn outcome_index(o: Outcome) -> usize {
    match o {
        Outcome::Allow => 0,
        Outcome::ExplicitDeny => 1,
        Outcome::ImplicitDeny => 2,
    }
}

/// The outcomes in the order of [`Summary::decisions`] and [`Summary::timeline`].
pub const OUTCOMES: [Outcome; 3] = [Outcome::Allow, Outcome::ExplicitDeny, Outcome::ImplicitDeny];

impl Summary {
    /// The denied-actions counts with their `kms:` prefix, for reports.
    pub fn denied_action_names(&self) -> HashMap<String, u64> {
        self.denied_actions
            .iter()
            .map(|(k, n)| (format!("kms:{k}"), *n))
            .collect()
    }

    /// Bad records, all kinds.
    pub fn bad_records(&self) -> u64 {
        self.bad_by_kind.values().sum()
    }

    /// KMS records that are not authorizations.
    pub fn skipped_not_authorization(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Records not compared with AWS's outcome: AWS failed the call for a reason other than
    /// authorization.
    pub fn not_compared(&self) -> u64 {
        self.not_compared
    }

    /// Whether the replay found anything to report as failure: disagreements or bad records
    /// (with a second world: changed decisions or bad records).
    pub fn failed(&self) -> bool {
        match &self.changes {
            Some(c) => c.changed() > 0 || self.bad_records() > 0,
            None => self.disagreements > 0 || self.bad_records() > 0,
        }
    }

    fn merge(mut self, b: Summary, cap: usize) -> Summary {
        self.records += b.records;
        self.skipped_non_kms += b.skipped_non_kms;
        add_counts(&mut self.skipped, b.skipped);
        add_counts(&mut self.bad_by_kind, b.bad_by_kind);
        self.bad.extend(b.bad);
        self.bad.sort_by_key(|(at, _)| *at);
        self.bad.truncate(cap);
        self.evaluated += b.evaluated;
        for i in 0..3 {
            self.decisions[i] += b.decisions[i];
        }
        self.recorded_allowed += b.recorded_allowed;
        self.recorded_denied += b.recorded_denied;
        add_counts(&mut self.recorded_failed, b.recorded_failed);
        self.agreements += b.agreements;
        self.not_compared += b.not_compared;
        self.disagreements += b.disagreements;
        self.disagreement_list.extend(b.disagreement_list);
        self.disagreement_list.sort_by_key(|d| d.at);
        self.disagreement_list.truncate(cap);
        for (mine, theirs) in [
            (&mut self.denied_principals, b.denied_principals),
            (&mut self.denied_keys, b.denied_keys),
            (&mut self.denied_actions, b.denied_actions),
        ] {
            for (k, n) in theirs {
                *mine.entry(k).or_default() += n;
            }
        }
        for (minute, counts) in b.timeline {
            let mine = self.timeline.entry(minute).or_default();
            for i in 0..3 {
                mine[i] += counts[i];
            }
        }
        self.undated += b.undated;
        self.changes = match (self.changes, b.changes) {
            (Some(a), Some(b)) => Some(a.merge(b, cap)),
            (a, b) => a.or(b),
        };
        self
    }
}

fn add_counts<K: Ord>(a: &mut BTreeMap<K, u64>, b: BTreeMap<K, u64>) {
    for (k, n) in b {
        *a.entry(k).or_default() += n;
    }
}

/// The replay as a [`Visit`]: decides each record with `engine` (and `against`).
struct Replayer<'e> {
    engine: &'e Engine,
    against: Option<&'e Engine>,
    options: Options,
}

impl Visit for Replayer<'_> {
    type Acc = Summary;

    fn start(&self) -> Summary {
        Summary {
            changes: self.against.map(|_| Changes::default()),
            ..Summary::default()
        }
    }

    fn record(&self, s: &mut Summary, at: At, record: &Record<'_>) {
        s.records += 1;
        let mapped = match map_record(record) {
            Mapping::Request(m) => m,
            Mapping::NotKms => {
                s.skipped_non_kms += 1;
                return;
            }
            Mapping::Skipped(why) => {
                *s.skipped.entry(why).or_default() += 1;
                return;
            }
            Mapping::Bad(bad) => return self.note_bad(s, at, bad),
        };
        let cap = self.options.cap();
        let request = &mapped.request;
        let verdict = self.engine.check(request);
        s.evaluated += 1;
        s.decisions[outcome_index(verdict.outcome)] += 1;
        match epoch_minute(request) {
            Some(minute) => {
                s.timeline.entry(minute).or_default()[outcome_index(verdict.outcome)] += 1
            }
            None => s.undated += 1,
        }
        let allowed = verdict.outcome == Outcome::Allow;
        if !allowed {
            match &request.caller.kind {
                CallerKind::AssumedRole { .. } => {
                    count(&mut s.denied_principals, &principal_label(request))
                }
                _ => count(&mut s.denied_principals, &request.caller.arn),
            }
            count(&mut s.denied_keys, &request.resource);
            match request.action {
                RequestAction::One(id) => count(&mut s.denied_actions, actions::info(id).name),
                RequestAction::ReEncrypt => count(&mut s.denied_actions, "ReEncrypt"),
            }
        }
        // What happened to the call, as AWS recorded it and as keyward predicts it. A PutKeyPolicy
        // refused by the lockout safety check is authorized but fails; AWS records that as
        // MalformedPolicyDocumentException, so that one error code is compared too.
        let lockout_error = crate::reference::LOCKOUT_ERROR;
        let aws = match &mapped.recorded {
            Recorded::Allowed => {
                s.recorded_allowed += 1;
                Some(Fate::Succeeded)
            }
            Recorded::Denied => {
                s.recorded_denied += 1;
                Some(Fate::Denied)
            }
            Recorded::Failed(code) => {
                *s.recorded_failed.entry(code.clone()).or_default() += 1;
                (code == lockout_error && request.policy.is_some()).then_some(Fate::LockedOut)
            }
        };
        let predicted = match (allowed, verdict.lockout) {
            (false, _) => Fate::Denied,
            (true, true) => Fate::LockedOut,
            (true, false) => Fate::Succeeded,
        };
        if aws.is_none() {
            s.not_compared += 1;
        }
        match aws {
            Some(a) if a == predicted => s.agreements += 1,
            Some(_) => {
                s.disagreements += 1;
                if s.disagreement_list.len() < cap {
                    let (decision, explanation) =
                        crate::reference::explain(self.engine.world(), request);
                    s.disagreement_list.push(Disagreement {
                        at,
                        event_id: record.event_id.as_deref().map(str::to_owned),
                        recorded: mapped.recorded.clone(),
                        request: request.clone(),
                        decision,
                        explanation,
                    });
                }
            }
            None => {}
        }
        if let (Some(other), Some(changes)) = (self.against, s.changes.as_mut()) {
            let after = other.check(request);
            if (after.outcome == Outcome::Allow) != allowed {
                let listed = changes.count(allowed);
                if listed < cap {
                    changes.list.push(Change {
                        at,
                        event_id: record.event_id.as_deref().map(str::to_owned),
                        before: self.engine.to_decision(&verdict, request),
                        after: other.to_decision(&after, request),
                        request: mapped.request,
                    });
                }
            }
        }
    }

    fn bad(&self, s: &mut Summary, at: At, bad: Bad) {
        s.records += 1;
        self.note_bad(s, at, bad);
    }

    fn merge(&self, a: Summary, b: Summary) -> Summary {
        a.merge(b, self.options.cap())
    }
}

impl Replayer<'_> {
    fn note_bad(&self, s: &mut Summary, at: At, bad: Bad) {
        *s.bad_by_kind.entry(bad.kind).or_default() += 1;
        if s.bad.len() < self.options.cap() {
            s.bad.push((at, bad));
        }
    }
}

/// Adds one to `key`'s count, allocating only for a key not seen before.
fn count(counts: &mut HashMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// The minute of a mapped request's `eventTime`, from the `aws:EpochTime` the mapping set.
fn epoch_minute(request: &Request) -> Option<i64> {
    request.context.iter().find_map(|(k, v)| match v {
        ContextValue::Single(s) if k == "aws:EpochTime" => {
            s.parse::<i64>().ok().map(|secs| secs.div_euclid(60))
        }
        _ => None,
    })
}

/// How the most-denied table names a caller: role sessions under their role.
fn principal_label(request: &Request) -> String {
    let c = &request.caller;
    match &c.kind {
        CallerKind::AssumedRole { role, .. } => format!(
            "arn:{}:sts::{}:assumed-role/{role}/*",
            c.partition, c.account
        ),
        _ => c.arn.clone(),
    }
}

/// Replays `inputs` against `engine` (and, for a diff, `against`). `done` receives each input's
/// size when it has been read, for progress.
pub fn replay(
    inputs: &[Input],
    engine: &Engine,
    against: Option<&Engine>,
    options: Options,
    done: &(dyn Fn(u64) + Sync),
) -> Summary {
    let replayer = Replayer {
        engine,
        against,
        options,
    };
    read::visit_all(inputs, &replayer, done)
}

/// Replays one parsed record on its own and returns its one-record summary, for systems that
/// read and aggregate records themselves (the Python package's Spark replay): the counts say
/// what happened to the record, and a disagreement or changed decision is listed.
pub fn replay_record(
    engine: &Engine,
    against: Option<&Engine>,
    at: At,
    record: &Record<'_>,
) -> Summary {
    let replayer = Replayer {
        engine,
        against,
        options: Options { limit: 0 },
    };
    let mut s = replayer.start();
    replayer.record(&mut s, at, record);
    s
}

/// The `n` largest counts, largest first, ties by name.
pub fn top(counts: &HashMap<String, u64>, n: usize) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = counts.iter().map(|(k, c)| (k.as_str(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.truncate(n);
    v
}

/// Rows in the most-denied tables.
pub const TOP: usize = 10;

impl Summary {
    /// The summary as JSON (`keyward replay --json`); `files` names the inputs.
    pub fn to_json(
        &self,
        files: &[Input],
        world: &Engine,
        against: Option<&Engine>,
        limit: usize,
    ) -> Value {
        let file = |at: At| {
            files
                .get(at.file as usize)
                .map_or("?", |f| f.shown.as_str())
        };
        let counts = |m: &BTreeMap<String, u64>| {
            Value::Object(m.iter().map(|(k, n)| (k.clone(), json!(n))).collect())
        };
        let tops = |m: &HashMap<String, u64>, name: &str| {
            Value::Array(
                top(m, TOP)
                    .into_iter()
                    .map(|(k, n)| json!({name: k, "count": n}))
                    .collect(),
            )
        };
        let mut decisions = Map::new();
        for (i, o) in OUTCOMES.iter().enumerate() {
            decisions.insert(o.as_str().into(), json!(self.decisions[i]));
        }
        let mut v = json!({
            "totals": {
                "records": self.records,
                "kms_records": self.records - self.skipped_non_kms,
                "skipped_non_kms": self.skipped_non_kms,
                "skipped_not_authorization": self.skipped_not_authorization(),
                "bad_records": self.bad_records(),
                "evaluated": self.evaluated,
            },
            "skipped_reasons": counts(&self.skipped),
            "bad_by_kind": Value::Object(self.bad_by_kind.iter().map(|(k, n)| (k.code().into(), json!(n))).collect()),
            "decisions": decisions,
            "recorded": {
                "allowed": self.recorded_allowed,
                "denied": self.recorded_denied,
                "other_error": self.recorded_failed.values().sum::<u64>(),
                "other_error_codes": counts(&self.recorded_failed),
            },
            "comparison": {
                "agreements": self.agreements,
                "disagreements": self.disagreements,
                "not_compared": self.not_compared(),
            },
            "top_denied": {
                "principals": tops(&self.denied_principals, "principal"),
                "keys": tops(&self.denied_keys, "key"),
                "actions": tops(&self.denied_action_names(), "action"),
            },
            "disagreements": self.disagreement_list.iter().map(|d| json!({
                "source": source_value(file(d.at), d.at, d.event_id.as_deref()),
                "recorded": d.recorded.label(),
                "request": d.request.to_value(),
                "decision": d.decision.to_value(Some(&d.explanation)),
            })).collect::<Vec<_>>(),
            "bad_records": self.bad.iter().map(|(at, b)| json!({
                "source": source_value(file(*at), *at, None),
                "kind": b.kind.code(),
                "error": b.message,
            })).collect::<Vec<_>>(),
            "unlisted": {
                "disagreements": self.disagreements - self.disagreement_list.len() as u64,
                "bad_records": self.bad_records() - self.bad.len() as u64,
            },
            "limit": limit,
        });
        if let (Some(changes), Some(after)) = (&self.changes, against) {
            v["diff"] = changes.to_json(files, world, after);
        }
        v
    }

    /// The summary for people.
    pub fn to_text(&self, files: &[Input], world: &Engine, against: Option<&Engine>) -> String {
        let file = |at: At| {
            files
                .get(at.file as usize)
                .map_or("?", |f| f.shown.as_str())
        };
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "replayed {} records from {} inputs",
            self.records,
            files.len()
        );
        let _ = writeln!(w, "  other services, skipped  {:>10}", self.skipped_non_kms);
        let _ = writeln!(
            w,
            "  KMS, not authorizations  {:>10}",
            self.skipped_not_authorization()
        );
        for (why, n) in &self.skipped {
            let _ = writeln!(w, "      {n:>6}  {why}");
        }
        let _ = writeln!(w, "  bad records              {:>10}", self.bad_records());
        for (kind, n) in &self.bad_by_kind {
            let _ = writeln!(w, "      {n:>6}  {}", kind.code());
        }
        let _ = writeln!(w, "  evaluated                {:>10}", self.evaluated);
        let _ = writeln!(
            w,
            "decisions: Allow {}, ExplicitDeny {}, ImplicitDeny {}",
            self.decisions[0], self.decisions[1], self.decisions[2]
        );
        let _ = write!(
            w,
            "AWS recorded: allowed {}, denied {}, other errors {}",
            self.recorded_allowed,
            self.recorded_denied,
            self.recorded_failed.values().sum::<u64>()
        );
        if !self.recorded_failed.is_empty() {
            let codes: Vec<String> = self
                .recorded_failed
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect();
            let _ = write!(w, " ({})", codes.join(", "));
        }
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "agreement with AWS: {} agree, {} disagree, {} not compared (errors other than authorization)",
            self.agreements,
            self.disagreements,
            self.not_compared()
        );
        for (title, counts) in [
            ("principals", &self.denied_principals),
            ("keys", &self.denied_keys),
            ("actions", &self.denied_action_names()),
        ] {
            if counts.is_empty() {
                continue;
            }
            let _ = writeln!(w, "most denied {title}:");
            for (k, n) in top(counts, TOP) {
                let _ = writeln!(w, "  {n:>8}  {k}");
            }
        }
        if !self.disagreement_list.is_empty() {
            let _ = writeln!(w, "disagreements:");
        }
        for d in &self.disagreement_list {
            let id = d
                .event_id
                .as_deref()
                .map(|e| format!(" (eventID {e})"))
                .unwrap_or_default();
            let _ = writeln!(
                w,
                "  {} record {}{id}: AWS {}, keyward {}{}",
                file(d.at),
                d.at.record,
                d.recorded.label(),
                d.decision.outcome,
                d.decision
                    .operation_error
                    .as_deref()
                    .map(|e| format!(" but the call fails with {e}"))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                w,
                "    {} {} on {}",
                d.request.caller.arn,
                d.request.action_name(),
                d.request.resource
            );
            for r in &d.decision.reasons {
                let _ = writeln!(w, "    by {r}");
            }
            if let Some(m) = d.explanation.missing {
                let _ = writeln!(w, "    missing: {}", m.code());
            }
            for n in &d.explanation.notes {
                let _ = writeln!(w, "    {n}");
            }
        }
        let unlisted = self.disagreements - self.disagreement_list.len() as u64;
        if unlisted > 0 {
            let _ = writeln!(
                w,
                "  … and {unlisted} more disagreements (raise --limit to list them)"
            );
        }
        if !self.bad.is_empty() {
            let _ = writeln!(w, "bad records:");
        }
        for (at, b) in &self.bad {
            let _ = writeln!(w, "  {} record {}: {b}", file(*at), at.record);
        }
        let unlisted = self.bad_records() - self.bad.len() as u64;
        if unlisted > 0 {
            let _ = writeln!(
                w,
                "  … and {unlisted} more bad records (raise --limit to list them)"
            );
        }
        if let (Some(changes), Some(after)) = (&self.changes, against) {
            out.push_str(&changes.to_text(files, world, after));
        }
        out
    }
}
