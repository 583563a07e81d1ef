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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Glob {
    tokens: Vec<Token>,
    /// Every literal is ASCII: with ASCII text, matching can work on bytes.
    ascii: bool,
}

impl Default for Glob {
    fn default() -> Glob {
        Glob {
            tokens: Vec::new(),
            ascii: true,
        }
    }
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
        self.ascii &= text.is_ascii();
        self.tokens.extend(text.chars().map(|c| match c {
            '*' => Token::Star,
            '?' => Token::One,
            c => Token::Lit(c),
        }));
    }

    /// Appends `text` as literal characters.
    pub fn push_literal(&mut self, text: &str) {
        self.ascii &= text.is_ascii();
        self.tokens.extend(text.chars().map(Token::Lit));
    }

    /// Appends one token.
    fn push_token(&mut self, t: Token) {
        if let Token::Lit(c) = t {
            self.ascii &= c.is_ascii();
        }
        self.tokens.push(t);
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

    /// [`Glob::matches`] for an ASCII pattern and ASCII text, byte by byte.
    fn matches_ascii(&self, text: &[u8], ignore_case: bool) -> bool {
        let toks = &self.tokens;
        let eq = |p: char, t: u8| {
            let p = p as u8;
            p == t || (ignore_case && p.eq_ignore_ascii_case(&t))
        };
        let (mut p, mut t) = (0usize, 0usize);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match toks.get(p) {
                Some(Token::Star) => {
                    p += 1;
                    backtrack = Some((p, t));
                    continue;
                }
                Some(Token::One) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                Some(Token::Lit(l)) if eq(*l, text[t]) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((bp, bt)) => {
                    p = bp;
                    t = bt + 1;
                    backtrack = Some((bp, t));
                }
                None => return false,
            }
        }
        toks[p..].iter().all(|t| *t == Token::Star)
    }

    /// Matches the whole of `text`, case-sensitively or not. Runs without allocating: a star
    /// remembers where it started and retries one character further on a mismatch.
    pub fn matches(&self, text: &str, ignore_case: bool) -> bool {
        if self.ascii && text.is_ascii() {
            return self.matches_ascii(text.as_bytes(), ignore_case);
        }
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

/// One part of a compiled ARN pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// `*`: any text.
    Any,
    /// No wildcard: plain equality.
    Exact(Box<str>),
    Glob(Glob),
}

impl Part {
    fn new(g: Glob) -> Part {
        if g.tokens == [Token::Star] {
            Part::Any
        } else if let Some(s) = g.as_literal() {
            Part::Exact(s.into())
        } else {
            Part::Glob(g)
        }
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            Part::Any => true,
            Part::Exact(s) => **s == *text,
            Part::Glob(g) => g.matches(text, false),
        }
    }
}

/// An ARN pattern split into its six parts once, so matching allocates nothing; the same
/// semantics as [`arn_matches`] (case-sensitive).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArnPattern {
    Parts(Box<[Part; 6]>),
    /// Fewer than six parts: matched against the whole text.
    Whole(Glob),
}

impl ArnPattern {
    /// Compiles a wildcard pattern.
    pub fn new(pattern: &Glob) -> ArnPattern {
        let mut globs: Vec<Glob> = vec![Glob::default()];
        for t in pattern.tokens() {
            if *t == Token::Lit(':') && globs.len() < 6 {
                globs.push(Glob::default());
            } else {
                globs.last_mut().expect("never empty").push_token(t.clone());
            }
        }
        match <[Glob; 6]>::try_from(globs) {
            Ok(parts) => ArnPattern::Parts(Box::new(parts.map(Part::new))),
            Err(_) => ArnPattern::Whole(pattern.clone()),
        }
    }

    /// Whether `arn` matches.
    pub fn matches(&self, arn: &str) -> bool {
        self.matches_parts(arn, crate::arn::split_arn(arn).as_ref())
    }

    /// Whether `arn`, already split by [`crate::arn::split_arn`], matches.
    pub fn matches_parts(&self, arn: &str, parts: Option<&[&str; 6]>) -> bool {
        let Some(parts) = parts else {
            return false;
        };
        match self {
            ArnPattern::Parts(p) => p.iter().zip(parts).all(|(p, t)| p.matches(t)),
            ArnPattern::Whole(g) => g.matches(arn, false),
        }
    }
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
    fn compiled_arn_patterns_agree() {
        let arns = [
            "arn:aws:cloudtrail:us-east-2:111122223333:trail/t",
            "arn:aws:svc:us-east-2:999999999999:store/abc:111122223333:x/doc",
            "arn:aws:kms:us-west-2:111122223333:key/k",
            "x",
        ];
        for p in [
            "arn:aws:cloudtrail:*:111122223333:trail/*",
            "arn:aws:svc:*:111122223333:x/*",
            "*",
            "arn:aws:kms:*:*:*",
            "arn:aws:kms:us-west-2:111122223333:key/k",
            "arn:aws:kms:us-west-2:111122223333:key/?",
        ] {
            let g = Glob::new(p);
            for a in arns {
                assert_eq!(
                    ArnPattern::new(&g).matches(a),
                    arn_matches(&g, a, false),
                    "{p} vs {a}"
                );
            }
        }
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
