//! Evaluates a compiled tree against one message's properties, with SQL's three-valued logic: a
//! missing property is NULL, a comparison with NULL is unknown (`None`), and only a definite `true`
//! selects the message.

use crate::ast::{CmpOp, Expr, Literal, TextOp};
use crate::error::EvalError;
use crate::value::{compare, parse_double, Value};

type Result<T> = std::result::Result<T, EvalError>;

pub(crate) fn eval<'v, F>(e: &'v Expr, props: &F) -> Result<Value<'v>>
where
    F: Fn(&str) -> Option<&'v str>,
{
    Ok(match e {
        Expr::Literal(l) => literal(l),
        Expr::Property(name) => props(name).map_or(Value::Null, Value::Str),
        Expr::Negate(inner) => match eval(inner, props)? {
            Value::Int(v) => Value::Int(v.wrapping_neg()),
            Value::Long(v) => Value::Long(v.wrapping_neg()),
            Value::Double(v) => Value::Double(-v),
            // Negating a string or boolean yields NULL in RocketMQ, not an error.
            _ => Value::Null,
        },
        Expr::Not(inner) => eval(inner, props)?
            .truth()
            .map_or(Value::Null, |b| Value::Bool(!b)),
        Expr::BoolCast(inner) => match eval(inner, props)? {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            _ => Value::Bool(false),
        },
        Expr::And(items) => logic(items, props, false)?,
        Expr::Or(items) => logic(items, props, true)?,
        Expr::Compare(CmpOp::Eq, l, r) => equal(eval(l, props)?, eval(r, props)?)?,
        Expr::Compare(op, l, r) => order(*op, l, r, props)?,
        Expr::IsNull(inner) => Value::Bool(eval(inner, props)?.is_null()),
        Expr::In {
            property,
            values,
            negated,
        } => match props(property) {
            None => Value::Null,
            Some(v) => Value::Bool(values.contains(v) != *negated),
        },
        Expr::Text {
            op,
            operand,
            pattern,
            negated,
        } => text(*op, operand, pattern, *negated, props)?,
    })
}

fn literal(l: &Literal) -> Value<'_> {
    match l {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(v) => Value::Int(*v),
        Literal::Long(v) => Value::Long(*v),
        Literal::Double(v) => Value::Double(*v),
        Literal::Str(s) => Value::Str(s),
    }
}

/// AND (`stop_on` false) or OR (`stop_on` true), left to right: the first operand equal to
/// `stop_on` decides; otherwise any unknown operand makes the result unknown.
fn logic<'v, F>(items: &'v [Expr], props: &F, stop_on: bool) -> Result<Value<'v>>
where
    F: Fn(&str) -> Option<&'v str>,
{
    let mut unknown = false;
    for item in items {
        match eval(item, props)?.truth() {
            Some(b) if b == stop_on => return Ok(Value::Bool(stop_on)),
            Some(_) => {}
            None => unknown = true,
        }
    }
    Ok(if unknown {
        Value::Null
    } else {
        Value::Bool(!stop_on)
    })
}

/// `=`: NULL on the left is unknown, NULL only on the right is false, NULL on both sides is true
/// (what RocketMQ does; `a = b` with both missing holds).
fn equal<'v>(l: Value<'v>, r: Value<'v>) -> Result<Value<'v>> {
    Ok(match (l.is_null(), r.is_null()) {
        (true, true) => Value::Bool(true),
        (true, false) => Value::Null,
        (false, true) => Value::Bool(false),
        (false, false) => Value::Bool(compare(l, r)?.is_eq()),
    })
}

/// `<`, `<=`, `>`, `>=`: unknown when either side is NULL (the right side is not evaluated when the
/// left is NULL); two strings compare as numbers or fail.
fn order<'v, F>(op: CmpOp, l: &'v Expr, r: &'v Expr, props: &F) -> Result<Value<'v>>
where
    F: Fn(&str) -> Option<&'v str>,
{
    let lv = eval(l, props)?;
    if lv.is_null() {
        return Ok(Value::Null);
    }
    let rv = eval(r, props)?;
    if rv.is_null() {
        return Ok(Value::Null);
    }
    let ord = if let (Value::Str(a), Value::Str(b)) = (lv, rv) {
        let both = parse_double(a).and_then(|x| Ok((x, parse_double(b)?)));
        let (x, y) = both.map_err(|_| EvalError::StringOrdering {
            left: a.to_owned(),
            right: b.to_owned(),
        })?;
        compare(Value::Double(x), Value::Double(y))?
    } else {
        compare(lv, rv)?
    };
    Ok(Value::Bool(op.holds(ord)))
}

/// `CONTAINS` and friends are false (never unknown) for NULL, non-strings and an empty pattern,
/// negated or not.
fn text<'v, F>(
    op: TextOp,
    operand: &'v Expr,
    pattern: &str,
    negated: bool,
    props: &F,
) -> Result<Value<'v>>
where
    F: Fn(&str) -> Option<&'v str>,
{
    if pattern.is_empty() {
        return Ok(Value::Bool(false));
    }
    let Value::Str(s) = eval(operand, props)? else {
        return Ok(Value::Bool(false));
    };
    let hit = match op {
        TextOp::Contains => s.contains(pattern),
        TextOp::StartsWith => s.starts_with(pattern),
        TextOp::EndsWith => s.ends_with(pattern),
    };
    Ok(Value::Bool(hit != negated))
}
