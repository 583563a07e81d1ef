//! Reading CloudTrail logs as AWS writes them: `{"Records": [...]}` files (or a bare array of
//! records), gzip or not (told by the magic bytes, not the name), folders walked recursively (the
//! S3 layout `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`), JSON Lines of single records,
//! and `-` for standard input.
//!
//! Memory stays flat however many records there are: files are read one per worker thread, each
//! record is handed to a [`Visit`] as it is parsed (borrowing from the file's text) and then
//! dropped, and JSON Lines are read in bounded batches. A log file is one document, so one file is
//! held whole while it is read; CloudTrail writes files of a few megabytes.
//!
//! A problem with one record or file (invalid JSON, a field of the wrong type, a truncated gzip,
//! an unreadable file) is handed to the visitor as a [`Bad`] record at its position, and reading
//! goes on with the next record or file.

use super::record::Record;
use super::{At, Bad, BadKind};
use flate2::read::MultiGzDecoder;
use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// One input named on the command line, or found by walking a folder.
#[derive(Clone, Debug)]
pub struct Input {
    /// How reports name it: the path as given (joined with the walked part), or `-`.
    pub shown: String,
    pub source: Source,
    /// Size on disk in bytes (0 for standard input), for progress.
    pub size: u64,
}

/// Where an input's bytes come from.
#[derive(Clone, Debug)]
pub enum Source {
    File(PathBuf),
    Stdin,
    /// A file or folder found while walking that cannot be read; reported as a bad record.
    Unreadable(String),
}

/// What receives the records of the inputs: called from several threads, each with its own
/// accumulator, and the accumulators are merged in input order.
pub trait Visit: Sync {
    type Acc: Send;
    /// An empty accumulator.
    fn start(&self) -> Self::Acc;
    /// One record that parsed.
    fn record(&self, acc: &mut Self::Acc, at: At, record: &Record<'_>);
    /// One record or file that could not be read.
    fn bad(&self, acc: &mut Self::Acc, at: At, bad: Bad);
    /// Joins the accumulators of consecutive pieces of input (`a` comes first).
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
}

/// File names a folder walk picks up.
const LOG_SUFFIXES: &[&str] = &[
    ".json",
    ".json.gz",
    ".jsonl",
    ".jsonl.gz",
    ".ndjson",
    ".ndjson.gz",
    ".gz",
];

/// Resolves the command line's LOGS: files, folders (walked recursively, in name order, skipping
/// hidden entries and `CloudTrail-Digest` folders) and `-`. A path that does not exist is an error.
pub fn inputs(args: &[String]) -> Result<Vec<Input>, String> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            out.push(Input {
                shown: "-".into(),
                source: Source::Stdin,
                size: 0,
            });
            continue;
        }
        let path = Path::new(arg);
        let meta = std::fs::metadata(path).map_err(|e| format!("{arg}: {e}"))?;
        if meta.is_dir() {
            walk(path, &mut out);
        } else {
            out.push(Input {
                shown: arg.clone(),
                source: Source::File(path.to_path_buf()),
                size: meta.len(),
            });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Input>) {
    let shown = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.push(Input {
                shown,
                source: Source::Unreadable(format!("cannot read folder: {e}")),
                size: 0,
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || name == "CloudTrail-Digest" {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, out),
            Ok(m) if LOG_SUFFIXES.iter().any(|s| name.ends_with(s)) => out.push(Input {
                shown: path.display().to_string(),
                source: Source::File(path),
                size: m.len(),
            }),
            Ok(_) => {}
            Err(e) => out.push(Input {
                shown: path.display().to_string(),
                source: Source::Unreadable(format!("cannot read: {e}")),
                size: 0,
            }),
        }
    }
}

/// Reads every input in parallel, one file per task, and merges the accumulators in input order.
/// `done` is called with each input's size once it is read (for a progress bar).
pub fn visit_all<V: Visit>(inputs: &[Input], v: &V, done: &(dyn Fn(u64) + Sync)) -> V::Acc {
    inputs
        .par_iter()
        .with_max_len(1)
        .enumerate()
        .map(|(i, input)| {
            let acc = read_input(input, i as u32, v);
            done(input.size);
            acc
        })
        .reduce(|| v.start(), |a, b| v.merge(a, b))
}

/// Like [`visit_all`], but hands over the accumulator of each group of `chunk` inputs, in input
/// order, so that output can be written as it is produced without holding it all.
pub fn visit_in_order<V: Visit>(
    inputs: &[Input],
    v: &V,
    chunk: usize,
    mut each: impl FnMut(V::Acc),
) {
    for (n, group) in inputs.chunks(chunk.max(1)).enumerate() {
        let first = n * chunk.max(1);
        let acc = group
            .par_iter()
            .with_max_len(1)
            .enumerate()
            .map(|(i, input)| read_input(input, (first + i) as u32, v))
            .reduce(|| v.start(), |a, b| v.merge(a, b));
        each(acc);
    }
}

/// Reads one input.
pub fn read_input<V: Visit>(input: &Input, file: u32, v: &V) -> V::Acc {
    let mut acc = v.start();
    let at = At { file, record: 0 };
    let raw: Box<dyn Read + Send> = match &input.source {
        Source::File(path) => match std::fs::File::open(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                v.bad(
                    &mut acc,
                    at,
                    Bad {
                        kind: BadKind::Unreadable,
                        message: format!("cannot read: {e}"),
                    },
                );
                return acc;
            }
        },
        Source::Stdin => Box::new(io::stdin()),
        Source::Unreadable(why) => {
            v.bad(
                &mut acc,
                at,
                Bad {
                    kind: BadKind::Unreadable,
                    message: why.clone(),
                },
            );
            return acc;
        }
    };
    read_reader(raw, input.size, file, v)
}

/// Reads one log already in memory (bytes fetched by another system, such as a Spark executor
/// reading object storage) exactly as [`read_input`] reads a file: gzip told by its magic bytes,
/// a `Records` document or JSON Lines, bad records reported at their positions.
pub fn read_bytes<V: Visit>(data: Vec<u8>, file: u32, v: &V) -> V::Acc {
    let size = data.len() as u64;
    read_reader(Box::new(io::Cursor::new(data)), size, file, v)
}

/// Reads one input's bytes from `raw`; `size` is its size on disk, when known (else 0).
fn read_reader<V: Visit>(raw: Box<dyn Read + Send>, size: u64, file: u32, v: &V) -> V::Acc {
    let mut acc = v.start();
    let at = At { file, record: 0 };
    let (reader, gzip) = match decompressed(raw) {
        Ok(r) => r,
        Err(e) => {
            v.bad(
                &mut acc,
                at,
                Bad {
                    kind: BadKind::Unreadable,
                    message: format!("cannot read: {e}"),
                },
            );
            return acc;
        }
    };
    let (head, reader) = match peek(reader, 512) {
        Ok(r) => r,
        Err(e) => {
            let kind = if gzip {
                BadKind::TruncatedGzip
            } else {
                BadKind::Unreadable
            };
            v.bad(
                &mut acc,
                at,
                Bad {
                    kind,
                    message: format!("cannot read: {e}"),
                },
            );
            return acc;
        }
    };
    let reader: Box<dyn Read + Send> = Box::new(io::Cursor::new(head.clone()).chain(reader));
    if is_document(&head) {
        let mut data = Vec::with_capacity(if gzip {
            0
        } else {
            (size as usize + 1).min(MAX_DOCUMENT_BYTES + 1)
        });
        let failure = reader
            .take(MAX_DOCUMENT_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .err()
            .map(|e| read_failure(e, gzip));
        if data.len() > MAX_DOCUMENT_BYTES {
            v.bad(&mut acc, at, too_large("the document", MAX_DOCUMENT_BYTES));
            return acc;
        }
        read_document(&data, file, v, &mut acc, failure);
    } else {
        read_lines(
            BufReader::with_capacity(1 << 16, reader),
            file,
            gzip,
            v,
            &mut acc,
        );
    }
    acc
}

/// The most bytes replay holds for one JSON document (a `{"Records": [...]}` file, after
/// decompression): CloudTrail writes files of a few megabytes, and a small gzip bomb must not
/// take gigabytes of memory.
pub const MAX_DOCUMENT_BYTES: usize = 256 << 20;

/// The most bytes of one JSON Lines line (one record): CloudTrail events are at most 256 KB.
pub const MAX_LINE_BYTES: usize = 4 << 20;

fn too_large(what: &str, max: usize) -> Bad {
    Bad {
        kind: BadKind::TooLarge,
        message: format!(
            "{what} is larger than {} MiB (after decompression); not read",
            max >> 20
        ),
    }
}

/// Reads one line of at most `max` bytes into `buf` (with its newline). A longer line is
/// skipped to its end without being held, and `Ok(None)` says so; `Ok(Some(0))` is the end.
fn read_line_bounded<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<usize>> {
    let n = reader
        .by_ref()
        .take(max as u64 + 1)
        .read_until(b'\n', buf)?;
    if n <= max || buf.last() == Some(&b'\n') {
        return Ok(Some(n));
    }
    buf.clear();
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(None);
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(None);
            }
            None => {
                let len = chunk.len();
                reader.consume(len);
            }
        }
    }
}

/// Wraps a reader in a gzip decoder when its first bytes are the gzip magic number.
fn decompressed(raw: Box<dyn Read + Send>) -> io::Result<(Box<dyn Read + Send>, bool)> {
    let (head, rest) = peek(raw, 2)?;
    let gzip = head == [0x1f, 0x8b];
    let joined = io::Cursor::new(head).chain(rest);
    Ok(if gzip {
        (
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(
                1 << 16,
                joined,
            ))),
            true,
        )
    } else {
        (Box::new(joined), false)
    })
}

/// Reads up to `n` bytes, returning them and the reader positioned after them.
fn peek<R: Read>(mut r: R, n: usize) -> io::Result<(Vec<u8>, R)> {
    let mut head = vec![0; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok((head, r))
}

/// Whether a file is one JSON document of records (`{"Records": ...}` or `[...]`) rather than
/// JSON Lines.
fn is_document(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = trim_start(head);
    match text.first() {
        Some(b'[') => true,
        Some(b'{') => trim_start(&text[1..]).starts_with(b"\"Records\""),
        _ => false,
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let i = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[i..]
}

fn read_failure(e: io::Error, gzip: bool) -> Bad {
    if gzip {
        Bad {
            kind: BadKind::TruncatedGzip,
            message: format!("gzip stream is truncated or corrupt ({e})"),
        }
    } else {
        Bad {
            kind: BadKind::Unreadable,
            message: format!("read failed ({e})"),
        }
    }
}

/// Reads a `{"Records": [...]}` document. The fast path parses each record straight into its
/// typed form; if any record fails, the document is read again element by element so that the
/// failing records are reported alone and the rest are still read.
fn read_document<V: Visit>(data: &[u8], file: u32, v: &V, acc: &mut V::Acc, failure: Option<Bad>) {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut seen = 0u64;
    if failure.is_none() {
        let mut on = |rec: Record<'_>| {
            v.record(acc, At { file, record: seen }, &rec);
            seen += 1;
        };
        // Text that is UTF-8 throughout is checked once here rather than string by string.
        let result = match std::str::from_utf8(data) {
            Ok(text) => run_document(serde_json::Deserializer::from_str(text), &mut on),
            Err(_) => run_document(serde_json::Deserializer::from_slice(data), &mut on),
        };
        match result {
            Ok(true) => return,
            Ok(false) => {
                let message = "not a CloudTrail log: the object has no Records array".into();
                v.bad(
                    acc,
                    At { file, record: 0 },
                    Bad {
                        kind: BadKind::NotCloudTrail,
                        message,
                    },
                );
                return;
            }
            Err(_) => {}
        }
    }
    // Slow path: element by element, resuming after the records already handed over.
    let mut index = 0u64;
    let mut lines = LineCounter::new(data);
    let mut de = serde_json::Deserializer::from_slice(data);
    let mut on = |raw: &RawValue| {
        if index >= seen {
            let at = At {
                file,
                record: index,
            };
            match serde_json::from_str::<Record>(raw.get()) {
                Ok(rec) => v.record(acc, at, &rec),
                Err(e) => {
                    let offset =
                        (raw.get().as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
                    let line = (lines.line_of(offset) + e.line()).saturating_sub(1);
                    let kind = if e.is_data() {
                        BadKind::InvalidField
                    } else {
                        BadKind::InvalidJson
                    };
                    v.bad(
                        acc,
                        at,
                        Bad {
                            kind,
                            message: format!("line {line}: {}", strip_position(&e)),
                        },
                    );
                }
            }
        }
        index += 1;
    };
    let result = DocSeed::<_, &RawValue>::new(&mut on)
        .deserialize(&mut de)
        .and_then(|found| de.end().map(|()| found));
    let at = At {
        file,
        record: index,
    };
    match (result, failure) {
        (_, Some(mut f)) => {
            f.message = format!("{}: records from {index} on are lost", f.message);
            v.bad(acc, at, f);
        }
        (Ok(true), None) => {}
        (Ok(false), None) => {
            let message = "not a CloudTrail log: the object has no Records array".into();
            v.bad(
                acc,
                at,
                Bad {
                    kind: BadKind::NotCloudTrail,
                    message,
                },
            );
        }
        (Err(e), None) => {
            let message = format!(
                "invalid JSON at line {} column {}: {}; records from {index} on are lost",
                e.line(),
                e.column(),
                strip_position(&e)
            );
            v.bad(
                acc,
                at,
                Bad {
                    kind: BadKind::InvalidJson,
                    message,
                },
            );
        }
    }
}

/// Parses a whole document, handing each record to `on`; whether it had a `Records` array.
fn run_document<'de, R, T, F>(
    mut de: serde_json::Deserializer<R>,
    on: &mut F,
) -> Result<bool, serde_json::Error>
where
    R: serde_json::de::Read<'de>,
    T: Deserialize<'de>,
    F: FnMut(T),
{
    let found = DocSeed::<_, T>::new(on).deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// Parses one record from bytes, checking UTF-8 once for the whole text when it is valid.
fn parse_record(bytes: &[u8]) -> Result<Record<'_>, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// serde_json's message without its trailing " at line L column C".
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Line numbers of byte offsets, counted incrementally as offsets grow.
struct LineCounter<'a> {
    data: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(data: &'a [u8]) -> Self {
        LineCounter {
            data,
            offset: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.data.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.data[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

/// Lines per batch of JSON Lines handed to the thread pool.
const BATCH: usize = 4096;

/// Reads JSON Lines: one record per line, positions are 1-based line numbers. Batches of lines
/// are parsed in parallel. A file whose first line is not a whole JSON value is read instead as
/// a sequence of (pretty-printed) records.
fn read_lines<V: Visit, R: BufRead>(mut reader: R, file: u32, gzip: bool, v: &V, acc: &mut V::Acc) {
    let mut line_no = 0u64;
    let mut batch: Vec<(u64, Vec<u8>)> = Vec::with_capacity(BATCH);
    let mut buf = Vec::new();
    let mut first = true;
    loop {
        buf.clear();
        match read_line_bounded(&mut reader, &mut buf, MAX_LINE_BYTES) {
            Ok(Some(0)) => break,
            Ok(None) => {
                line_no += 1;
                first = false;
                v.bad(
                    acc,
                    At {
                        file,
                        record: line_no,
                    },
                    too_large(&format!("line {line_no}"), MAX_LINE_BYTES),
                );
            }
            Ok(Some(_)) => {
                line_no += 1;
                if trim_start(&buf).is_empty() {
                    continue;
                }
                if first {
                    first = false;
                    // A first line that ends inside a value: pretty-printed records, not lines.
                    if serde_json::from_slice::<IgnoredAny>(&buf).is_err_and(|e| e.is_eof()) {
                        let mut data = std::mem::take(&mut buf);
                        let failure = reader
                            .by_ref()
                            .take(MAX_DOCUMENT_BYTES as u64 + 1)
                            .read_to_end(&mut data)
                            .err()
                            .map(|e| read_failure(e, gzip));
                        if data.len() > MAX_DOCUMENT_BYTES {
                            let bad = too_large("the sequence of records", MAX_DOCUMENT_BYTES);
                            v.bad(acc, At { file, record: 0 }, bad);
                            return;
                        }
                        read_values(&data, file, v, acc);
                        if let Some(bad) = failure {
                            v.bad(acc, At { file, record: 0 }, bad);
                        }
                        return;
                    }
                }
                batch.push((line_no, std::mem::take(&mut buf)));
                if batch.len() >= BATCH {
                    flush(&mut batch, file, v, acc);
                }
            }
            Err(e) => {
                flush(&mut batch, file, v, acc);
                let mut bad = read_failure(e, gzip);
                bad.message = format!("{} after line {line_no}", bad.message);
                v.bad(
                    acc,
                    At {
                        file,
                        record: line_no + 1,
                    },
                    bad,
                );
                return;
            }
        }
    }
    flush(&mut batch, file, v, acc);
}

fn flush<V: Visit>(batch: &mut Vec<(u64, Vec<u8>)>, file: u32, v: &V, acc: &mut V::Acc) {
    if batch.is_empty() {
        return;
    }
    let part = batch
        .par_iter()
        .fold(
            || v.start(),
            |mut a, (line, bytes)| {
                let at = At {
                    file,
                    record: *line,
                };
                match parse_record(bytes) {
                    Ok(rec) => v.record(&mut a, at, &rec),
                    Err(e) => {
                        let kind = if e.is_data() {
                            BadKind::InvalidField
                        } else {
                            BadKind::InvalidJson
                        };
                        v.bad(
                            &mut a,
                            at,
                            Bad {
                                kind,
                                message: format!("line {line}: {}", strip_position(&e)),
                            },
                        );
                    }
                }
                a
            },
        )
        .reduce(|| v.start(), |a, b| v.merge(a, b));
    let mine = std::mem::replace(acc, v.start());
    *acc = v.merge(mine, part);
    batch.clear();
}

/// Reads a sequence of JSON values, each one record; positions are 0-based value indexes.
fn read_values<V: Visit>(data: &[u8], file: u32, v: &V, acc: &mut V::Acc) {
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<&RawValue>();
    let mut index = 0u64;
    loop {
        let at = At {
            file,
            record: index,
        };
        match stream.next() {
            None => break,
            Some(Ok(raw)) => match serde_json::from_str::<Record>(raw.get()) {
                Ok(rec) => v.record(acc, at, &rec),
                Err(e) => v.bad(
                    acc,
                    at,
                    Bad {
                        kind: BadKind::InvalidField,
                        message: strip_position(&e),
                    },
                ),
            },
            Some(Err(e)) => {
                let message = format!(
                    "invalid JSON at line {} column {}: {}",
                    e.line(),
                    e.column(),
                    strip_position(&e)
                );
                v.bad(
                    acc,
                    at,
                    Bad {
                        kind: BadKind::InvalidJson,
                        message,
                    },
                );
                break;
            }
        }
        index += 1;
    }
}

/// Deserializes a log document and hands each element of its `Records` array (or of a bare
/// top-level array) to a callback as it is parsed. Yields whether a `Records` array was found.
struct DocSeed<'f, F, T> {
    on: &'f mut F,
    element: PhantomData<fn() -> T>,
}

impl<'f, F, T> DocSeed<'f, F, T> {
    fn new(on: &'f mut F) -> Self {
        DocSeed {
            on,
            element: PhantomData,
        }
    }
}

impl<'de, F: FnMut(T), T: Deserialize<'de>> DeserializeSeed<'de> for DocSeed<'_, F, T> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(T), T: Deserialize<'de>> Visitor<'de> for DocSeed<'_, F, T> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a CloudTrail log ({"Records": [...]})"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Records" && !found {
                map.next_value_seed(RecordsSeed {
                    on: &mut *self.on,
                    element: PhantomData,
                })?;
                found = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        RecordsSeed {
            on: self.on,
            element: PhantomData,
        }
        .visit_seq(seq)
    }
}

/// The `Records` array itself.
struct RecordsSeed<'f, F, T> {
    on: &'f mut F,
    element: PhantomData<fn() -> T>,
}

impl<'de, F: FnMut(T), T: Deserialize<'de>> DeserializeSeed<'de> for RecordsSeed<'_, F, T> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(T), T: Deserialize<'de>> Visitor<'de> for RecordsSeed<'_, F, T> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while let Some(item) = seq.next_element::<T>()? {
            (self.on)(item);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Collects (position, eventName or bad kind) in order.
    struct Collect;

    impl Visit for Collect {
        type Acc = Vec<(u64, String)>;
        fn start(&self) -> Self::Acc {
            Vec::new()
        }
        fn record(&self, acc: &mut Self::Acc, at: At, r: &Record<'_>) {
            acc.push((at.record, r.event_name.as_deref().unwrap_or("?").to_owned()));
        }
        fn bad(&self, acc: &mut Self::Acc, at: At, bad: Bad) {
            acc.push((at.record, format!("bad:{}", bad.kind.code())));
        }
        fn merge(&self, mut a: Self::Acc, b: Self::Acc) -> Self::Acc {
            a.extend(b);
            a
        }
    }

    fn read_bytes(bytes: &[u8]) -> Vec<(u64, String)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, bytes).unwrap();
        let input = Input {
            shown: "log".into(),
            source: Source::File(path),
            size: bytes.len() as u64,
        };
        read_input(&input, 0, &Collect)
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    const DOC: &str =
        r#"{"Records": [{"eventName": "A"}, {"eventName": "B"}, {"eventName": "C"}], "other": 1}"#;

    #[test]
    fn documents_plain_and_gzip() {
        let want: Vec<(u64, String)> = vec![(0, "A".into()), (1, "B".into()), (2, "C".into())];
        assert_eq!(read_bytes(DOC.as_bytes()), want);
        assert_eq!(read_bytes(&gz(DOC.as_bytes())), want);
        assert_eq!(
            read_bytes(br#"[{"eventName": "A"}]"#),
            vec![(0, "A".into())]
        );
    }

    #[test]
    fn bad_record_alone_is_reported() {
        let doc = r#"{"Records": [{"eventName": "A"}, {"eventName": 5}, {"eventName": "C"}]}"#;
        assert_eq!(
            read_bytes(doc.as_bytes()),
            vec![
                (0, "A".into()),
                (1, "bad:invalid-field".into()),
                (2, "C".into())
            ]
        );
        let broken = r#"{"Records": [{"eventName": "A"}, {"eventName": "B"#;
        assert_eq!(
            read_bytes(broken.as_bytes()),
            vec![(0, "A".into()), (1, "bad:invalid-json".into())]
        );
        assert_eq!(
            read_bytes(br#"{"Records": [], "x": }"#),
            vec![(0, "bad:invalid-json".into())]
        );
    }

    #[test]
    fn truncated_gzip_keeps_what_was_read() {
        let mut text = String::from(r#"{"Records": ["#);
        for i in 0..2000 {
            text.push_str(&format!(
                r#"{{"eventName": "E{i}", "pad": "{}"}},"#,
                i * 7919 % 1000
            ));
        }
        text.push_str(r#"{"eventName": "last"}]}"#);
        let full = gz(text.as_bytes());
        let got = read_bytes(&full[..full.len() / 2]);
        let last = got.last().unwrap();
        assert_eq!(last.1, "bad:truncated-gzip");
        assert!(got.len() > 10 && got.len() < 2000, "{}", got.len());
        assert!(got[..got.len() - 1]
            .iter()
            .enumerate()
            .all(|(i, (n, e))| *n == i as u64 && *e == format!("E{i}")));
    }

    #[test]
    fn json_lines_and_pretty_records() {
        let lines = "{\"eventName\": \"A\"}\n\n{\"eventName\": \n{\"eventName\": \"C\"}\n";
        assert_eq!(
            read_bytes(lines.as_bytes()),
            vec![
                (1, "A".into()),
                (3, "bad:invalid-json".into()),
                (4, "C".into())
            ]
        );
        let pretty = "{\n  \"eventName\": \"A\"\n}\n{\n  \"eventName\": \"B\"\n}\n";
        assert_eq!(
            read_bytes(pretty.as_bytes()),
            vec![(0, "A".into()), (1, "B".into())]
        );
        assert_eq!(read_bytes(&gz(lines.as_bytes()))[2], (4, "C".into()));
    }

    /// Every prefix and many byte flips of a real-shaped log read and map without panicking.
    #[test]
    fn damaged_input_never_panics() {
        let record = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:s","arn":"arn:aws:sts::111122223333:assumed-role/r/s","accountId":"111122223333","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/p/r"},"attributes":{"creationDate":"2026-05-04T09:00:00Z","mfaAuthenticated":"false"}},"invokedBy":"s3.amazonaws.com"},"eventTime":"2026-05-04T09:12:45Z","eventSource":"kms.amazonaws.com","eventName":"CreateGrant","awsRegion":"us-east-1","sourceIPAddress":"s3.amazonaws.com","requestParameters":{"keyId":"alias/a","operations":["Decrypt"],"constraints":{"encryptionContextSubset":{"k":"v"}},"granteePrincipal":"s3.amazonaws.com"},"resources":[{"ARN":"arn:aws:kms:us-east-1:111122223333:key/k"}],"eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#;
        let doc = format!(r#"{{"Records": [{record}, {record}]}}"#);
        struct MapAll;
        impl Visit for MapAll {
            type Acc = usize;
            fn start(&self) -> usize {
                0
            }
            fn record(&self, acc: &mut usize, _at: At, r: &Record<'_>) {
                let _ = crate::replay::map::map_record(r);
                *acc += 1;
            }
            fn bad(&self, acc: &mut usize, _at: At, _bad: Bad) {
                *acc += 1;
            }
            fn merge(&self, a: usize, b: usize) -> usize {
                a + b
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let check = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            let input = Input {
                shown: "log".into(),
                source: Source::File(path.clone()),
                size: bytes.len() as u64,
            };
            read_input(&input, 0, &MapAll);
        };
        let bytes = doc.as_bytes();
        for cut in (0..bytes.len()).step_by(7) {
            check(&bytes[..cut]);
        }
        let zipped = gz(bytes);
        for cut in (0..zipped.len()).step_by(5) {
            check(&zipped[..cut]);
        }
        for i in (0..bytes.len()).step_by(3) {
            for b in [b'"', b'}', b'x', 0xff, b'\\'] {
                let mut flipped = bytes.to_vec();
                flipped[i] = b;
                check(&flipped);
            }
        }
    }

    #[test]
    fn walks_folders_in_order_skipping_digests() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/05/04");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(dir.path().join("AWSLogs/111122223333/CloudTrail-Digest")).unwrap();
        std::fs::write(
            dir.path()
                .join("AWSLogs/111122223333/CloudTrail-Digest/d.json.gz"),
            b"x",
        )
        .unwrap();
        std::fs::write(logs.join("b.json.gz"), gz(DOC.as_bytes())).unwrap();
        std::fs::write(logs.join("a.json"), DOC).unwrap();
        std::fs::write(logs.join("notes.txt"), "x").unwrap();
        let found = inputs(&[dir.path().display().to_string()]).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|i| i.shown.rsplit('/').next().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.json", "b.json.gz"]);
        let seen = Mutex::new(0);
        let all = visit_all(&found, &Collect, &|n| *seen.lock().unwrap() += n);
        assert_eq!(all.len(), 6);
        assert!(inputs(&["/no/such/path".into()]).is_err());
    }
}
