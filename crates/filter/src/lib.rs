//! SQL92 message filters as RocketMQ brokers evaluate them: a condition over a message's properties,
//! such as `region = 'eu' AND price BETWEEN 10 AND 20`.
//!
//! - `lexer`: tokens (case-insensitive keywords, `''` escapes, comments).
//! - `parser`: recursive descent over the grammar, with RocketMQ's typing checks and depth limits.
//! - `ast`: the compiled tree.
//! - `eval`: three-valued evaluation over a property lookup.
//! - `value`: runtime values and RocketMQ's comparison and conversion rules.
//! - `error`: [`ParseError`] (with its [`Position`]) and [`EvalError`].
//!
//! Pure: no I/O and no runtime, so brokers and clients can both compile expressions.

#![forbid(unsafe_code)]

mod ast;
mod error;
mod eval;
mod lexer;
mod parser;
mod value;

pub use error::{ErrorKind, EvalError, ParseError, Position};
pub use parser::MAX_DEPTH;

/// A compiled SQL92 filter expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    expr: ast::Expr,
}

impl Selector {
    /// Compiles `text`.
    ///
    /// # Errors
    /// A [`ParseError`] saying what was expected and where, for text that breaks the grammar or
    /// RocketMQ's typing rules, or nests deeper than [`MAX_DEPTH`].
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        parser::parse(text).map(|expr| Self { expr })
    }

    /// Whether a message with these properties is selected: only a definite true selects; unknown
    /// (NULL) results and evaluation failures (such as a non-numeric property compared with a
    /// number) do not, as on RocketMQ brokers.
    pub fn evaluate<'p>(&self, props: &impl Fn(&str) -> Option<&'p str>) -> bool {
        matches!(self.try_evaluate(props), Ok(Some(true)))
    }

    /// The three-valued result: `Some(true)`, `Some(false)`, `None` for unknown.
    ///
    /// # Errors
    /// Why RocketMQ's evaluation of this message would fail.
    pub fn try_evaluate<'p>(
        &self,
        props: &impl Fn(&str) -> Option<&'p str>,
    ) -> Result<Option<bool>, EvalError> {
        eval::eval(&self.expr, &narrow(props)).map(value::Value::truth)
    }
}

/// Values borrow from the expression or from the message; evaluation works with the shorter of the
/// two borrows.
fn narrow<'v, 'p: 'v>(
    props: &'v impl Fn(&str) -> Option<&'p str>,
) -> impl Fn(&str) -> Option<&'v str> + 'v {
    move |name| props(name)
}
