//! Recursive-descent parser for RocketMQ's SQL92 selector grammar (`SelectorParser.jj`), with the
//! type checks RocketMQ applies while building the tree.
//!
//! Hand-written rather than generated: the grammar is six precedence levels, RocketMQ's typing rules
//! run while nodes are built and need the operator's position for the error, recursion must be
//! bounded for hostile input, and the crate stays free of dependencies beyond `thiserror`.
//!
//! Precedence, loosest first: `OR`; `AND`; `=`, `<>`, `IS [NOT] NULL`; `<`, `<=`, `>`, `>=`,
//! `[NOT] BETWEEN`, `[NOT] IN`, `[NOT] CONTAINS|STARTSWITH|ENDSWITH`; unary `+`, `-`, `NOT`.
//! Unlike RocketMQ, trailing text after a complete expression is an error instead of being ignored.

use std::collections::BTreeSet;

use crate::ast::{CmpOp, Expr, Literal, TextOp};
use crate::error::{ErrorKind, ParseError, Position};
use crate::lexer::{tokenize, Tok, Token};
use crate::value::{compare, Value};

/// Deepest nesting accepted, both while parsing (parentheses, unary operators) and in the built tree
/// (chains such as `a IS NULL IS NULL ...`); it bounds the stack used by parsing and evaluation.
pub const MAX_DEPTH: usize = 64;

/// A subtree with where it starts and how tall it is.
struct Node {
    expr: Expr,
    at: Position,
    height: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

pub(crate) fn parse(text: &str) -> Result<Expr> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        next: 0,
        depth: 0,
    };
    let node = p.or()?;
    if p.peek() != &Tok::End {
        return Err(p.unexpected("AND, OR, an operator or the end of the expression"));
    }
    Ok(condition(node)?.expr)
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    depth: usize,
}

impl Parser {
    fn token(&self, ahead: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.next + ahead).min(last)]
    }

    fn peek(&self) -> &Tok {
        &self.token(0).tok
    }

    fn at(&self) -> Position {
        self.token(0).at
    }

    fn bump(&mut self) -> Tok {
        let t = self.token(0).tok.clone();
        if self.next < self.tokens.len() - 1 {
            self.next += 1;
        }
        t
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        ParseError::new(
            self.at(),
            ErrorKind::Unexpected {
                expected,
                found: self.peek().describe(),
            },
        )
    }

    fn expect(&mut self, tok: &Tok, expected: &'static str) -> Result<()> {
        if self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.peek() {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.unexpected("a string literal")),
        }
    }

    fn or(&mut self) -> Result<Node> {
        self.chain(&Tok::Or, Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Node> {
        self.chain(&Tok::And, Self::equality, Expr::And)
    }

    /// `item (sep item)*`, flattened into one node when there is more than one item.
    fn chain(
        &mut self,
        sep: &Tok,
        item: fn(&mut Self) -> Result<Node>,
        make: fn(Vec<Expr>) -> Expr,
    ) -> Result<Node> {
        let first = item(self)?;
        if self.peek() != sep {
            return Ok(first);
        }
        let at = first.at;
        let mut height = 0;
        let mut items = Vec::new();
        let mut push = |n: Node| -> Result<()> {
            let n = condition(n)?;
            height = height.max(n.height);
            items.push(n.expr);
            Ok(())
        };
        push(first)?;
        while self.peek() == sep {
            self.bump();
            push(item(self)?)?;
        }
        build(make(items), at, height)
    }

    fn equality(&mut self) -> Result<Node> {
        let mut left = self.comparison()?;
        loop {
            let op_at = self.at();
            left = match self.peek() {
                Tok::Eq | Tok::Ne => {
                    let negated = self.bump() == Tok::Ne;
                    let right = self.comparison()?;
                    check_equality(&left, &right)?;
                    let h = left.height.max(right.height);
                    let eq = build(
                        Expr::Compare(CmpOp::Eq, Box::new(left.expr), Box::new(right.expr)),
                        left.at,
                        h,
                    )?;
                    if negated {
                        build(Expr::Not(Box::new(eq.expr)), eq.at, eq.height)?
                    } else {
                        eq
                    }
                }
                Tok::Is => {
                    self.bump();
                    let negated = self.peek() == &Tok::Not;
                    if negated {
                        self.bump();
                    }
                    self.expect(&Tok::Null, "NULL or NOT NULL")?;
                    let is_null = build(Expr::IsNull(Box::new(left.expr)), op_at, left.height)?;
                    if negated {
                        build(Expr::Not(Box::new(is_null.expr)), op_at, is_null.height)?
                    } else {
                        is_null
                    }
                }
                _ => return Ok(left),
            };
        }
    }

    fn comparison(&mut self) -> Result<Node> {
        let mut left = self.unary()?;
        loop {
            let op_at = self.at();
            let negated = self.peek() == &Tok::Not
                && matches!(
                    self.token(1).tok,
                    Tok::Contains | Tok::StartsWith | Tok::EndsWith | Tok::Between | Tok::In
                );
            if negated {
                self.bump();
            }
            let op = match self.peek() {
                Tok::Gt => CmpOp::Gt,
                Tok::Ge => CmpOp::Ge,
                Tok::Lt => CmpOp::Lt,
                Tok::Le => CmpOp::Le,
                Tok::Contains => {
                    left = self.text(left, TextOp::Contains, negated)?;
                    continue;
                }
                Tok::StartsWith => {
                    left = self.text(left, TextOp::StartsWith, negated)?;
                    continue;
                }
                Tok::EndsWith => {
                    left = self.text(left, TextOp::EndsWith, negated)?;
                    continue;
                }
                Tok::Between => {
                    left = self.between(left, negated)?;
                    continue;
                }
                Tok::In => {
                    left = self.in_list(left, negated, op_at)?;
                    continue;
                }
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary()?;
            check_orderable(&left)?;
            check_orderable(&right)?;
            let h = left.height.max(right.height);
            left = build(
                Expr::Compare(op, Box::new(left.expr), Box::new(right.expr)),
                left.at,
                h,
            )?;
        }
    }

    fn text(&mut self, left: Node, op: TextOp, negated: bool) -> Result<Node> {
        self.bump();
        let pattern = self.string()?;
        build(
            Expr::Text {
                op,
                operand: Box::new(left.expr),
                pattern,
                negated,
            },
            left.at,
            left.height,
        )
    }

    /// `v BETWEEN low AND high` is `v >= low AND v <= high`; `NOT BETWEEN` is `v < low OR v > high`.
    fn between(&mut self, value: Node, negated: bool) -> Result<Node> {
        self.bump();
        let low = self.unary()?;
        self.expect(&Tok::And, "AND")?;
        let high = self.unary()?;
        if let (Expr::Literal(l), Expr::Literal(h)) = (&low.expr, &high.expr) {
            check_bounds(l, h, low.at)?;
        }
        for n in [&value, &low, &high] {
            check_orderable(n)?;
        }
        let (lo_op, hi_op) = if negated {
            (CmpOp::Lt, CmpOp::Gt)
        } else {
            (CmpOp::Ge, CmpOp::Le)
        };
        let h = value.height.max(low.height).max(high.height) + 1;
        let parts = vec![
            Expr::Compare(lo_op, Box::new(value.expr.clone()), Box::new(low.expr)),
            Expr::Compare(hi_op, Box::new(value.expr), Box::new(high.expr)),
        ];
        let expr = if negated {
            Expr::Or(parts)
        } else {
            Expr::And(parts)
        };
        build(expr, value.at, h)
    }

    fn in_list(&mut self, left: Node, negated: bool, op_at: Position) -> Result<Node> {
        self.bump();
        self.expect(&Tok::LParen, "'('")?;
        let mut values = BTreeSet::from([self.string()?]);
        while self.peek() == &Tok::Comma {
            self.bump();
            values.insert(self.string()?);
        }
        self.expect(&Tok::RParen, "',' or ')'")?;
        let Expr::Property(property) = left.expr else {
            return Err(ParseError::new(
                op_at,
                ErrorKind::InWithoutProperty(left.expr.describe()),
            ));
        };
        build(
            Expr::In {
                property,
                values,
                negated,
            },
            left.at,
            left.height,
        )
    }

    fn unary(&mut self) -> Result<Node> {
        let at = self.at();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(at, ErrorKind::TooDeep(MAX_DEPTH)));
        }
        let node = match self.peek() {
            Tok::Plus => {
                self.bump();
                self.unary()
            }
            Tok::Minus => {
                self.bump();
                let inner = self.unary()?;
                build(Expr::Negate(Box::new(inner.expr)), at, inner.height)
            }
            Tok::Not => {
                self.bump();
                let inner = condition(self.unary()?)?;
                build(Expr::Not(Box::new(inner.expr)), at, inner.height)
            }
            _ => self.primary(),
        };
        self.depth -= 1;
        node
    }

    fn primary(&mut self) -> Result<Node> {
        let at = self.at();
        let literal = match self.peek() {
            Tok::Str(s) => Literal::Str(s.clone()),
            Tok::Integer(text) => integer(text, at)?,
            Tok::Float(text) => float(text, at)?,
            Tok::True => Literal::Bool(true),
            Tok::False => Literal::Bool(false),
            Tok::Null => Literal::Null,
            Tok::Ident(name) => {
                let expr = Expr::Property(name.clone());
                self.bump();
                return build(expr, at, 0);
            }
            Tok::LParen => {
                self.bump();
                let inner = self.or()?;
                self.expect(&Tok::RParen, "')'")?;
                return Ok(inner);
            }
            _ => return Err(self.unexpected("a literal, a property name or '('")),
        };
        self.bump();
        build(Expr::Literal(literal), at, 0)
    }
}

/// A node over children at most `child_height` tall.
fn build(expr: Expr, at: Position, child_height: usize) -> Result<Node> {
    let height = child_height + 1;
    if height > MAX_DEPTH {
        return Err(ParseError::new(at, ErrorKind::TooDeep(MAX_DEPTH)));
    }
    Ok(Node { expr, at, height })
}

/// RocketMQ's `asBooleanExpression`: conditions pass, a property is cast, anything else is refused.
fn condition(n: Node) -> Result<Node> {
    if n.expr.is_condition() {
        return Ok(n);
    }
    if matches!(n.expr, Expr::Property(_)) {
        return build(Expr::BoolCast(Box::new(n.expr)), n.at, n.height);
    }
    Err(ParseError::new(
        n.at,
        ErrorKind::NotBoolean(n.expr.describe()),
    ))
}

/// `=` and `<>` refuse a NULL literal on either side and `TRUE`/`FALSE` = non-boolean literal.
fn check_equality(left: &Node, right: &Node) -> Result<()> {
    for n in [left, right] {
        if n.expr == Expr::Literal(Literal::Null) {
            return Err(ParseError::new(n.at, ErrorKind::NullEquality));
        }
    }
    if let (Expr::Literal(Literal::Bool(_)), Expr::Literal(r)) = (&left.expr, &right.expr) {
        if !matches!(r, Literal::Bool(_)) {
            return Err(ParseError::new(
                left.at,
                ErrorKind::Incompatible {
                    left: left.expr.describe(),
                    right: right.expr.describe(),
                },
            ));
        }
    }
    Ok(())
}

/// Operands of `<`, `>`, ... and `BETWEEN`: number literals, properties and negations only.
fn check_orderable(n: &Node) -> Result<()> {
    let ok = match &n.expr {
        Expr::Literal(l) => matches!(l, Literal::Int(_) | Literal::Long(_) | Literal::Double(_)),
        other => !other.is_condition(),
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(
            n.at,
            ErrorKind::NotOrderable(n.expr.describe()),
        ))
    }
}

/// Literal `BETWEEN` bounds must be non-NULL and in order.
fn check_bounds(low: &Literal, high: &Literal, at: Position) -> Result<()> {
    let (Some(l), Some(h)) = (numeric(low), numeric(high)) else {
        if matches!(low, Literal::Null) || matches!(high, Literal::Null) {
            return Err(ParseError::new(at, ErrorKind::NullBetween));
        }
        return Ok(());
    };
    if compare(h, l).is_ok_and(std::cmp::Ordering::is_lt) {
        return Err(ParseError::new(
            at,
            ErrorKind::BetweenBounds {
                low: Expr::Literal(low.clone()).describe(),
                high: Expr::Literal(high.clone()).describe(),
            },
        ));
    }
    Ok(())
}

fn numeric(l: &Literal) -> Option<Value<'_>> {
    match l {
        Literal::Int(v) => Some(Value::Int(*v)),
        Literal::Long(v) => Some(Value::Long(*v)),
        Literal::Double(v) => Some(Value::Double(*v)),
        _ => None,
    }
}

/// Decimal literals are 64-bit, narrowed to 32 bits when they fit (as RocketMQ does).
fn integer(text: &str, at: Position) -> Result<Literal> {
    let v: i64 = text
        .parse()
        .map_err(|_| ParseError::new(at, ErrorKind::NumberOutOfRange(text.to_owned())))?;
    Ok(i32::try_from(v).map_or(Literal::Long(v), Literal::Int))
}

/// RocketMQ refuses a floating literal above `f64::MAX`. (It also refuses `0.0`, being compared
/// with the smallest positive double; that is a bug we do not copy.)
fn float(text: &str, at: Position) -> Result<Literal> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Literal::Double(v)),
        _ => Err(ParseError::new(
            at,
            ErrorKind::NumberOutOfRange(text.to_owned()),
        )),
    }
}
