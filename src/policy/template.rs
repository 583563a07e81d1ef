//! Policy variables (docs/semantics.md §3.4): `${key}`, `${key, 'default'}` and the escapes `${*}`, `${?}`,
//! `${$}`, substituted from the request context before wildcards are interpreted. Substituted text
//! is literal: it never acts as a wildcard.

use crate::pattern::Glob;

/// A piece of a policy string that may contain variables.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Policy text; `*` and `?` in it are wildcards where the operator allows them.
    Text(String),
    /// A literal character from an escape (`${*}` → `*`), never a wildcard.
    Escaped(char),
    /// A context key to substitute, with an optional default for when it is absent.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A policy string, split into text and variables.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    /// The string as written in the policy.
    pub source: String,
    /// Its pieces; a single `Text` when it has no variables.
    pub pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; with `variables` false (Version 2008-10-17 or none) `${…}` is plain text.
    pub fn parse(text: &str, variables: bool) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        if variables {
            while let Some(start) = rest.find("${") {
                let Some(len) = rest[start..].find('}') else {
                    return Err(format!("unterminated policy variable in {text:?}"));
                };
                if start > 0 {
                    pieces.push(Piece::Text(rest[..start].to_owned()));
                }
                let inner = &rest[start + 2..start + len];
                pieces.push(parse_var(inner).ok_or_else(|| {
                    format!("malformed policy variable \"${{{inner}}}\" in {text:?}")
                })?);
                rest = &rest[start + len + 1..];
            }
        }
        if !rest.is_empty() || pieces.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template {
            source: text.to_owned(),
            pieces,
        })
    }

    /// The text of a template without variables or escapes, else `None`.
    pub fn as_plain(&self) -> Option<String> {
        match self.pieces.as_slice() {
            [Piece::Text(t)] => Some(t.clone()),
            _ => None,
        }
    }

    /// Whether the template contains a variable to substitute.
    pub fn has_vars(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Var { .. }))
    }

    /// Substitutes variables with `lookup` (which returns a single-valued context value) and
    /// builds a wildcard pattern; `None` when a variable has no value and no default, in which
    /// case the policy string matches nothing.
    pub fn to_glob<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> Option<Glob> {
        let mut glob = Glob::default();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => glob.push_pattern(t),
                Piece::Escaped(c) => glob.push_literal(&c.to_string()),
                Piece::Var { key, default } => match lookup(key).or(default.as_deref()) {
                    Some(v) => glob.push_literal(v),
                    None => return None,
                },
            }
        }
        Some(glob)
    }

    /// Substitutes variables and returns plain text (for operators without wildcards).
    pub fn to_text<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Escaped(c) => out.push(*c),
                Piece::Var { key, default } => out.push_str(lookup(key).or(default.as_deref())?),
            }
        }
        Some(out)
    }
}

fn parse_var(inner: &str) -> Option<Piece> {
    match inner {
        "*" => return Some(Piece::Escaped('*')),
        "?" => return Some(Piece::Escaped('?')),
        "$" => return Some(Piece::Escaped('$')),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let d = default.trim();
            let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(d.to_owned()))
        }
        None => (inner.trim(), None),
    };
    if key.is_empty() || key.contains(['$', '{', ' ']) {
        return None;
    }
    Some(Piece::Var {
        key: key.to_owned(),
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_escapes() {
        let t = Template::parse("home/${aws:username}/${*}", true).unwrap();
        let g = t
            .to_glob(|k| (k == "aws:username").then_some("bob"))
            .unwrap();
        assert!(g.matches("home/bob/*", false));
        assert!(!g.matches("home/bob/x", false));
        assert!(t.to_glob(|_| None).is_none());
        let d = Template::parse("${aws:PrincipalTag/team, 'company-wide'}", true).unwrap();
        assert_eq!(d.to_text(|_| None).unwrap(), "company-wide");
        let literal = Template::parse("${aws:username}", false).unwrap();
        assert_eq!(literal.to_text(|_| None).unwrap(), "${aws:username}");
        assert!(Template::parse("${oops", true).is_err());
    }
}
