//! `keyward replay --emit-requests`: the request each KMS record maps to, as JSON Lines, with no
//! world needed — to inspect the mapping, or to feed `keyward check`. Each line is the the request format (docs/formats.md)
//! request plus `source` (file, record, eventID), or `{"source", "skipped": reason}` for a record
//! that is not an authorization, or `{"source", "bad": kind, "error": message}` for one that cannot
//! be read. Records of other services print nothing and are only counted.

use super::map::{map_record, Mapping};
use super::read::{Input, Visit};
use super::record::Record;
use super::{source_value, At, Bad};
use serde_json::{json, Value};

/// Output lines of a piece of input, and its counts.
#[derive(Debug, Default)]
pub struct Emitted {
    pub text: String,
    pub requests: u64,
    pub skipped: u64,
    pub bad: u64,
    pub non_kms: u64,
}

/// The emitter as a [`Visit`].
pub struct Emitter<'i> {
    pub inputs: &'i [Input],
}

impl Emitter<'_> {
    fn source(&self, at: At, event_id: Option<&str>) -> Value {
        let file = self
            .inputs
            .get(at.file as usize)
            .map_or("?", |f| f.shown.as_str());
        source_value(file, at, event_id)
    }

    fn line(out: &mut Emitted, v: &Value) {
        out.text.push_str(&v.to_string());
        out.text.push('\n');
    }
}

impl Visit for Emitter<'_> {
    type Acc = Emitted;

    fn start(&self) -> Emitted {
        Emitted::default()
    }

    fn record(&self, out: &mut Emitted, at: At, record: &Record<'_>) {
        let source = self.source(at, record.event_id.as_deref());
        let line = match map_record(record) {
            Mapping::Request(m) => {
                out.requests += 1;
                let mut v = m.request.to_value();
                v["source"] = source;
                v["recorded"] = m.recorded.label().into();
                if !m.notes.is_empty() {
                    v["notes"] = m.notes.into();
                }
                v
            }
            Mapping::NotKms => {
                out.non_kms += 1;
                return;
            }
            Mapping::Skipped(why) => {
                out.skipped += 1;
                json!({"source": source, "skipped": why})
            }
            Mapping::Bad(bad) => {
                out.bad += 1;
                json!({"source": source, "bad": bad.kind.code(), "error": bad.message})
            }
        };
        Self::line(out, &line);
    }

    fn bad(&self, out: &mut Emitted, at: At, bad: Bad) {
        out.bad += 1;
        Self::line(
            out,
            &json!({"source": self.source(at, None), "bad": bad.kind.code(), "error": bad.message}),
        );
    }

    fn merge(&self, mut a: Emitted, b: Emitted) -> Emitted {
        a.text.push_str(&b.text);
        a.requests += b.requests;
        a.skipped += b.skipped;
        a.bad += b.bad;
        a.non_kms += b.non_kms;
        a
    }
}
