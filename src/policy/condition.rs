//! Condition operators and their values (Part A §3): the operator families, the set prefixes
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
    /// Parses an operator name; operator names are matched case-insensitively (Part A §1.6).
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
                None => return Err(format!("unknown condition operator {name:?}")),
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
/// `YYYY-MM-DDThh:mm[:ss[.s]]TZD`) or as epoch seconds, into nanoseconds since the epoch.
pub fn parse_date(text: &str) -> Option<i128> {
    const NS: i128 = 1_000_000_000;
    if text.len() != 4 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        let secs = parse_number(text)?;
        return Some((secs * 1e9) as i128);
    }
    let b = text.as_bytes();
    let num = |s: &[u8]| -> Option<i64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(s).ok()?.parse().ok()
    };
    let year = num(b.get(0..4)?)?;
    let mut month = 1;
    let mut day = 1;
    let mut rest = &b[4..];
    if !rest.is_empty() {
        if rest[0] != b'-' || rest.len() < 3 {
            return None;
        }
        month = num(&rest[1..3])?;
        rest = &rest[3..];
        if !rest.is_empty() {
            if rest[0] != b'-' || rest.len() < 3 {
                return None;
            }
            day = num(&rest[1..3])?;
            rest = &rest[3..];
        }
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut nanos: i128 = 0;
    if !rest.is_empty() {
        if rest[0] != b'T' || rest.len() < 6 || rest[3] != b':' {
            return None;
        }
        let hour = num(&rest[1..3])?;
        let minute = num(&rest[4..6])?;
        rest = &rest[6..];
        let mut second = 0;
        if rest.first() == Some(&b':') {
            second = num(rest.get(1..3)?)?;
            rest = &rest[3..];
            if rest.first() == Some(&b'.') {
                let end = rest[1..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(rest.len(), |p| p + 1);
                let frac = &rest[1..end];
                if frac.is_empty() {
                    return None;
                }
                let mut f: i128 = 0;
                for (i, d) in frac.iter().take(9).enumerate() {
                    f += i128::from(d - b'0') * 10i128.pow(8 - i as u32);
                }
                nanos += f;
                rest = &rest[end..];
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let offset = match rest {
            b"" | b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = num(&[*h1, *h2])?;
                let m = num(&[*m1, *m2])?;
                let o = h * 3600 + m * 60;
                if *sign == b'+' {
                    o
                } else {
                    -o
                }
            }
            _ => return None,
        };
        nanos += i128::from(hour * 3600 + minute * 60 + second - offset) * NS;
    }
    Some(i128::from(days_from_civil(year, month, day)) * 86_400 * NS + nanos)
}

/// Days in a month of the proleptic Gregorian calendar.
pub(crate) fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

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
        assert!(Operator::parse("StringEqualz").is_err());
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
