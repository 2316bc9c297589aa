//! Runtime values and RocketMQ's comparison rules between them.
//!
//! Message properties are always strings; literals are typed. Integer literals are 32-bit when they
//! fit and 64-bit otherwise (an `L` suffix changes nothing), which matters: a property compared with
//! a 32-bit literal is parsed as a 32-bit integer, so `"3000000000" = 5` fails to evaluate.

use std::cmp::Ordering;

use crate::error::EvalError;

/// A value during evaluation; strings borrow from the expression or from the message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'v> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'v str),
}

impl Value<'_> {
    pub(crate) fn is_null(self) -> bool {
        matches!(self, Value::Null)
    }

    /// The three-valued truth of a boolean operand: `None` is SQL's unknown.
    pub(crate) fn truth(self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// Orders two non-null values the way RocketMQ's `ComparisonExpression` does: numbers widen
/// (int → long → double), a string meeting a number or boolean is converted to that type (and the
/// evaluation fails if it does not convert), and any other mix of types compares as "less".
pub(crate) fn compare(left: Value<'_>, right: Value<'_>) -> Result<Ordering, EvalError> {
    use Value::{Bool, Double, Int, Long, Null, Str};
    Ok(match (left, right) {
        (Bool(a), Bool(b)) => a.cmp(&b),
        (Int(a), Int(b)) => a.cmp(&b),
        (Long(a), Long(b)) => a.cmp(&b),
        (Int(a), Long(b)) => i64::from(a).cmp(&b),
        (Long(a), Int(b)) => a.cmp(&i64::from(b)),
        (Double(a), Double(b)) => double_cmp(a, b),
        (Int(a), Double(b)) => double_cmp(f64::from(a), b),
        (Double(a), Int(b)) => double_cmp(a, f64::from(b)),
        // RocketMQ widens long to double the same way, precision loss included.
        #[allow(clippy::cast_precision_loss)]
        (Long(a), Double(b)) => double_cmp(a as f64, b),
        #[allow(clippy::cast_precision_loss)]
        (Double(a), Long(b)) => double_cmp(a, b as f64),
        (Str(a), Str(b)) => a.cmp(b),
        (Int(a), Str(b)) => a.cmp(&parse_int(b)?),
        (Long(a), Str(b)) => a.cmp(&parse_long(b)?),
        (Double(a), Str(b)) => double_cmp(a, parse_double(b)?),
        (Str(a), Int(b)) => parse_int(a)?.cmp(&b),
        (Str(a), Long(b)) => parse_long(a)?.cmp(&b),
        (Str(a), Double(b)) => double_cmp(parse_double(a)?, b),
        (Str(a), Bool(b)) => java_bool(a).cmp(&b),
        (Bool(_), Str(s)) => return Err(EvalError::BooleanWithString(s.to_owned())),
        (Null, _) | (_, Null) | (Bool(_), _) | (_, Bool(_)) => Ordering::Less,
    })
}

/// Java's `Double.compareTo`: every NaN is equal to itself and above everything, and -0.0 < 0.0.
fn double_cmp(a: f64, b: f64) -> Ordering {
    let canon = |x: f64| if x.is_nan() { f64::NAN } else { x };
    canon(a).total_cmp(&canon(b))
}

/// Java's `Boolean.valueOf(String)`: true only for "true" in any case, never an error.
fn java_bool(s: &str) -> bool {
    s.eq_ignore_ascii_case("true")
}

fn parse_int(s: &str) -> Result<i32, EvalError> {
    s.parse().map_err(|_| not_a_number(s, "32-bit integer"))
}

fn parse_long(s: &str) -> Result<i64, EvalError> {
    s.parse().map_err(|_| not_a_number(s, "64-bit integer"))
}

pub(crate) fn parse_double(s: &str) -> Result<f64, EvalError> {
    java_double(s).ok_or_else(|| not_a_number(s, "floating-point number"))
}

fn not_a_number(s: &str, wanted: &'static str) -> EvalError {
    EvalError::NotANumber {
        value: s.to_owned(),
        wanted,
    }
}

/// Java's `Double.valueOf(String)` for decimal text: surrounding control characters and spaces are
/// ignored, `NaN` / `Infinity` are spelled exactly, and one trailing `f`/`F`/`d`/`D` is allowed.
/// (Java's hexadecimal floating-point form is not accepted.)
fn java_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    let negative = t.starts_with('-');
    let special = match unsigned {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        _ => None,
    };
    if let Some(v) = special {
        return Some(if negative { -v } else { v });
    }
    let body = t.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(t);
    // Rust also accepts "inf" and "nan" spellings; Java does not.
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    body.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_double_accepts_what_java_accepts() {
        let ok = [
            ("1", 1.0),
            (" 2.5 ", 2.5),
            ("3d", 3.0),
            ("-4F", -4.0),
            ("1e3", 1000.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("-Infinity", f64::NEG_INFINITY),
        ];
        for (s, v) in ok {
            assert_eq!(java_double(s), Some(v), "{s}");
        }
        assert!(java_double("NaN").is_some_and(f64::is_nan));
        for bad in ["", "abc", "inf", "nan", "1,5", "0x10", "1e", "--1", "1dd"] {
            assert_eq!(java_double(bad), None, "{bad}");
        }
    }

    #[test]
    fn mixed_types_follow_java_widening() {
        assert_eq!(compare(Value::Int(3), Value::Long(3)), Ok(Ordering::Equal));
        assert_eq!(
            compare(Value::Long(3), Value::Double(3.5)),
            Ok(Ordering::Less)
        );
        assert_eq!(
            compare(Value::Str("10"), Value::Int(9)),
            Ok(Ordering::Greater)
        );
        assert_eq!(
            compare(Value::Str("TRUE"), Value::Bool(true)),
            Ok(Ordering::Equal)
        );
        assert_eq!(
            compare(Value::Int(1), Value::Bool(true)),
            Ok(Ordering::Less)
        );
        assert!(compare(Value::Str("3000000000"), Value::Int(1)).is_err());
        assert!(compare(Value::Str("3000000000"), Value::Long(3_000_000_000)).is_ok());
        assert!(compare(Value::Bool(true), Value::Str("true")).is_err());
        assert_eq!(
            compare(Value::Double(f64::NAN), Value::Double(f64::INFINITY)),
            Ok(Ordering::Greater)
        );
        assert_eq!(
            compare(Value::Double(-0.0), Value::Double(0.0)),
            Ok(Ordering::Less)
        );
    }
}
