//! The admin bearer token (`--admin-token-file`): who may replace the world with `PUT /v1/world`.
//! The token is compared in constant time, so response timing does not reveal how much of a
//! guess was right.

use std::fmt;
use std::path::Path;

/// A configured admin token.
pub struct AdminToken(Vec<u8>);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// Reads the token from a file: its content without surrounding whitespace, which must not
    /// be empty.
    pub fn from_file(path: &Path) -> Result<AdminToken, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read admin token file {}: {e}", path.display()))?;
        AdminToken::new(text.trim())
            .ok_or_else(|| format!("admin token file {} is empty", path.display()))
    }

    /// A token from its text; `None` when empty.
    pub fn new(token: &str) -> Option<AdminToken> {
        (!token.is_empty()).then(|| AdminToken(token.as_bytes().to_vec()))
    }

    /// Whether an `Authorization` header value is `Bearer <this token>` (the scheme in any case).
    pub fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(value) = header else { return false };
        let Some((scheme, given)) = split_scheme(value) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(b"bearer") && constant_time_eq(given, &self.0)
    }
}

fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    Some((scheme, rest.trim_ascii_start()))
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    // Walk the expected token's full length whatever was given, so a short guess costs the same.
    for (i, &y) in b.iter().enumerate() {
        diff |= a.get(i).copied().unwrap_or(0) ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let t = AdminToken::new("s3cret").unwrap();
        assert!(t.accepts(Some(b"Bearer s3cret")));
        assert!(t.accepts(Some(b"bearer s3cret")));
        assert!(!t.accepts(None));
        assert!(!t.accepts(Some(b"Bearer s3cre")));
        assert!(!t.accepts(Some(b"Bearer s3cret2")));
        assert!(!t.accepts(Some(b"Bearer S3cret")));
        assert!(!t.accepts(Some(b"Basic s3cret")));
        assert!(!t.accepts(Some(b"s3cret")));
        assert!(!t.accepts(Some(b"Bearer ")));
        assert!(AdminToken::new("").is_none());
    }
}
