//! "Did you mean": the closest known name to a misspelt one, for error messages and warnings.

/// The candidate closest to `word` (case-insensitive optimal string alignment distance), when
/// it is close enough to be the likely intent: at most one edit for short words, two from eight
/// characters, three from sixteen.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = match word.len() {
        0..=3 => 0,
        4..=7 => 1,
        8..=15 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|&(d, _)| d > 0 && d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// `; did you mean "X"?` for the closest candidate, or nothing.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean {c:?}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let names = ["Decrypt", "Encrypt", "GenerateDataKey"];
        assert_eq!(closest("Decrpyt", names), Some("Decrypt"));
        assert_eq!(closest("decrypt", names), None, "an exact match is no typo");
        assert_eq!(closest("GenerateDataKy", names), Some("GenerateDataKey"));
        assert_eq!(closest("Sign", names), None);
        assert_eq!(hint("Encrpt", names), "; did you mean \"Encrypt\"?");
    }
}
