//! Splits an expression into tokens, following the token rules of RocketMQ's `SelectorParser.jj`:
//! case-insensitive keywords, `''` as the quote inside string literals, `--` line comments (which,
//! as there, need a line end) and `/* */` block comments.

use crate::error::{ErrorKind, ParseError, Position};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    /// Decimal integer text without its `L` suffix.
    Integer(String),
    /// Floating-point literal text.
    Float(String),
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    End,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("property {s}"),
            Tok::Str(s) => format!("string '{}'", s.replace('\'', "''")),
            Tok::Integer(s) | Tok::Float(s) => format!("number {s}"),
            Tok::End => "end of input".to_owned(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Not => "NOT",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Between => "BETWEEN",
            Tok::In => "IN",
            Tok::True => "TRUE",
            Tok::False => "FALSE",
            Tok::Null => "NULL",
            Tok::Is => "IS",
            Tok::Contains => "CONTAINS",
            Tok::StartsWith => "STARTSWITH",
            Tok::EndsWith => "ENDSWITH",
            Tok::Eq => "=",
            Tok::Ne => "<>",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Ident(_) | Tok::Str(_) | Tok::Integer(_) | Tok::Float(_) | Tok::End => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) at: Position,
}

const KEYWORDS: [(&str, Tok); 12] = [
    ("NOT", Tok::Not),
    ("AND", Tok::And),
    ("OR", Tok::Or),
    ("BETWEEN", Tok::Between),
    ("IN", Tok::In),
    ("TRUE", Tok::True),
    ("FALSE", Tok::False),
    ("NULL", Tok::Null),
    ("IS", Tok::Is),
    ("CONTAINS", Tok::Contains),
    ("STARTSWITH", Tok::StartsWith),
    ("ENDSWITH", Tok::EndsWith),
];

/// The whole token list, ending with [`Tok::End`].
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        line: 1,
        column: 1,
        last_line_break: text.rfind(['\n', '\r']),
    };
    let mut out = Vec::new();
    loop {
        lexer.skip_blanks_and_comments()?;
        let at = lexer.position();
        let Some(c) = lexer.peek() else {
            out.push(Token { tok: Tok::End, at });
            return Ok(out);
        };
        let tok = lexer.token(c, at)?;
        out.push(Token { tok, at });
    }
}

struct Lexer<'t> {
    text: &'t str,
    /// Byte offset of the next character.
    pos: usize,
    line: u32,
    column: u32,
    /// Where the text's last line break is: a `--` comment needs one after it, and looking this up
    /// once keeps a run of minus signs linear.
    last_line_break: Option<usize>,
}

impl Lexer<'_> {
    fn position(&self) -> Position {
        Position {
            offset: self.pos,
            line: self.line,
            column: self.column,
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        // "\r\n" is one line end: the '\n' starts the new line, a lone '\r' does too.
        if c == '\n' || (c == '\r' && !self.rest().starts_with('\n')) {
            self.line += 1;
            self.column = 1;
        } else if c != '\r' {
            self.column += 1;
        }
        Some(c)
    }

    fn bump_n(&mut self, bytes: usize) {
        let end = self.pos + bytes;
        while self.pos < end && self.bump().is_some() {}
    }

    fn skip_blanks_and_comments(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = self.rest();
            if rest.starts_with([' ', '\t', '\n', '\r', '\u{c}']) {
                self.bump();
            } else if rest.starts_with("--") && self.last_line_break.is_some_and(|b| b > self.pos) {
                // The grammar's line comment ends with a line break; without one, "--" is two minus signs.
                while self.bump().is_some_and(|c| c != '\n' && c != '\r') {}
            } else if let Some(after) = rest.strip_prefix("/*") {
                let at = self.position();
                let Some(end) = after.find("*/") else {
                    return Err(ParseError::new(at, ErrorKind::UnterminatedComment));
                };
                self.bump_n(end + 4);
            } else {
                return Ok(());
            }
        }
    }

    fn token(&mut self, c: char, at: Position) -> Result<Tok, ParseError> {
        if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            return Ok(self.word());
        }
        if c.is_ascii_digit()
            || (c == '.' && self.rest()[1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            return Ok(self.number());
        }
        if c == '\'' {
            return self.string(at);
        }
        let two = self.rest().get(..2);
        let (tok, len) = match (c, two) {
            (_, Some("<>")) => (Tok::Ne, 2),
            (_, Some(">=")) => (Tok::Ge, 2),
            (_, Some("<=")) => (Tok::Le, 2),
            ('=', _) => (Tok::Eq, 1),
            ('>', _) => (Tok::Gt, 1),
            ('<', _) => (Tok::Lt, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            _ => return Err(ParseError::new(at, ErrorKind::UnexpectedChar(c))),
        };
        self.bump_n(len);
        Ok(tok)
    }

    fn word(&mut self) -> Tok {
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(self.rest().len());
        let word = self.rest()[..len].to_owned();
        self.bump_n(len);
        KEYWORDS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&word))
            .map_or(Tok::Ident(word), |(_, t)| t.clone())
    }

    /// The longest of the grammar's number forms: `0`, `[1-9][0-9]*[lL]?`, `digits.digits?exp?`,
    /// `.digits exp?` and `digits exp`.
    fn number(&mut self) -> Tok {
        let b = self.rest().as_bytes();
        let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        let exponent = |from: usize| {
            let mut i = from;
            if !matches!(b.get(i), Some(b'e' | b'E')) {
                return 0;
            }
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let d = digits(i);
            if d == 0 {
                0
            } else {
                i + d - from
            }
        };
        let int_len = digits(0);
        let float_len = if b.get(int_len) == Some(&b'.') {
            let frac = digits(int_len + 1);
            if int_len == 0 && frac == 0 {
                0
            } else {
                let end = int_len + 1 + frac;
                end + exponent(end)
            }
        } else {
            match exponent(int_len) {
                0 => 0,
                e => int_len + e,
            }
        };
        let (decimal_len, suffix) = if b.first() == Some(&b'0') {
            (1, 0)
        } else {
            let s = usize::from(matches!(b.get(int_len), Some(b'l' | b'L')));
            (int_len, s)
        };
        if float_len > decimal_len + suffix {
            let text = self.rest()[..float_len].to_owned();
            self.bump_n(float_len);
            Tok::Float(text)
        } else {
            let text = self.rest()[..decimal_len].to_owned();
            self.bump_n(decimal_len + suffix);
            Tok::Integer(text)
        }
    }

    fn string(&mut self, at: Position) -> Result<Tok, ParseError> {
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => return Err(ParseError::new(at, ErrorKind::UnterminatedString)),
                Some('\'') if self.peek() == Some('\'') => {
                    self.bump();
                    value.push('\'');
                }
                Some('\'') => return Ok(Tok::Str(value)),
                Some(c) => value.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text)
            .expect("tokenizes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn numbers_take_the_longest_form() {
        let int = |s: &str| Tok::Integer(s.to_owned());
        let float = |s: &str| Tok::Float(s.to_owned());
        assert_eq!(toks("12L"), [int("12"), Tok::End]);
        assert_eq!(toks("0"), [int("0"), Tok::End]);
        assert_eq!(toks("07"), [int("0"), int("7"), Tok::End]);
        assert_eq!(toks("0L"), [int("0"), Tok::Ident("L".into()), Tok::End]);
        assert_eq!(toks("1.5e3"), [float("1.5e3"), Tok::End]);
        assert_eq!(toks("5."), [float("5."), Tok::End]);
        assert_eq!(toks(".5"), [float(".5"), Tok::End]);
        assert_eq!(toks("5E10"), [float("5E10"), Tok::End]);
        assert_eq!(toks("5E"), [int("5"), Tok::Ident("E".into()), Tok::End]);
        assert_eq!(toks("0.25"), [float("0.25"), Tok::End]);
    }

    #[test]
    fn strings_keywords_comments_and_positions() {
        assert_eq!(toks("'it''s'"), [Tok::Str("it's".into()), Tok::End]);
        assert_eq!(
            toks("not Between iN"),
            [Tok::Not, Tok::Between, Tok::In, Tok::End]
        );
        assert_eq!(toks("notes"), [Tok::Ident("notes".into()), Tok::End]);
        assert_eq!(toks("a /* x */ -- y\n= 1")[1], Tok::Eq);
        assert_eq!(toks("a --1")[1..3], [Tok::Minus, Tok::Minus]);
        let t = tokenize("a\n  = 'é'\r\n b").expect("tokenizes");
        assert_eq!((t[1].at.line, t[1].at.column), (2, 3));
        assert_eq!((t[3].at.line, t[3].at.column), (3, 2));
        let e = tokenize("a = 'x").expect_err("unterminated");
        assert_eq!(e.kind, ErrorKind::UnterminatedString);
        assert_eq!(e.position.column, 5);
        let e = tokenize("a != 1").expect_err("no !=");
        assert_eq!(e.kind, ErrorKind::UnexpectedChar('!'));
    }
}
