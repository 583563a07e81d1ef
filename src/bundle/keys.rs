//! Ed25519 key files for signing bundles (docs/bundles.md, "Signing").
//!
//! A private key is a PEM `PRIVATE KEY` block holding the PKCS#8 form of RFC 8410, as
//! `openssl genpkey -algorithm ed25519` writes it; a public key is a PEM `PUBLIC KEY` block
//! (SubjectPublicKeyInfo), as `openssl pkey -in key.pem -pubout` writes it. Either may also be
//! given as the bare 32 bytes in standard base64 on one line.

use super::BundleError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::path::Path;

/// DER of a PKCS#8 (version 1) Ed25519 private key, before the 32-byte seed.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER of an Ed25519 SubjectPublicKeyInfo, before the 32-byte public key.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Reads a private key file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, BundleError> {
    let text = read(path)?;
    parse_signing_key(&text).map_err(|e| BundleError(format!("{}: {e}", path.display())))
}

/// Reads a public key file.
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, BundleError> {
    let text = read(path)?;
    parse_verifying_key(&text).map_err(|e| BundleError(format!("{}: {e}", path.display())))
}

fn read(path: &Path) -> Result<String, BundleError> {
    std::fs::read_to_string(path)
        .map_err(|e| BundleError(format!("{}: cannot read key: {e}", path.display())))
}

/// Parses a private key: PKCS#8 PEM or the base64 seed.
pub fn parse_signing_key(text: &str) -> Result<SigningKey, String> {
    let seed = match pem_body(text, "PRIVATE KEY")? {
        Some(der) => der
            .strip_prefix(&PKCS8_PREFIX)
            .filter(|rest| rest.len() == 32)
            .ok_or("not an Ed25519 private key in PKCS#8 form (make one with `openssl genpkey -algorithm ed25519`)")?
            .to_vec(),
        None => bare(text)?,
    };
    let seed: [u8; 32] = seed.try_into().map_err(|_| "not 32 bytes")?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Parses a public key: SPKI PEM or the base64 key.
pub fn parse_verifying_key(text: &str) -> Result<VerifyingKey, String> {
    if text.contains("PRIVATE KEY") {
        return Err(
            "this is a private key; give the public key (`openssl pkey -in key.pem -pubout`)"
                .into(),
        );
    }
    let key = match pem_body(text, "PUBLIC KEY")? {
        Some(der) => der
            .strip_prefix(&SPKI_PREFIX)
            .filter(|rest| rest.len() == 32)
            .ok_or("not an Ed25519 public key (SubjectPublicKeyInfo)")?
            .to_vec(),
        None => bare(text)?,
    };
    let key: [u8; 32] = key.try_into().map_err(|_| "not 32 bytes")?;
    VerifyingKey::from_bytes(&key).map_err(|e| format!("not a valid Ed25519 public key: {e}"))
}

/// The DER inside a PEM block labelled `label`, or `None` when the text is not PEM.
fn pem_body(text: &str, label: &str) -> Result<Option<Vec<u8>>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    if !text.contains("-----BEGIN ") {
        return Ok(None);
    }
    let start = text
        .find(&begin)
        .ok_or_else(|| format!("no {begin} block"))?
        + begin.len();
    let stop = text[start..]
        .find(&end)
        .ok_or_else(|| format!("no {end} line"))?
        + start;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(body)
        .map(Some)
        .map_err(|e| format!("the PEM block is not base64: {e}"))
}

/// A key given as its 32 bytes in base64.
fn bare(text: &str) -> Result<Vec<u8>, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| "neither a PEM key nor 32 bytes in base64".to_owned())?;
    if bytes.len() != 32 {
        return Err(format!(
            "a bare key must be 32 bytes in base64, this is {}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The private key as PKCS#8 PEM (what `openssl genpkey -algorithm ed25519` writes).
pub fn signing_key_pem(key: &SigningKey) -> String {
    let mut der = PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&key.to_bytes());
    pem("PRIVATE KEY", &der)
}

/// The public key as SPKI PEM (what `openssl pkey -pubout` writes).
pub fn verifying_key_pem(key: &VerifyingKey) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    pem("PUBLIC KEY", &der)
}

fn pem(label: &str, der: &[u8]) -> String {
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        STANDARD.encode(der)
    )
}

/// A new private key from the operating system's random source.
pub fn generate() -> Result<SigningKey, BundleError> {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|e| BundleError(format!("cannot read /dev/urandom: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
    const OPENSSL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOvrlDKkj7PgJYe4EiLOZaxmeyfm5Z0FAUSu0+SZccjO\n-----END PRIVATE KEY-----\n";
    const OPENSSL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAaz4RnNv00rY8xpPyLPjDX7sqRKnM5ZF1KmOZ6UVcpsA=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn keys_round_trip_through_pem_and_base64() {
        let key = parse_signing_key(OPENSSL_PRIVATE).unwrap();
        let public = key.verifying_key();
        let pem = verifying_key_pem(&public);
        assert_eq!(pem, OPENSSL_PUBLIC, "the public key openssl derives");
        assert_eq!(parse_verifying_key(&pem).unwrap(), public);
        assert_eq!(
            parse_signing_key(&signing_key_pem(&key))
                .unwrap()
                .to_bytes(),
            key.to_bytes()
        );
        assert_eq!(signing_key_pem(&key), OPENSSL_PRIVATE);
        let bare = STANDARD.encode(public.as_bytes());
        assert_eq!(parse_verifying_key(&bare).unwrap(), public);
        assert!(parse_verifying_key(OPENSSL_PRIVATE)
            .unwrap_err()
            .contains("private key"));
        assert!(parse_signing_key("hello").is_err());
        assert!(parse_signing_key(&STANDARD.encode([1u8; 31]))
            .unwrap_err()
            .contains("32 bytes"));
    }
}
