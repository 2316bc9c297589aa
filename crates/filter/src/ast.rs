//! The compiled expression tree.
//!
//! It keeps RocketMQ's distinctions that change results: `NOT x = 1` is `(NOT x) = 1`, a property
//! used as a condition is a boolean cast (true only for a boolean, which a string property never
//! is), and `IS NULL` is an equality with NULL that, unlike `=`, may see NULL on both sides.

use std::collections::BTreeSet;

/// A literal as typed by the parser.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
}

/// `<`, `<=`, `>`, `>=` and `=` (`<>` is `NOT =`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn holds(self, ord: std::cmp::Ordering) -> bool {
        match self {
            CmpOp::Eq => ord.is_eq(),
            CmpOp::Lt => ord.is_lt(),
            CmpOp::Le => ord.is_le(),
            CmpOp::Gt => ord.is_gt(),
            CmpOp::Ge => ord.is_ge(),
        }
    }
}

/// `CONTAINS`, `STARTSWITH`, `ENDSWITH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Literal(Literal),
    Property(String),
    Negate(Box<Expr>),
    Not(Box<Expr>),
    /// A property where a condition is expected.
    BoolCast(Box<Expr>),
    /// Chains of AND / OR are flat, so long chains do not deepen the tree; evaluation is left to
    /// right with the same short cuts as the nested form.
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `x IS NULL`: true when both sides are NULL, unlike `=`.
    IsNull(Box<Expr>),
    In {
        property: String,
        /// A set, so long lists cost a lookup, not a scan, per message.
        values: BTreeSet<String>,
        negated: bool,
    },
    Text {
        op: TextOp,
        operand: Box<Expr>,
        pattern: String,
        negated: bool,
    },
}

impl Expr {
    /// Whether RocketMQ types this node as a condition (`BooleanExpression`).
    pub(crate) fn is_condition(&self) -> bool {
        match self {
            Expr::Literal(l) => matches!(l, Literal::Null | Literal::Bool(_)),
            Expr::Property(_) | Expr::Negate(_) => false,
            Expr::Not(_)
            | Expr::BoolCast(_)
            | Expr::And(_)
            | Expr::Or(_)
            | Expr::Compare(..)
            | Expr::IsNull(_)
            | Expr::In { .. }
            | Expr::Text { .. } => true,
        }
    }

    /// A short rendering for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Expr::Literal(Literal::Null) => "NULL".to_owned(),
            Expr::Literal(Literal::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
            Expr::Literal(Literal::Int(v)) => v.to_string(),
            Expr::Literal(Literal::Long(v)) => v.to_string(),
            Expr::Literal(Literal::Double(v)) => v.to_string(),
            Expr::Literal(Literal::Str(s)) => format!("'{}'", s.replace('\'', "''")),
            Expr::Property(p) => format!("property {p}"),
            Expr::Negate(_) => "a negation".to_owned(),
            _ => "a condition".to_owned(),
        }
    }
}
