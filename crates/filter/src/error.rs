//! Why an expression was refused, and where.

use std::fmt;

/// A place in the expression text. `line` and `column` count from 1 in characters (what an editor
/// shows); `offset` is the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub offset: usize,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// An expression that does not compile: what is wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} at {position}")]
pub struct ParseError {
    pub position: Position,
    pub kind: ErrorKind,
}

impl ParseError {
    pub(crate) fn new(position: Position, kind: ErrorKind) -> Self {
        Self { position, kind }
    }
}

/// The ways an expression can be refused; the texts follow RocketMQ's selector parser where it has
/// a rule, and say what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("unexpected character {0:?}")]
    UnexpectedChar(char),
    #[error("unterminated string literal")]
    UnterminatedString,
    #[error("unterminated comment")]
    UnterminatedComment,
    #[error("expected {expected}, found {found}")]
    Unexpected {
        expected: &'static str,
        found: String,
    },
    #[error("number {0} is out of range")]
    NumberOutOfRange(String),
    #[error("{0} does not yield a boolean value")]
    NotBoolean(String),
    #[error(
        "{0} cannot be compared with <, <=, >, >= or BETWEEN (only numbers and properties can)"
    )]
    NotOrderable(String),
    #[error("NULL cannot be compared with = or <> (use IS NULL / IS NOT NULL)")]
    NullEquality,
    #[error("{left} cannot be compared with {right}")]
    Incompatible { left: String, right: String },
    #[error("IN needs a property on its left, found {0}")]
    InWithoutProperty(String),
    #[error("BETWEEN bounds cannot be NULL")]
    NullBetween,
    #[error("BETWEEN lower bound {low} is greater than upper bound {high}")]
    BetweenBounds { low: String, high: String },
    #[error("expression nested deeper than {0} levels")]
    TooDeep(usize),
}

/// Why evaluating an expression against one message failed. RocketMQ brokers treat such a message
/// as not matching; [`crate::Selector::try_evaluate`] reports the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A property compared with a number does not parse as that number.
    #[error("{value:?} is not a valid {wanted}")]
    NotANumber { value: String, wanted: &'static str },
    /// Two strings ordered with <, >, ... that are not both numbers.
    #[error("strings {left:?} and {right:?} cannot be ordered (only numeric strings can)")]
    StringOrdering { left: String, right: String },
    /// A boolean compared with a string (a cast failure in RocketMQ).
    #[error("a boolean cannot be compared with the string {0:?}")]
    BooleanWithString(String),
}
