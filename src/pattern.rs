//! Wildcard patterns: `*` matches any sequence (including empty), `?` exactly one character,
//! anchored at both ends (docs/semantics.md §1.4, §2.3, §3.3). Used for actions, ARN parts and `*Like`
//! condition values. A pattern keeps literal characters apart from wildcards so that text from a
//! policy variable or a `${*}` escape never becomes a wildcard (docs/semantics.md §3.4).

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

    /// Matches the whole of `text`, case-sensitively or not, in time linear in the text: the
    /// literal segments between stars are found left to right, each at its leftmost place, and
    /// never revisited (a `?` matches one character within its segment). ASCII text is matched
    /// byte by byte without allocating.
    pub fn matches(&self, text: &str, ignore_case: bool) -> bool {
        if self.ascii && text.is_ascii() {
            let eq = |p: char, t: u8| {
                let p = p as u8;
                p == t || (ignore_case && p.eq_ignore_ascii_case(&t))
            };
            let fold = |u: u8| {
                u32::from(if ignore_case {
                    u.to_ascii_lowercase()
                } else {
                    u
                })
            };
            let m = Matcher {
                eq: &eq,
                fold: &fold,
                ignore_case,
            };
            return match_segments(&self.tokens, text.as_bytes(), &m);
        }
        let chars: Vec<char> = text.chars().collect();
        let eq = |p: char, t: char| p == t || (ignore_case && fold_char(p) == fold_char(t));
        let fold = |c: char| u32::from(if ignore_case { fold_char(c) } else { c });
        let m = Matcher {
            eq: &eq,
            fold: &fold,
            ignore_case,
        };
        match_segments(&self.tokens, &chars, &m)
    }
}

/// A character's case-insensitive representative: its lowercase form when that is one character
/// (two characters compare equal ignoring case exactly when their lowercase forms are equal).
fn fold_char(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(one), None) => one,
        _ => c,
    }
}

/// How text units compare with pattern characters.
struct Matcher<'a, U> {
    /// Whether a pattern character equals a text unit.
    eq: &'a dyn Fn(char, U) -> bool,
    /// A text unit's key: its code, lowercased when case is ignored.
    fold: &'a dyn Fn(U) -> u32,
    ignore_case: bool,
}

/// Whether `seg` (no stars) matches `text` at `at`.
fn seg_at<U: Copy>(seg: &[Token], text: &[U], at: usize, eq: &dyn Fn(char, U) -> bool) -> bool {
    text.len() >= at + seg.len()
        && seg.iter().zip(&text[at..]).all(|(p, &t)| match p {
            Token::Lit(c) => eq(*c, t),
            _ => true,
        })
}

/// Segments longer than this are searched with bit-parallel matching rather than position by
/// position, so a search costs O(text × ⌈segment / 64⌉) rather than O(text × segment).
const SHORT_SEGMENT: usize = 8;

/// The leftmost place at or after `from` where `seg` (no stars) matches in `text`.
fn find_seg<U: Copy>(seg: &[Token], text: &[U], from: usize, m: &Matcher<'_, U>) -> Option<usize> {
    let (eq, fold, ignore_case) = (m.eq, m.fold, m.ignore_case);
    if text.len() < from + seg.len() {
        return None;
    }
    if seg.len() <= SHORT_SEGMENT {
        return (from..=text.len() - seg.len()).find(|&at| seg_at(seg, text, at, eq));
    }
    // Shift-And: bit i of `state` says the first i+1 tokens match ending at the current unit.
    let words = seg.len().div_ceil(64);
    let mut any = vec![0u64; words];
    let mut by_unit: hashbrown::HashMap<u32, Vec<u64>> = hashbrown::HashMap::new();
    for (i, t) in seg.iter().enumerate() {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        match t {
            Token::Lit(c) => {
                let key = u32::from(if ignore_case { fold_char(*c) } else { *c });
                by_unit.entry(key).or_insert_with(|| vec![0u64; words])[w] |= b;
            }
            _ => any[w] |= b,
        }
    }
    let last = seg.len() - 1;
    let mut state = vec![0u64; words];
    for (j, &u) in text.iter().enumerate().skip(from) {
        let lits = by_unit.get(&fold(u));
        let mut carry = 1u64;
        for w in 0..words {
            let next_carry = state[w] >> 63;
            let mask = any[w] | lits.map_or(0, |m| m[w]);
            state[w] = ((state[w] << 1) | carry) & mask;
            carry = next_carry;
        }
        if state[last / 64] & (1u64 << (last % 64)) != 0 {
            return Some(j + 1 - seg.len());
        }
    }
    None
}

/// Matches `text` against `toks`: the first segment anchored at the start, the last at the end,
/// and each one between found at its leftmost place after the one before.
fn match_segments<U: Copy>(toks: &[Token], text: &[U], m: &Matcher<'_, U>) -> bool {
    let eq = m.eq;
    let mut segs = toks.split(|t| *t == Token::Star);
    let first = segs.next().unwrap_or(&[]);
    let Some(last) = segs.next_back() else {
        return first.len() == text.len() && seg_at(first, text, 0, eq);
    };
    if text.len() < first.len() + last.len()
        || !seg_at(first, text, 0, eq)
        || !seg_at(last, text, text.len() - last.len(), eq)
    {
        return false;
    }
    let middle = &text[..text.len() - last.len()];
    let mut at = first.len();
    for seg in segs {
        match find_seg(seg, middle, at, m) {
            Some(found) => at = found + seg.len(),
            None => return false,
        }
    }
    true
}

/// Matches an ARN pattern against an ARN part by part (docs/semantics.md §2.3): the pattern is split on its
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

#[cfg(test)]
mod differential {
    use super::*;
    use proptest::prelude::*;

    /// The textbook matcher: dynamic programming over (pattern, text) positions.
    fn naive(pattern: &[Token], text: &str, ignore_case: bool) -> bool {
        let t: Vec<char> = text.chars().collect();
        let eq =
            |p: char, c: char| p == c || (ignore_case && p.to_lowercase().eq(c.to_lowercase()));
        // ok[j]: the pattern so far matches t[..j].
        let mut ok = vec![false; t.len() + 1];
        ok[0] = true;
        for tok in pattern {
            let mut next = vec![false; t.len() + 1];
            for j in 0..=t.len() {
                next[j] = match tok {
                    Token::Star => ok[j] || (j > 0 && next[j - 1]),
                    Token::One => j > 0 && ok[j - 1],
                    Token::Lit(c) => j > 0 && ok[j - 1] && eq(*c, t[j - 1]),
                };
            }
            ok = next;
        }
        ok[t.len()]
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop::sample::select(vec!['a', 'b', 'A', 'é', 'É', 'K', 'k']),
            0..40,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn pattern_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop::sample::select(vec![
                "a",
                "b",
                "A",
                "é",
                "*",
                "?",
                "aaaaaaaaab",
                "a?a?a?a?a?b",
            ]),
            0..8,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn agrees_with_naive(p in pattern_strategy(), t in text_strategy(), ic in any::<bool>()) {
            let g = Glob::new(&p);
            prop_assert_eq!(g.matches(&t, ic), naive(g.tokens(), &t, ic), "{:?} vs {:?}", p, t);
        }
    }

    #[test]
    fn long_segments_and_long_texts() {
        let text = "a".repeat(200_000) + "b";
        let seg = "a".repeat(100) + "b";
        assert!(Glob::new(&format!("*{seg}*")).matches(&text, false));
        assert!(!Glob::new(&format!("*{seg}c*")).matches(&text, false));
        assert!(Glob::new(&format!("*{}*", "a*".repeat(500))).matches(&text, true));
        let q = "a?".repeat(70) + "b";
        assert!(Glob::new(&format!("*{q}")).matches(&text, false));
        assert!(!Glob::new(&format!("*{q}*{q}")).matches(&text, false));
    }
}
