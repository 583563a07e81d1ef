//! Condition operators and their values (docs/semantics.md §3): the operator families, the set prefixes
//! `ForAnyValue:`/`ForAllValues:`, the `IfExists` suffix, and the typed policy values each
//! family compares against (strings with variables, numbers, dates, CIDRs, bytes).

use super::template::Template;
use base64::Engine as _;
use std::net::IpAddr;

/// The base comparison of an operator, without set prefix or `IfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BaseOp {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const BASE_OPS: &[(&str, BaseOp)] = &[
    ("StringEquals", BaseOp::StringEquals),
    ("StringNotEquals", BaseOp::StringNotEquals),
    ("StringEqualsIgnoreCase", BaseOp::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        BaseOp::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", BaseOp::StringLike),
    ("StringNotLike", BaseOp::StringNotLike),
    ("NumericEquals", BaseOp::NumericEquals),
    ("NumericNotEquals", BaseOp::NumericNotEquals),
    ("NumericLessThan", BaseOp::NumericLessThan),
    ("NumericLessThanEquals", BaseOp::NumericLessThanEquals),
    ("NumericGreaterThan", BaseOp::NumericGreaterThan),
    ("NumericGreaterThanEquals", BaseOp::NumericGreaterThanEquals),
    ("DateEquals", BaseOp::DateEquals),
    ("DateNotEquals", BaseOp::DateNotEquals),
    ("DateLessThan", BaseOp::DateLessThan),
    ("DateLessThanEquals", BaseOp::DateLessThanEquals),
    ("DateGreaterThan", BaseOp::DateGreaterThan),
    ("DateGreaterThanEquals", BaseOp::DateGreaterThanEquals),
    ("Bool", BaseOp::Bool),
    ("BinaryEquals", BaseOp::BinaryEquals),
    ("IpAddress", BaseOp::IpAddress),
    ("NotIpAddress", BaseOp::NotIpAddress),
    ("ArnEquals", BaseOp::ArnEquals),
    ("ArnLike", BaseOp::ArnLike),
    ("ArnNotEquals", BaseOp::ArnNotEquals),
    ("ArnNotLike", BaseOp::ArnNotLike),
    ("Null", BaseOp::Null),
];

/// The family of an operator, which decides how its policy values are parsed and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

impl BaseOp {
    /// The operator's family.
    pub fn family(self) -> Family {
        use BaseOp::*;
        match self {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike => Family::String,
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => Family::Numeric,
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Family::Date,
            Bool => Family::Bool,
            BinaryEquals => Family::Binary,
            IpAddress | NotIpAddress => Family::Ip,
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => Family::Arn,
            Null => Family::Null,
        }
    }

    /// Negated operators are true when the context value matches none of the policy values.
    pub fn is_negated(self) -> bool {
        use BaseOp::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// For Numeric and Date operators: whether `context ⋛ policy` with this ordering satisfies the
    /// operator (NotEquals answers as Equals; the caller negates). `None` (incomparable) never does.
    pub fn accepts(self, ord: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::*;
        use BaseOp::*;
        let Some(ord) = ord else { return false };
        match self {
            NumericEquals | NumericNotEquals | DateEquals | DateNotEquals => ord == Equal,
            NumericLessThan | DateLessThan => ord == Less,
            NumericLessThanEquals | DateLessThanEquals => ord != Greater,
            NumericGreaterThan | DateGreaterThan => ord == Greater,
            NumericGreaterThanEquals | DateGreaterThanEquals => ord != Less,
            _ => false,
        }
    }

    /// The operator's name as AWS spells it.
    pub fn name(self) -> &'static str {
        BASE_OPS
            .iter()
            .find(|(_, op)| *op == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// `ForAnyValue:` or `ForAllValues:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetOp {
    ForAnyValue,
    ForAllValues,
}

/// A full condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operator {
    pub base: BaseOp,
    pub set: Option<SetOp>,
    pub if_exists: bool,
}

impl Operator {
    /// Parses an operator name; operator names are matched case-insensitively (docs/semantics.md §1.6).
    pub fn parse(name: &str) -> Result<Operator, String> {
        let lower = name.to_ascii_lowercase();
        let (set, rest) = if let Some(r) = lower.strip_prefix("foranyvalue:") {
            (Some(SetOp::ForAnyValue), r)
        } else if let Some(r) = lower.strip_prefix("forallvalues:") {
            (Some(SetOp::ForAllValues), r)
        } else {
            (None, lower.as_str())
        };
        let find = |n: &str| {
            BASE_OPS
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(n))
                .map(|(_, op)| *op)
        };
        let (base, if_exists) = match find(rest) {
            Some(op) => (op, false),
            None => match rest.strip_suffix("ifexists").and_then(find) {
                Some(op) => (op, true),
                None => {
                    let names: Vec<String> = BASE_OPS
                        .iter()
                        .flat_map(|(n, _)| [n.to_string(), format!("{n}IfExists")])
                        .collect();
                    let hint = crate::suggest::hint(rest, names.iter().map(String::as_str));
                    return Err(format!("unknown condition operator {name:?}{hint}"));
                }
            },
        };
        if base == BaseOp::Null && (if_exists || set.is_some()) {
            return Err(format!(
                "condition operator {name:?}: Null takes no IfExists suffix or set prefix"
            ));
        }
        Ok(Operator {
            base,
            set,
            if_exists,
        })
    }

    /// The operator's canonical name.
    pub fn name(&self) -> String {
        let prefix = match self.set {
            Some(SetOp::ForAnyValue) => "ForAnyValue:",
            Some(SetOp::ForAllValues) => "ForAllValues:",
            None => "",
        };
        let suffix = if self.if_exists { "IfExists" } else { "" };
        format!("{prefix}{}{suffix}", self.base.name())
    }
}

/// One policy value of a condition, parsed for its operator's family.
#[derive(Clone, Debug, PartialEq)]
pub enum CondValue {
    /// String, ARN and Bool values; may contain policy variables.
    Text(Template),
    /// A number.
    Number(f64),
    /// An instant, in nanoseconds since the Unix epoch.
    Date(i128),
    /// A CIDR block.
    Cidr(IpAddr, u8),
    /// Base64-decoded bytes.
    Bytes(Vec<u8>),
    /// `Null`: `true` means the key must be absent.
    Absent(bool),
}

/// A condition: one operator applied to one context key with one or more values (ORed, or NORed
/// for negated operators).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    /// The key as written in the policy.
    pub key: String,
    /// The key in lower case: condition key names are case-insensitive.
    pub key_lower: String,
    pub values: Vec<CondValue>,
}

/// For a `kms:` or `aws:` condition key AWS does not define, a warning naming the closest key
/// that it does; `None` for known keys and for other services' keys.
pub fn unknown_key_warning(key: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    if !(lower.starts_with("kms:") || lower.starts_with("aws:")) {
        return None;
    }
    if crate::context_keys::lookup(key).is_some() {
        return None;
    }
    // A misspelt prefix key (`aws:PrincipalTags/team`) is compared on its prefix alone.
    let (head, _) = key.split_once('/').map_or((key, ""), |(h, t)| (h, t));
    let names = || crate::context_keys::KEYS.iter().map(|d| d.name);
    let hint = crate::suggest::closest(head, names().map(|k| k.trim_end_matches('/')))
        .or_else(|| crate::suggest::closest(key, names()));
    Some(format!(
        "{key:?} is not a condition key AWS defines for KMS requests: a request never carries it{}",
        hint.map(|h| format!("; did you mean {h:?}?"))
            .unwrap_or_default()
    ))
}

/// For a Date value written as epoch seconds that reads like a calendar date (`20260101`, which
/// is 1970-08-23 as seconds), a warning; `None` otherwise.
pub fn suspicious_date_warning(text: &str) -> Option<String> {
    let looks_like_yyyymmdd = text.len() == 8
        && text.bytes().all(|b| b.is_ascii_digit())
        && jiff::civil::Date::strptime("%Y%m%d", text)
            .is_ok_and(|d| (1990..=2100).contains(&d.year()));
    looks_like_yyyymmdd.then(|| {
        format!(
            "{text:?} is read as epoch seconds ({}), not as a calendar date; write {}-{}-{} for that day",
            crate::replay::time::format_time(text.parse().unwrap_or(0)),
            &text[..4],
            &text[4..6],
            &text[6..]
        )
    })
}

/// Parses one policy value (already coerced to its string form) for `op`.
pub fn parse_value(op: &Operator, text: &str, variables: bool) -> Result<CondValue, String> {
    Ok(match op.base.family() {
        Family::String | Family::Arn | Family::Bool => {
            CondValue::Text(Template::parse(text, variables)?)
        }
        Family::Numeric => CondValue::Number(
            parse_number(text).ok_or_else(|| format!("{text:?} is not a number"))?,
        ),
        Family::Date => CondValue::Date(
            parse_date(text)
                .ok_or_else(|| format!("{text:?} is not a date (ISO 8601 or epoch seconds)"))?,
        ),
        Family::Ip => {
            let (ip, bits) = parse_cidr(text)
                .ok_or_else(|| format!("{text:?} is not an IP address or CIDR block"))?;
            CondValue::Cidr(ip, bits)
        }
        Family::Binary => CondValue::Bytes(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| format!("{text:?} is not base64"))?,
        ),
        Family::Null => match text.to_ascii_lowercase().as_str() {
            "true" => CondValue::Absent(true),
            "false" => CondValue::Absent(false),
            _ => return Err(format!("Null takes \"true\" or \"false\", not {text:?}")),
        },
    })
}

/// Parses an integer or decimal number (`10`, `-3`, `1546257599.0`).
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (t.contains('.') && frac.is_empty()) {
        return None;
    }
    text.parse().ok()
}

/// Parses an IP address or CIDR block; a bare address is a /32 (IPv4) or /128 (IPv6).
pub fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match text.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => b.parse().ok()?,
        Some(_) => return None,
        None => max,
    };
    (bits <= max).then_some((ip, bits))
}

/// Whether `ip` lies in the block `net/bits`; an address never matches a block of the other family.
pub fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Parses a date in the W3C profile of ISO 8601 (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm[:ss[.s]][TZD]`, a missing zone meaning UTC) or as epoch seconds, into
/// nanoseconds since the epoch. This is the thin layer for the forms AWS accepts; calendar
/// validation and arithmetic are jiff's. A second of 60 (a leap second) is the next minute's
/// first second; fractions beyond nanoseconds are dropped; an offset must be `±hh:mm` with
/// hours 00–23 and minutes 00–59.
pub fn parse_date(text: &str) -> Option<i128> {
    if text.len() != 4 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        let secs = parse_number(text)?;
        return Some((secs * 1e9) as i128);
    }
    let b = text.as_bytes();
    let num = |s: &[u8]| -> Option<i8> {
        match s {
            [a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some(((a - b'0') * 10 + (b - b'0')) as i8),
            _ => None,
        }
    };
    let year = b.get(0..4)?;
    if !year.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = year.iter().fold(0i16, |n, d| n * 10 + i16::from(d - b'0'));
    let (mut month, mut day, mut rest) = (1, 1, &b[4..]);
    for field in [&mut month, &mut day] {
        match rest {
            [] => break,
            [b'-', x, y, tail @ ..] => {
                *field = num(&[*x, *y])?;
                rest = tail;
            }
            _ => return None,
        }
    }
    let date = jiff::civil::Date::new(year, month, day).ok()?;
    let (hour, minute, mut rest) = match rest {
        [] => (0, 0, rest),
        [b'T', h1, h2, b':', m1, m2, tail @ ..] => (num(&[*h1, *h2])?, num(&[*m1, *m2])?, tail),
        _ => return None,
    };
    let (mut second, mut nanos) = (0, 0i32);
    if let [b':', s1, s2, tail @ ..] = rest {
        second = num(&[*s1, *s2])?;
        rest = tail;
        if let [b'.', tail @ ..] = rest {
            let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            nanos = tail[..digits.min(9)]
                .iter()
                .chain(std::iter::repeat(&b'0'))
                .take(9)
                .fold(0, |n, d| n * 10 + i32::from(d - b'0'));
            rest = &tail[digits..];
        }
    }
    let offset = match rest {
        b"" | b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = i32::from(h) * 3600 + i32::from(m) * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let leap = second == 60;
    let time = jiff::civil::Time::new(hour, minute, if leap { 59 } else { second }, nanos).ok()?;
    let since_epoch = date.to_datetime(time).duration_since(UNIX_EPOCH).as_nanos();
    Some(since_epoch + i128::from(leap) * 1_000_000_000 - i128::from(offset) * 1_000_000_000)
}

/// 1970-01-01T00:00:00, the origin of epoch seconds, as a civil date and time (UTC).
pub(crate) const UNIX_EPOCH: jiff::civil::DateTime = jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators() {
        let op = Operator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!(op.base, BaseOp::StringLike);
        assert_eq!(op.set, Some(SetOp::ForAnyValue));
        assert!(op.if_exists);
        assert_eq!(
            Operator::parse("stringequals").unwrap().base,
            BaseOp::StringEquals
        );
        assert_eq!(
            Operator::parse("StringEqualz").unwrap_err(),
            "unknown condition operator \"StringEqualz\"; did you mean \"StringEquals\"?"
        );
        assert!(Operator::parse("ForAnyValue:StringLikeIfExist")
            .unwrap_err()
            .contains("did you mean \"StringLikeIfExists\""));
        assert!(Operator::parse("NullIfExists").is_err());
    }

    #[test]
    fn dates() {
        let a = parse_date("2026-12-31T23:59:59Z").unwrap();
        assert_eq!(a, 1_798_761_599 * 1_000_000_000);
        assert_eq!(parse_date("1798761599").unwrap(), a);
        assert_eq!(
            parse_date("2026-12-31").unwrap(),
            a - 86_399 * 1_000_000_000
        );
        assert_eq!(
            parse_date("2027-01-01T01:00:00+01:00").unwrap(),
            a + 1_000_000_000
        );
        assert!(parse_date("2026-13-45").is_none());
        assert!(parse_date("yesterday").is_none());
        assert_eq!(parse_date("1970").unwrap(), 0);
        assert_eq!(
            parse_date("2026-12").unwrap(),
            parse_date("2026-12-01T00:00Z").unwrap()
        );
        assert_eq!(
            parse_date("2026-12-31T23:59:60Z").unwrap(),
            a + 1_000_000_000
        );
        assert_eq!(parse_date("1970-01-01T00:00:00.5Z").unwrap(), 500_000_000);
        assert_eq!(
            parse_date("1970-01-01T00:00:00.1234567891Z").unwrap(),
            123_456_789
        );
        assert!(parse_date("2026-01-01T00:00:00+99:99").is_none());
        assert!(parse_date("2026-01-01T00:00:00+05:60").is_none());
        assert!(parse_date("2026-01-01T24:00:00Z").is_none());
        assert!(parse_date("2025-02-29").is_none());
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2026-01-01T00:00:00.Z").is_none());
    }

    #[test]
    fn warnings_for_likely_mistakes() {
        assert_eq!(unknown_key_warning("kms:ViaService"), None);
        assert_eq!(
            unknown_key_warning("kms:EncryptionContext:aws:s3:arn"),
            None
        );
        assert_eq!(unknown_key_warning("aws:principaltag/team"), None);
        assert_eq!(unknown_key_warning("s3:prefix"), None);
        assert!(unknown_key_warning("kms:ViaServce")
            .unwrap()
            .ends_with("did you mean \"kms:ViaService\"?"));
        assert!(unknown_key_warning("aws:PrincipalTags/team")
            .unwrap()
            .ends_with("did you mean \"aws:PrincipalTag\"?"));
        assert!(suspicious_date_warning("20260101")
            .unwrap()
            .contains("write 2026-01-01"));
        assert_eq!(suspicious_date_warning("1798761599"), None);
        assert_eq!(suspicious_date_warning("2026-01-01"), None);
    }

    #[test]
    fn cidrs() {
        let (n, b) = parse_cidr("2001:DB8:1234:5678::/64").unwrap();
        assert!(cidr_contains(
            n,
            b,
            "2001:db8:1234:5678::1".parse().unwrap()
        ));
        assert!(!cidr_contains(n, b, "203.0.113.5".parse().unwrap()));
        let (n, b) = parse_cidr("203.0.113.5").unwrap();
        assert_eq!(b, 32);
        assert!(cidr_contains(n, b, "203.0.113.5".parse().unwrap()));
        assert!(parse_cidr("10.0.0.0/33").is_none());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1546257599.0"), Some(1546257599.0));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert!(parse_number("1e5").is_none());
        assert!(parse_number("ten").is_none());
    }
}
