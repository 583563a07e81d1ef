//! The wildcard matcher against the textbook dynamic-programming matcher.
#![no_main]

use keyward::pattern::{Glob, Token};
use libfuzzer_sys::fuzz_target;

fn naive(pattern: &[Token], text: &str, ignore_case: bool) -> bool {
    let t: Vec<char> = text.chars().collect();
    let eq = |p: char, c: char| p == c || (ignore_case && p.to_lowercase().eq(c.to_lowercase()));
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

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // The pattern and the text are separated by the first NUL.
    let Some((pattern, value)) = text.split_once('\0') else {
        return;
    };
    if pattern.len() > 512 || value.len() > 4096 {
        return;
    }
    let ignore_case = flags & 1 == 1;
    let g = Glob::new(pattern);
    assert_eq!(
        g.matches(value, ignore_case),
        naive(g.tokens(), value, ignore_case),
        "{pattern:?} against {value:?}"
    );
});
