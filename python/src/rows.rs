//! The batch operations behind the Python API, on Arrow record batches: deciding requests,
//! mapping CloudTrail records, and replaying log files into one row per record.

use crate::arrow::Text;
use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch};
use keyward::engine::Engine;
use keyward::replay::map::{map_record, Mapping};
use keyward::replay::read::{read_bytes, Input, Source, Visit};
use keyward::replay::record::Record;
use keyward::replay::run::{replay_record, Summary, OUTCOMES};
use keyward::replay::{source_value, At, Bad, BadKind};
use keyward::Request;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Builds a record batch from named columns, every one nullable: the schema must not depend on
/// whether a batch happens to hold a null (Spark refuses batches whose schemas differ).
fn batch_of(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, String> {
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(n, a)| (n, a, true)))
        .map_err(|e| e.to_string())
}

/// Parses an optional JSON column value into `obj[field]`.
fn put_json(obj: &mut Map<String, Value>, field: &str, text: Option<&str>) -> Result<(), String> {
    if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(t).map_err(|e| format!("column {field}: invalid JSON: {e}"))?;
        obj.insert(field.into(), v);
    }
    Ok(())
}

/// One row of a request batch as the request format's JSON (docs/formats.md, "Requests").
fn request_of(cols: &RequestColumns<'_>, i: usize) -> Result<Request, String> {
    let mut obj = Map::new();
    if let Some(extra) = cols.extra.as_ref().and_then(|c| c.str(i)) {
        match serde_json::from_str(extra) {
            Ok(Value::Object(m)) => obj.extend(m),
            Ok(_) => return Err("column request_extra: must be a JSON object".into()),
            Err(e) => return Err(format!("column request_extra: invalid JSON: {e}")),
        }
    }
    for (name, col) in [
        ("principal", Some(&cols.principal)),
        ("action", Some(&cols.action)),
        ("resource", Some(&cols.resource)),
        ("grant_id", cols.grant_id.as_ref()),
    ] {
        if let Some(s) = col.and_then(|c| c.str(i)) {
            obj.insert(name.into(), s.into());
        }
    }
    put_json(
        &mut obj,
        "context",
        cols.context.as_ref().and_then(|c| c.str(i)),
    )?;
    put_json(
        &mut obj,
        "encryption_context",
        cols.encryption_context.as_ref().and_then(|c| c.str(i)),
    )?;
    Request::from_value(&Value::Object(obj))
        .map(|(r, _warnings)| r)
        .map_err(|e| e.to_string())
}

struct RequestColumns<'a> {
    principal: Text<'a>,
    action: Text<'a>,
    resource: Text<'a>,
    context: Option<Text<'a>>,
    encryption_context: Option<Text<'a>>,
    grant_id: Option<Text<'a>>,
    extra: Option<Text<'a>>,
}

/// Decides every row of a request batch: columns decision, reasons (JSON) and error.
pub fn check_batch(engine: &Engine, batch: &RecordBatch) -> Result<RecordBatch, String> {
    let cols = RequestColumns {
        principal: Text::required(batch, "principal")?,
        action: Text::required(batch, "action")?,
        resource: Text::required(batch, "resource")?,
        context: Text::column(batch, "context")?,
        encryption_context: Text::column(batch, "encryption_context")?,
        grant_id: Text::column(batch, "grant_id")?,
        extra: Text::column(batch, "request_extra")?,
    };
    let n = batch.num_rows();
    let mut decision = StringBuilder::with_capacity(n, n * 12);
    let mut reasons = StringBuilder::with_capacity(n, n * 64);
    let mut error = StringBuilder::new();
    for i in 0..n {
        match request_of(&cols, i) {
            Ok(request) => {
                let d = engine.decide(&request).to_value(None);
                decision.append_value(d["decision"].as_str().unwrap_or("ImplicitDeny"));
                reasons.append_value(d["reasons"].to_string());
                error.append_null();
            }
            Err(e) => {
                decision.append_value("ImplicitDeny");
                reasons.append_value("[]");
                error.append_value(format!("row {i}: {e}"));
            }
        }
    }
    batch_of(vec![
        ("decision", Arc::new(decision.finish()) as ArrayRef),
        ("reasons", Arc::new(reasons.finish())),
        ("error", Arc::new(error.finish())),
    ])
}

/// String columns filled row by row, in a fixed order.
struct Columns {
    names: &'static [&'static str],
    builders: Vec<StringBuilder>,
}

impl Columns {
    fn new(names: &'static [&'static str]) -> Columns {
        Columns {
            names,
            builders: names.iter().map(|_| StringBuilder::new()).collect(),
        }
    }

    /// Appends one row: one optional value per column, in order; missing ones are null.
    fn push(&mut self, values: &[Option<&str>]) {
        for (i, b) in self.builders.iter_mut().enumerate() {
            b.append_option(values.get(i).copied().flatten());
        }
    }

    fn finish(self, mut first: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, String> {
        for (name, mut b) in self.names.iter().zip(self.builders) {
            first.push((name, Arc::new(b.finish())));
        }
        batch_of(first)
    }
}

const MAPPED: &[&str] = &[
    "status",
    "reason",
    "event_id",
    "recorded",
    "principal",
    "action",
    "resource",
    "context",
    "encryption_context",
    "grant_id",
    "request_extra",
];

/// Maps every raw record of the column `record` (docs/semantics.md §8.3).
pub fn map_records(batch: &RecordBatch) -> Result<RecordBatch, String> {
    let records = Text::required(batch, "record")?;
    let mut out = Columns::new(MAPPED);
    for i in 0..batch.num_rows() {
        let Some(text) = records.str(i) else {
            out.push(&[Some("bad"), Some(BadKind::InvalidJson.code())]);
            continue;
        };
        let rec = match serde_json::from_str::<Record>(text) {
            Ok(r) => r,
            Err(e) => {
                let kind = if e.is_data() {
                    BadKind::InvalidField
                } else {
                    BadKind::InvalidJson
                };
                let why = format!("{}: {e}", kind.code());
                out.push(&[Some("bad"), Some(&why)]);
                continue;
            }
        };
        let event_id = rec.event_id.as_deref();
        match map_record(&rec) {
            Mapping::Request(m) => {
                let mut v = match m.request.to_value() {
                    Value::Object(o) => o,
                    _ => Map::new(),
                };
                let mut take = |k: &str| v.remove(k);
                let text = |v: Option<Value>| match v {
                    Some(Value::String(s)) => Some(s),
                    Some(other) => Some(other.to_string()),
                    None => None,
                };
                let principal = text(take("principal"));
                let action = text(take("action"));
                let resource = text(take("resource"));
                let context = text(take("context"));
                let ec = text(take("encryption_context"));
                let grant = text(take("grant_id"));
                let extra = (!v.is_empty()).then(|| Value::Object(v).to_string());
                out.push(&[
                    Some("request"),
                    None,
                    event_id,
                    Some(m.recorded.label()),
                    principal.as_deref(),
                    action.as_deref(),
                    resource.as_deref(),
                    context.as_deref(),
                    ec.as_deref(),
                    grant.as_deref(),
                    extra.as_deref(),
                ]);
            }
            Mapping::NotKms => out.push(&[Some("not_kms"), None, event_id]),
            Mapping::Skipped(why) => out.push(&[Some("skipped"), Some(&why), event_id]),
            Mapping::Bad(b) => {
                let why = format!("{}: {}", b.kind.code(), b.message);
                out.push(&[Some("bad"), Some(&why), event_id]);
            }
        }
    }
    out.finish(Vec::new())
}

/// The columns of a replay row, after file_index and record.
const REPLAYED: &[&str] = &[
    "file",
    "event_id",
    "account",
    "day",
    "event_name",
    "principal",
    "outcome",
    "reason",
    "error",
    "decision",
    "recorded",
    "comparison",
    "denied_principal",
    "denied_key",
    "denied_action",
    "disagreement",
    "change",
    "change_group",
];

/// What happened to one record in a replay.
#[derive(Default)]
struct Row {
    record: u64,
    values: [Option<String>; 18],
}

/// Collects the rows of one file.
struct Replayer<'a> {
    engine: &'a Engine,
    against: Option<&'a Engine>,
    /// The file as reports name it, and the same as a one-input list for the summary's JSON.
    shown: &'a str,
    inputs: Vec<Input>,
}

impl Replayer<'_> {
    fn row(&self, at: At, record: &Record<'_>, s: &Summary) -> Row {
        let own = |t: Option<&str>| t.map(str::to_owned);
        let mut v: [Option<String>; 18] = Default::default();
        v[0] = Some(self.shown.to_owned());
        v[1] = own(record.event_id.as_deref());
        let ui = record.user_identity.as_ref();
        v[2] = own(record
            .recipient_account_id
            .as_deref()
            .or(ui.and_then(|u| u.account_id.as_deref()))
            .filter(|a| !a.is_empty()));
        v[3] = record
            .event_time
            .as_deref()
            .filter(|t| t.len() >= 10 && t.is_char_boundary(10))
            .map(|t| t[..10].to_owned());
        v[4] = own(record.event_name.as_deref());
        v[5] = own(ui.and_then(|u| u.arn.as_deref()));
        if s.skipped_non_kms > 0 {
            v[6] = Some("not_kms".into());
        } else if let Some(why) = s.skipped.keys().next() {
            v[6] = Some("skipped".into());
            v[7] = Some(why.clone());
        } else if let Some(kind) = s.bad_by_kind.keys().next() {
            v[6] = Some("bad".into());
            v[7] = Some(kind.code().into());
            v[8] = s.bad.first().map(|(_, b)| b.message.clone());
        } else {
            v[6] = Some("evaluated".into());
            v[9] = (0..3)
                .find(|&i| s.decisions[i] > 0)
                .map(|i| OUTCOMES[i].as_str().to_owned());
            v[10] = if s.recorded_allowed > 0 {
                Some("allowed".into())
            } else if s.recorded_denied > 0 {
                Some("denied".into())
            } else {
                s.recorded_failed.keys().next().cloned()
            };
            v[11] = Some(
                if s.agreements > 0 {
                    "agree"
                } else if s.disagreements > 0 {
                    "disagree"
                } else {
                    "not_compared"
                }
                .into(),
            );
            v[12] = s.denied_principals.keys().next().cloned();
            v[13] = s.denied_keys.keys().next().cloned();
            v[14] = s.denied_actions.keys().next().map(|a| format!("kms:{a}"));
            v[15] = s.disagreement_list.first().map(|d| {
                json!({
                    "source": source_value(self.shown, d.at, d.event_id.as_deref()),
                    "recorded": d.recorded.label(),
                    "request": d.request.to_value(),
                    "decision": d.decision.to_value(Some(&d.explanation)),
                })
                .to_string()
            });
            if let (Some(c), Some(after)) = (&s.changes, self.against) {
                if c.changed() > 0 {
                    v[16] = Some(
                        if c.allow_to_deny > 0 {
                            "allow-to-deny"
                        } else {
                            "deny-to-allow"
                        }
                        .into(),
                    );
                    let j = c.to_json(&self.inputs, self.engine, after);
                    v[17] = Some(j["groups"][0].to_string());
                }
            }
        }
        Row {
            record: at.record,
            values: v,
        }
    }

    fn bad_row(&self, at: At, bad: Bad) -> Row {
        let mut v: [Option<String>; 18] = Default::default();
        v[0] = Some(self.shown.to_owned());
        v[6] = Some("bad".into());
        v[7] = Some(bad.kind.code().into());
        v[8] = Some(bad.message);
        Row {
            record: at.record,
            values: v,
        }
    }
}

impl Visit for Replayer<'_> {
    type Acc = Vec<Row>;

    fn start(&self) -> Vec<Row> {
        Vec::new()
    }

    fn record(&self, acc: &mut Vec<Row>, at: At, record: &Record<'_>) {
        // Replayed as input 0 so that the listed sources name this file.
        let at = At { file: 0, ..at };
        let s = replay_record(self.engine, self.against, at, record);
        acc.push(self.row(at, record, &s));
    }

    fn bad(&self, acc: &mut Vec<Row>, at: At, bad: Bad) {
        acc.push(self.bad_row(at, bad));
    }

    fn merge(&self, mut a: Vec<Row>, b: Vec<Row>) -> Vec<Row> {
        a.extend(b);
        a
    }
}

/// The position column of a file batch, as 64-bit integers.
fn indexes(batch: &RecordBatch) -> Result<Vec<i64>, String> {
    let col = batch
        .column_by_name("file_index")
        .ok_or("column file_index is missing")?;
    let any = col.as_any();
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        Ok((0..a.len()).map(|i| a.value(i)).collect())
    } else if let Some(a) = any.downcast_ref::<Int32Array>() {
        Ok((0..a.len()).map(|i| i64::from(a.value(i))).collect())
    } else {
        Err(format!(
            "column file_index: expected integers, found {}",
            col.data_type()
        ))
    }
}

/// Replays every file of a batch (columns file, file_index, content): one row per record.
pub fn replay_files(
    engine: &Engine,
    against: Option<&Engine>,
    batch: &RecordBatch,
) -> Result<RecordBatch, String> {
    let files = Text::required(batch, "file")?;
    let contents = Text::required(batch, "content")?;
    let index = indexes(batch)?;
    let mut file_index = Int64Builder::new();
    let mut record = Int64Builder::new();
    let mut out = Columns::new(REPLAYED);
    for (i, &position) in index.iter().enumerate() {
        let shown = files.str(i).unwrap_or("?");
        let replayer = Replayer {
            engine,
            against,
            shown,
            inputs: vec![Input {
                shown: shown.to_owned(),
                source: Source::Stdin,
                size: 0,
            }],
        };
        let data = contents.bytes(i).unwrap_or_default().to_vec();
        for row in read_bytes(data, 0, &replayer) {
            file_index.append_value(position);
            record.append_value(row.record as i64);
            let values: Vec<Option<&str>> = row.values.iter().map(|v| v.as_deref()).collect();
            out.push(&values);
        }
    }
    out.finish(vec![
        ("file_index", Arc::new(file_index.finish()) as ArrayRef),
        ("record", Arc::new(record.finish())),
    ])
}
