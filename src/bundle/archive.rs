//! Building a bundle from world files, and unpacking one in memory (docs/bundles.md, "Format").
//!
//! Unpacking trusts nothing in the archive: the decompressed size, the number of entries and
//! every entry's name and type are bounded before anything is read into the world, only plain
//! files at the top level are accepted (no directories to escape through, no links), and every
//! world file must be listed in the manifest with its SHA-256, and nothing else may be there.

use super::{content_hash, sha256_hex, BundleError, Manifest, ManifestFile, Signature};
use super::{MANIFEST, SIGNATURE};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use std::io::Read;
use std::path::Path;

/// How a bundle is signed when it is built.
pub enum Sign {
    /// No `.signature` entry; the manifest's per-file digests still guard the files.
    None,
    /// A SHA-256 digest of the manifest (integrity only).
    Digest,
    /// An Ed25519 signature of the manifest with this key.
    Ed25519(Box<SigningKey>),
}

/// Bounds on what unpacking accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest archive accepted, compressed, in bytes.
    pub max_archive_bytes: usize,
    /// Largest decompressed archive (tar headers included), in bytes.
    pub max_unpacked_bytes: usize,
    /// Most entries in the archive.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_archive_bytes: 64 << 20,
            max_unpacked_bytes: 256 << 20,
            max_entries: 10_000,
        }
    }
}

/// How far a bundle's signature was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Signed with Ed25519 and verified with the given public key.
    Verified,
    /// Signed with Ed25519, but no public key was given to check it.
    Unchecked,
    /// Carries a SHA-256 digest of the manifest, which matched.
    Digest,
    /// No `.signature` entry.
    Unsigned,
}

impl Trust {
    /// The word `/health` and `keyward bundle verify` report.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Verified => "ed25519-verified",
            Trust::Unchecked => "ed25519-unchecked",
            Trust::Digest => "sha256-digest",
            Trust::Unsigned => "unsigned",
        }
    }
}

/// A bundle unpacked and checked, ready to load as a world.
#[derive(Debug)]
pub struct Bundle {
    pub manifest: Manifest,
    /// The world files in manifest order: name and text.
    pub files: Vec<(String, String)>,
    /// How far the signature was checked.
    pub trust: Trust,
    /// The content hash of the world files (as the server hashes a world directory).
    pub hash: String,
}

/// The world files of `path`: the file itself, or a directory's `*.json` files sorted by name
/// (as the world loader reads it), each with its name and bytes.
pub fn world_files(path: &Path) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| BundleError(format!("{shown}: {e}")))?;
    let mut paths = Vec::new();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| BundleError(format!("{shown}: {e}")))? {
            let p = entry
                .map_err(|e| BundleError(format!("{shown}: {e}")))?
                .path();
            if p.extension().is_some_and(|e| e == "json") {
                paths.push(p);
            }
        }
        paths.sort();
    } else {
        paths.push(path.to_path_buf());
    }
    let mut out = Vec::new();
    for p in paths {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| BundleError(format!("{}: the name is not UTF-8", p.display())))?
            .to_owned();
        let bytes = std::fs::read(&p).map_err(|e| BundleError(format!("{}: {e}", p.display())))?;
        out.push((name, bytes));
    }
    Ok(out)
}

/// Builds a bundle (`.tar.gz` bytes) of `files` with a manifest of `revision` (the content
/// hash when `None`) created at `created` (RFC 3339), signed as `sign` says.
pub fn build(
    files: &[(String, Vec<u8>)],
    revision: Option<&str>,
    created: &str,
    sign: &Sign,
) -> Result<Vec<u8>, BundleError> {
    let hash = content_hash(files.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    let manifest = Manifest {
        revision: revision.map_or(hash, str::to_owned),
        created: created.to_owned(),
        files: files
            .iter()
            .map(|(name, bytes)| ManifestFile {
                name: name.clone(),
                sha256: sha256_hex(bytes),
                bytes: bytes.len() as u64,
            })
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BundleError(format!("cannot write the manifest: {e}")))?;
    let signature = match sign {
        Sign::None => None,
        Sign::Digest => Some(Signature::Sha256 {
            digest: sha256_hex(&manifest_bytes),
        }),
        Sign::Ed25519(key) => Some(Signature::Ed25519 {
            signature: STANDARD.encode(key.sign(&manifest_bytes).to_bytes()),
        }),
    };
    let mtime = created
        .parse::<jiff::Timestamp>()
        .map_or(0, |t| u64::try_from(t.as_second()).unwrap_or(0));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut add = |name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_path(name)?;
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, bytes)
    };
    let written = (|| -> std::io::Result<()> {
        add(MANIFEST, &manifest_bytes)?;
        if let Some(sig) = &signature {
            let text = serde_json::to_vec_pretty(sig).map_err(std::io::Error::other)?;
            add(SIGNATURE, &text)?;
        }
        for (name, bytes) in files {
            add(name, bytes)?;
        }
        Ok(())
    })();
    written.map_err(|e| BundleError(format!("cannot write the archive: {e}")))?;
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| BundleError(format!("cannot write the archive: {e}")))
}

/// A reader that fails once more than `left` bytes have been read from it, so a small archive
/// cannot decompress into an unbounded amount of memory.
struct Bounded<R> {
    inner: R,
    left: usize,
    limit: usize,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(self.left + 1);
        let n = self.inner.read(&mut buf[..want])?;
        if n > self.left {
            return Err(std::io::Error::other(format!(
                "decompresses to more than {} bytes",
                self.limit
            )));
        }
        self.left -= n;
        Ok(n)
    }
}

/// Unpacks and checks a bundle held in memory. With `key`, the bundle must carry an Ed25519
/// signature of its manifest made by that key. `source` names the bundle in errors.
pub fn unpack(
    bytes: &[u8],
    limits: &Limits,
    key: Option<&VerifyingKey>,
    source: &str,
) -> Result<Bundle, BundleError> {
    let err = |m: String| BundleError(format!("{source}: {m}"));
    if bytes.len() > limits.max_archive_bytes {
        return Err(err(format!(
            "the archive is {} bytes, over the limit of {}",
            bytes.len(),
            limits.max_archive_bytes
        )));
    }
    let reader = Bounded {
        inner: flate2::read::GzDecoder::new(bytes),
        left: limits.max_unpacked_bytes,
        limit: limits.max_unpacked_bytes,
    };
    let mut archive = tar::Archive::new(reader);
    let mut manifest_bytes = None;
    let mut signature_bytes = None;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| err(format!("not a .tar.gz archive: {e}")))?;
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(err(format!(
                "more than {} entries in the archive",
                limits.max_entries
            )));
        }
        let mut entry = entry.map_err(|e| err(format!("not a .tar.gz archive: {e}")))?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let name = entry_name(&raw).map_err(|m| err(format!("entry {shown:?}: {m}")))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() && name.is_empty() {
            continue; // the archive's own top directory, `./`
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(err(format!(
                "entry {shown:?}: only plain files are accepted, this is {}",
                describe(kind)
            )));
        }
        if name.is_empty() {
            return Err(err(format!("entry {shown:?}: no file name")));
        }
        let mut content =
            Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(1 << 20));
        entry
            .read_to_end(&mut content)
            .map_err(|e| err(format!("entry {name}: cannot read: {e}")))?;
        let slot = match name.as_str() {
            MANIFEST => &mut manifest_bytes,
            SIGNATURE => &mut signature_bytes,
            _ => {
                if !name.ends_with(".json") {
                    return Err(err(format!(
                        "entry {name}: not a world file (*.json), {MANIFEST} or {SIGNATURE}"
                    )));
                }
                if files.iter().any(|(n, _)| *n == name) {
                    return Err(err(format!("entry {name}: appears twice")));
                }
                files.push((name, content));
                continue;
            }
        };
        if slot.is_some() {
            return Err(err(format!("entry {name}: appears twice")));
        }
        *slot = Some(content);
    }
    let manifest_bytes =
        manifest_bytes.ok_or_else(|| err(format!("no {MANIFEST} entry: not a keyward bundle")))?;
    let trust = check_signature(&manifest_bytes, signature_bytes.as_deref(), key)
        .map_err(|m| err(format!("{SIGNATURE}: {m}")))?;
    let manifest_text =
        crate::json::utf8_text(&manifest_bytes).map_err(|m| err(format!("{MANIFEST}: {m}")))?;
    let manifest: Manifest = crate::json::parse(manifest_text)
        .and_then(serde_json::from_value)
        .map_err(|e| err(format!("{MANIFEST}: {e}")))?;
    // Every world file listed, with its digest, and nothing unlisted.
    let mut ordered = Vec::with_capacity(manifest.files.len());
    for listed in &manifest.files {
        if ordered
            .iter()
            .any(|(n, _): &(String, Vec<u8>)| *n == listed.name)
        {
            return Err(err(format!("{MANIFEST}: lists {} twice", listed.name)));
        }
        let at = files
            .iter()
            .position(|(n, _)| *n == listed.name)
            .ok_or_else(|| {
                err(format!(
                    "{MANIFEST}: lists {}, which is not in the archive",
                    listed.name
                ))
            })?;
        let (name, content) = files.swap_remove(at);
        let digest = sha256_hex(&content);
        if digest != listed.sha256 {
            return Err(err(format!(
                "{name}: SHA-256 {digest} differs from the manifest's {}",
                listed.sha256
            )));
        }
        ordered.push((name, content));
    }
    if let Some((extra, _)) = files.first() {
        return Err(err(format!(
            "entry {extra}: a world file the manifest does not list"
        )));
    }
    if ordered.is_empty() {
        return Err(err("the bundle holds no world files".into()));
    }
    let hash = content_hash(ordered.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    let mut texts = Vec::with_capacity(ordered.len());
    for (name, content) in ordered {
        let text = crate::json::utf8_text(&content)
            .map_err(|m| err(format!("{name}: {m}")))?
            .to_owned();
        texts.push((name, text));
    }
    Ok(Bundle {
        manifest,
        files: texts,
        trust,
        hash,
    })
}

/// The name an entry path stands for: `./` prefixes dropped; anything with a directory part,
/// an absolute path or `..` refused.
fn entry_name(raw: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "the name is not UTF-8".to_owned())?;
    let mut rest = text;
    while let Some(r) = rest.strip_prefix("./") {
        rest = r;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest == "." {
        return Ok(String::new());
    }
    if rest.starts_with('/')
        || rest.contains('/')
        || rest.contains('\\')
        || rest.contains('\0')
        || rest == ".."
    {
        return Err("only file names at the top of the archive are accepted (no directories, absolute paths or ..)".into());
    }
    Ok(rest.to_owned())
}

fn describe(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "a symbolic link",
        tar::EntryType::Link => "a hard link",
        tar::EntryType::Directory => "a directory",
        tar::EntryType::Char | tar::EntryType::Block => "a device",
        tar::EntryType::Fifo => "a FIFO",
        _ => "a special entry",
    }
}

/// Checks the `.signature` entry against the manifest bytes; with `key`, an Ed25519 signature
/// by that key is required.
fn check_signature(
    manifest: &[u8],
    signature: Option<&[u8]>,
    key: Option<&VerifyingKey>,
) -> Result<Trust, String> {
    let Some(bytes) = signature else {
        return match key {
            Some(_) => Err("missing: a public key was given, so the bundle must be signed".into()),
            None => Ok(Trust::Unsigned),
        };
    };
    let text = crate::json::utf8_text(bytes)?;
    let sig: Signature = crate::json::parse(text)
        .and_then(serde_json::from_value)
        .map_err(|e| e.to_string())?;
    match (sig, key) {
        (Signature::Sha256 { .. }, Some(_)) => {
            Err("holds a SHA-256 digest, but a public key was given, so the bundle must be signed with Ed25519".into())
        }
        (Signature::Sha256 { digest }, None) => {
            let actual = sha256_hex(manifest);
            if digest.eq_ignore_ascii_case(&actual) {
                Ok(Trust::Digest)
            } else {
                Err(format!(
                    "the manifest's SHA-256 is {actual}, not {digest}: the bundle is corrupt"
                ))
            }
        }
        (Signature::Ed25519 { .. }, None) => Ok(Trust::Unchecked),
        (Signature::Ed25519 { signature }, Some(key)) => {
            let raw = STANDARD
                .decode(signature.trim())
                .map_err(|e| format!("the signature is not base64: {e}"))?;
            let raw: [u8; 64] = raw
                .try_into()
                .map_err(|_| "the signature is not 64 bytes".to_owned())?;
            key.verify_strict(manifest, &ed25519_dalek::Signature::from_bytes(&raw))
                .map(|()| Trust::Verified)
                .map_err(|_| "the Ed25519 signature does not match the manifest and the public key given".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![
            ("a.json".into(), br#"{"keys": []}"#.to_vec()),
            ("b.json".into(), br#"{"principals": []}"#.to_vec()),
        ]
    }

    const NOW: &str = "2026-12-02T16:00:00Z";

    fn tar_gz(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, kind, bytes) in entries {
            let mut h = tar::Header::new_gnu();
            // set_path refuses `..`; write the name bytes directly as a hostile archive would.
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_size(bytes.len() as u64);
            h.set_entry_type(*kind);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").unwrap();
            }
            h.set_cksum();
            tar.append(&h, *bytes).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_bundle_round_trips_with_each_kind_of_signature() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let limits = Limits::default();
        for (sign, trust) in [
            (Sign::None, Trust::Unsigned),
            (Sign::Digest, Trust::Digest),
            (Sign::Ed25519(Box::new(key.clone())), Trust::Unchecked),
        ] {
            let b = build(&files(), Some("r1"), NOW, &sign).unwrap();
            let u = unpack(&b, &limits, None, "b").unwrap();
            assert_eq!(u.trust, trust);
            assert_eq!(u.manifest.revision, "r1");
            assert_eq!(
                u.files[1],
                ("b.json".into(), r#"{"principals": []}"#.into())
            );
        }
        let b = build(&files(), None, NOW, &Sign::Ed25519(Box::new(key.clone()))).unwrap();
        let u = unpack(&b, &limits, Some(&key.verifying_key()), "b").unwrap();
        assert_eq!(u.trust, Trust::Verified);
        assert_eq!(
            u.manifest.revision, u.hash,
            "the revision defaults to the content hash"
        );
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        let e = unpack(&b, &limits, Some(&other), "b").unwrap_err();
        assert!(e.0.contains("does not match"), "{e}");
        let unsigned = build(&files(), None, NOW, &Sign::Digest).unwrap();
        let e = unpack(&unsigned, &limits, Some(&other), "b").unwrap_err();
        assert!(e.0.contains("must be signed with Ed25519"), "{e}");
    }

    #[test]
    fn tampered_files_and_manifests_are_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let good = build(
            &files(),
            Some("r1"),
            NOW,
            &Sign::Ed25519(Box::new(key.clone())),
        )
        .unwrap();
        let u = unpack(&good, &Limits::default(), None, "b").unwrap();
        let manifest = serde_json::to_vec_pretty(&u.manifest).unwrap();
        let sig = {
            let mut a = tar::Archive::new(flate2::read::GzDecoder::new(&good[..]));
            let mut e = a.entries().unwrap().nth(1).unwrap().unwrap();
            let mut s = Vec::new();
            e.read_to_end(&mut s).unwrap();
            s
        };
        let r = tar::EntryType::Regular;
        // A world file changed after signing.
        let changed = tar_gz(&[
            (MANIFEST, r, &manifest),
            (SIGNATURE, r, &sig),
            ("a.json", r, br#"{"keys": [1]}"#),
            ("b.json", r, br#"{"principals": []}"#),
        ]);
        let e = unpack(
            &changed,
            &Limits::default(),
            Some(&key.verifying_key()),
            "b",
        )
        .unwrap_err();
        assert!(e.0.contains("a.json: SHA-256"), "{e}");
        // An extra world file the manifest does not list.
        let extra = tar_gz(&[
            (MANIFEST, r, &manifest),
            ("a.json", r, br#"{"keys": []}"#),
            ("b.json", r, br#"{"principals": []}"#),
            ("c.json", r, b"{}"),
        ]);
        let e = unpack(&extra, &Limits::default(), None, "b").unwrap_err();
        assert!(
            e.0.contains("c.json: a world file the manifest does not list"),
            "{e}"
        );
        // A manifest whose digest no longer matches.
        let digest = serde_json::to_vec(&Signature::Sha256 {
            digest: "00".repeat(32),
        })
        .unwrap();
        let corrupt = tar_gz(&[(MANIFEST, r, &manifest), (SIGNATURE, r, &digest)]);
        let e = unpack(&corrupt, &Limits::default(), None, "b").unwrap_err();
        assert!(e.0.contains("corrupt"), "{e}");
    }

    #[test]
    fn hostile_archives_are_refused() {
        let r = tar::EntryType::Regular;
        let limits = Limits::default();
        for (entries, expect) in [
            (vec![("../x.json", r, &b"{}"[..])], "no directories"),
            (vec![("/etc/x.json", r, &b"{}"[..])], "no directories"),
            (vec![("d/x.json", r, &b"{}"[..])], "no directories"),
            (
                vec![("x.json", tar::EntryType::Symlink, &b""[..])],
                "a symbolic link",
            ),
            (
                vec![("x.json", tar::EntryType::Link, &b""[..])],
                "a hard link",
            ),
            (
                vec![("sub", tar::EntryType::Directory, &b""[..])],
                "a directory",
            ),
            (vec![("run.sh", r, &b"#!"[..])], "not a world file"),
            (
                vec![("a.json", r, &b"{}"[..]), ("a.json", r, &b"{}"[..])],
                "appears twice",
            ),
            (vec![("a.json", r, &b"{}"[..])], "no .manifest"),
        ] {
            let e = unpack(&tar_gz(&entries), &limits, None, "b").unwrap_err();
            assert!(e.0.contains(expect), "{expect}: {e}");
        }
        let e = unpack(b"not gzip at all", &limits, None, "b").unwrap_err();
        assert!(e.0.contains("not a .tar.gz"), "{e}");
        // A gzip bomb: a megabyte of zeros in a few kilobytes.
        let zeros = vec![0u8; 1 << 20];
        let bomb = tar_gz(&[("a.json", r, &zeros)]);
        let small = Limits {
            max_unpacked_bytes: 64 << 10,
            ..limits
        };
        let e = unpack(&bomb, &small, None, "b").unwrap_err();
        assert!(e.0.contains("more than 65536 bytes"), "{e}");
        let tiny = Limits {
            max_archive_bytes: 10,
            ..limits
        };
        assert!(unpack(&bomb, &tiny, None, "b")
            .unwrap_err()
            .0
            .contains("over the limit"));
        let many: Vec<(String, Vec<u8>)> = (0..5)
            .map(|i| (format!("{i}.json"), b"{}".to_vec()))
            .collect();
        let b = build(&many, None, NOW, &Sign::None).unwrap();
        let few = Limits {
            max_entries: 3,
            ..limits
        };
        assert!(unpack(&b, &few, None, "b")
            .unwrap_err()
            .0
            .contains("more than 3 entries"));
    }
}
