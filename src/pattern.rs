//! Wildcard patterns: `*` matches any sequence (including empty), `?` exactly one character,
//! anchored at both ends (Part A §1.4, §2.3, §3.3). Used for actions, ARN parts and `*Like`
//! condition values. A pattern keeps literal characters apart from wildcards so that text from a
//! policy variable or a `${*}` escape never becomes a wildcard (Part A §3.4).

/// One element of a wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Token {
    /// A literal character.
    Lit(char),
    /// `*`: any sequence of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A parsed wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// Parses `text`, treating every `*` and `?` as a wildcard.
    pub fn new(text: &str) -> Glob {
        let mut g = Glob::default();
        g.push_pattern(text);
        g
    }

    /// A pattern that matches exactly `text`.
    pub fn literal(text: &str) -> Glob {
        let mut g = Glob::default();
        g.push_literal(text);
        g
    }

    /// Appends `text` with `*` and `?` as wildcards.
    pub fn push_pattern(&mut self, text: &str) {
        self.tokens.extend(text.chars().map(|c| match c {
            '*' => Token::Star,
            '?' => Token::One,
            c => Token::Lit(c),
        }));
    }

    /// Appends `text` as literal characters.
    pub fn push_literal(&mut self, text: &str) {
        self.tokens.extend(text.chars().map(Token::Lit));
    }

    /// The tokens, in order.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Whether the pattern has no wildcard, and so is a plain string.
    pub fn as_literal(&self) -> Option<String> {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Matches the whole of `text`, case-sensitively or not. Runs without allocating: a star
    /// remembers where it started and retries one character further on a mismatch.
    pub fn matches(&self, text: &str, ignore_case: bool) -> bool {
        let eq =
            |p: char, t: char| p == t || (ignore_case && p.to_lowercase().eq(t.to_lowercase()));
        let toks = &self.tokens;
        let (mut p, mut t) = (0usize, 0usize);
        // Token index after the most recent star, and the byte offset in `text` it resumes from.
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            let c = text[t..].chars().next().expect("t is a char boundary");
            match toks.get(p) {
                Some(Token::Star) => {
                    p += 1;
                    backtrack = Some((p, t));
                    continue;
                }
                Some(Token::One) => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                Some(Token::Lit(l)) if eq(*l, c) => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((bp, bt)) => {
                    let skipped = text[bt..].chars().next().expect("bt < len").len_utf8();
                    p = bp;
                    t = bt + skipped;
                    backtrack = Some((bp, t));
                }
                None => return false,
            }
        }
        toks[p..].iter().all(|t| *t == Token::Star)
    }
}

/// Matches an ARN pattern against an ARN part by part (Part A §2.3): the pattern is split on its
/// first five literal colons and each part is matched on its own, so `*` cannot cross a part
/// boundary. A pattern with fewer than six parts is matched against the whole text.
pub fn arn_matches(pattern: &Glob, arn: &str, ignore_case: bool) -> bool {
    let Some(parts) = crate::arn::split_arn(arn) else {
        return false;
    };
    let mut globs: Vec<Glob> = vec![Glob::default()];
    for t in pattern.tokens() {
        if *t == Token::Lit(':') && globs.len() < 6 {
            globs.push(Glob::default());
        } else {
            globs
                .last_mut()
                .expect("never empty")
                .tokens
                .push(t.clone());
        }
    }
    if globs.len() < 6 {
        return pattern.matches(arn, ignore_case);
    }
    globs
        .iter()
        .zip(parts)
        .all(|(g, p)| g.matches(p, ignore_case))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(Glob::new("kms:Re*").matches("kms:RetireGrant", false));
        assert!(Glob::new("*").matches("", false));
        assert!(Glob::new("a*b*c").matches("aXbYbZc", false));
        assert!(!Glob::new("a*b*c").matches("aXbYbZ", false));
        assert!(Glob::new("kms:Ge?KeyPolicy").matches("kms:GetKeyPolicy", false));
        assert!(!Glob::new("kms:GenerateDataKey?").matches("kms:GenerateDataKey", false));
        assert!(!Glob::new("kms:GenerateDataKey?").matches("kms:GenerateDataKeyPair", false));
        assert!(Glob::new("alias/app-?").matches("alias/app-1", false));
        assert!(!Glob::new("alias/app-?").matches("alias/app-10", false));
    }

    #[test]
    fn arn_parts() {
        let p = Glob::new("arn:aws:cloudtrail:*:111122223333:trail/*");
        assert!(arn_matches(
            &p,
            "arn:aws:cloudtrail:us-east-2:111122223333:trail/t",
            false
        ));
        let p = Glob::new("arn:aws:svc:*:111122223333:x/*");
        let v = "arn:aws:svc:us-east-2:999999999999:store/abc:111122223333:x/doc";
        assert!(!arn_matches(&p, v, false));
        assert!(p.matches(v, false));
    }

    #[test]
    fn case() {
        assert!(Glob::new("KMS:decrypt").matches("kms:Decrypt", true));
        assert!(!Glob::new("KMS:decrypt").matches("kms:Decrypt", false));
    }

    #[test]
    fn literal_star_is_not_a_wildcard() {
        let mut g = Glob::new("a");
        g.push_literal("*");
        g.push_pattern("b");
        assert!(g.matches("a*b", false));
        assert!(!g.matches("axb", false));
    }
}
