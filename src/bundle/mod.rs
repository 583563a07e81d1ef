//! World bundles (docs/bundles.md): a `.tar.gz` of world files with a manifest naming its
//! revision and each file's SHA-256, optionally signed, for fleets of sidecars that poll one
//! server for their world.
//!
//! - [`archive`]: building a bundle from a world directory, and unpacking one in memory within
//!   limits, checking its manifest and signature;
//! - [`keys`]: Ed25519 key files (PKCS#8 and SPKI PEM, as `openssl genpkey` writes them);
//! - [`poll`]: `keyward serve --bundle`: polling a URL with `ETag`s and swapping each new bundle in.

pub mod archive;
pub mod keys;
pub mod poll;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The archive entry holding the manifest.
pub const MANIFEST: &str = ".manifest";
/// The archive entry holding the manifest's signature or digest.
pub const SIGNATURE: &str = ".signature";

/// What a bundle says about itself: its revision, when it was built and every world file with
/// its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The revision the bundle was built as (free text; the content hash unless given).
    pub revision: String,
    /// When it was built (RFC 3339, UTC).
    pub created: String,
    /// The world files, in the order they are merged.
    pub files: Vec<ManifestFile>,
}

/// One world file of a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// The file's name in the archive (`*.json`, no directories).
    pub name: String,
    /// The SHA-256 of its bytes, as 64 lowercase hex digits.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The `.signature` entry: an Ed25519 signature or a SHA-256 digest of the `.manifest` bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase", deny_unknown_fields)]
pub enum Signature {
    /// Ed25519 over the manifest bytes; `signature` is 64 bytes in standard base64.
    Ed25519 { signature: String },
    /// The SHA-256 of the manifest bytes as 64 hex digits: catches corruption, not tampering.
    Sha256 { digest: String },
}

/// Why a bundle could not be built, read or trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleError(pub String);

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BundleError {}

/// 64 lowercase hex digits of the SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The content hash of a set of world files (`sha256:` and 16 hex digits), computed as the
/// server hashes a world directory, so a bundle built from a directory hashes like it.
pub fn content_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut hasher = Sha256::new();
    for (name, bytes) in files {
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    format!("sha256:{}", &hex(&hasher.finalize())[..16])
}
