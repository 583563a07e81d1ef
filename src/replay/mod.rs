//! CloudTrail replay: recompute every KMS decision in real logs, compare it with what AWS
//! recorded, explain disagreements, and diff two worlds over the same traffic.
//!
//! The pieces, in the order data flows: [`read`] finds and decompresses log files and hands out
//! records as they are parsed into [`record::Record`]; [`map`] turns a record into the request
//! AWS authorized (docs/semantics.md §8.3); [`run`] decides every request against a world in parallel and
//! gathers the [`run::Summary`]; [`diff`] does the same against two worlds and lists what
//! changes; [`report`] draws the summary as an HTML page; [`emit`] prints the mapped requests
//! instead of deciding them. [`synth`] goes the other way and writes CloudTrail logs for
//! generated traffic, and [`import`] builds a world from the AWS CLI's outputs, so that a real
//! account's logs can be replayed against its own policies.

pub mod diff;
pub mod emit;
pub mod import;
pub mod map;
pub mod read;
pub mod record;
pub mod report;
pub mod run;
pub mod synth;
pub mod time;

use serde_json::{json, Value};
use std::fmt;

/// Where a record sits: the input's index in the list of inputs, and the record's 0-based index
/// in the file's `Records` array (the 1-based line number for JSON Lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At {
    pub file: u32,
    pub record: u64,
}

/// Why a record (or a whole file) could not be read as a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BadKind {
    /// The text is not JSON (or ends early).
    InvalidJson,
    /// A field holds a value of the wrong type.
    InvalidField,
    /// A field every KMS API record has is missing.
    MissingField,
    /// `userIdentity.type` names no caller keyward can map.
    UnknownIdentity,
    /// The record is complete but names no request keyward can build (no key, unknown operation).
    Unmappable,
    /// A gzip file ends early or is corrupt.
    TruncatedGzip,
    /// A file or folder cannot be read.
    Unreadable,
    /// A JSON document that is not a CloudTrail log.
    NotCloudTrail,
    /// A document or line larger than replay reads (after decompression); see `read.rs`.
    TooLarge,
}

impl BadKind {
    /// A stable code for scripts.
    pub fn code(self) -> &'static str {
        match self {
            BadKind::InvalidJson => "invalid-json",
            BadKind::InvalidField => "invalid-field",
            BadKind::MissingField => "missing-field",
            BadKind::UnknownIdentity => "unknown-identity-type",
            BadKind::Unmappable => "unmappable",
            BadKind::TruncatedGzip => "truncated-gzip",
            BadKind::Unreadable => "unreadable",
            BadKind::NotCloudTrail => "not-cloudtrail",
            BadKind::TooLarge => "too-large",
        }
    }
}

/// A bad record: what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bad {
    pub kind: BadKind,
    pub message: String,
}

impl fmt::Display for Bad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.code())
    }
}

/// How reports identify a record: `{"file": ..., "record": ..., "eventID": ...}`.
pub fn source_value(file: &str, at: At, event_id: Option<&str>) -> Value {
    let mut v = json!({"file": file, "record": at.record});
    if let Some(id) = event_id {
        v["eventID"] = id.into();
    }
    v
}
