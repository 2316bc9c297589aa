//! RocketMQ's SQL92 filter semantics, as a table of expressions evaluated over property sets, plus the
//! compile errors and their positions.

use std::collections::HashMap;

use ferromq_filter::{ErrorKind, Selector, MAX_DEPTH};
use proptest::prelude::*;

/// Expected three-valued outcome: true, false, unknown (NULL) or an evaluation failure.
#[derive(Debug, Clone, Copy, PartialEq)]
enum R {
    T,
    F,
    N,
    E,
}

fn props() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("a", "5"),
        ("b", "10"),
        ("s", "abc"),
        ("neg", "-3"),
        ("big", "3000000000"),
        ("f", "2.5"),
        ("t", "true"),
        ("q", "it's"),
        ("TAGS", "TagA"),
        ("empty", ""),
    ])
}

fn outcome(expr: &str, p: &HashMap<&'static str, &'static str>) -> R {
    let sel = Selector::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let r = match sel.try_evaluate(&|k: &str| p.get(k).copied()) {
        Ok(Some(true)) => R::T,
        Ok(Some(false)) => R::F,
        Ok(None) => R::N,
        Err(_) => R::E,
    };
    // Only a definite true selects a message.
    assert_eq!(
        sel.evaluate(&|k: &str| p.get(k).copied()),
        r == R::T,
        "{expr}"
    );
    r
}

#[test]
fn expressions_against_a_property_set() {
    use R::{E, F, N, T};
    let table: &[(&str, R)] = &[
        // Numbers: a property compared with a number is converted to that number's type.
        ("a = 5", T),
        ("a = 5.0", T),
        ("a = 5L", T),
        ("a <> 5", F),
        ("a > 4", T),
        ("a >= 5", T),
        ("a < 5", F),
        ("a <= 5", T),
        ("a > +4", T),
        ("b = 10.0", T),
        ("b > 9.99", T),
        ("neg = -3", T),
        ("neg < 0", T),
        ("f > 2.0", T),
        // "2.5" is not a 32-bit integer: evaluation fails, the message is not selected.
        ("f > 2", E),
        // Literals that fit 32 bits are 32-bit, even with an L suffix; wider ones are 64-bit.
        ("big = 3000000000", T),
        ("big > 2147483648", T),
        ("big = 5", E),
        ("big > 2147483647L", E),
        // Strings: equality is exact; two strings are ordered only as numbers.
        ("a = '5'", T),
        ("a = '5.0'", F),
        ("s = 'abc'", T),
        ("s = 'ABC'", F),
        ("b > a", T),
        ("s > a", E),
        ("s = 1", E),
        ("s > 1", E),
        ("q = 'it''s'", T),
        ("empty = ''", T),
        ("TAGS = 'TagA'", T),
        // Booleans: a string property equals TRUE when it reads "true"; as a condition on its own
        // a property is never true (it is a string), only NULL when missing.
        ("t = TRUE", T),
        ("t = FALSE", F),
        ("t", F),
        ("NOT t", T),
        ("missing", N),
        ("TRUE", T),
        ("FALSE", F),
        ("NULL", N),
        ("NOT NULL", N),
        ("1 = TRUE", F),
        ("a = 5 = TRUE", T),
        // NULL: a missing property makes comparisons unknown.
        ("missing = 1", N),
        ("missing <> 1", N),
        ("missing > 1", N),
        ("1 = missing", F),
        ("missing = a", N),
        ("a = missing", F),
        ("missing = other", T),
        ("-s = 1", N),
        ("missing IS NULL", T),
        ("missing IS NOT NULL", F),
        ("a IS NULL", F),
        ("a IS NOT NULL", T),
        ("empty IS NULL", F),
        ("NOT (missing = 1)", N),
        ("missing = 1 OR a = 5", T),
        ("missing = 1 OR a = 6", N),
        ("missing = 1 AND a = 5", N),
        ("missing = 1 AND a = 6", F),
        ("s = 1 OR a = 5", E),
        ("a = 6 AND s = 1", F),
        // BETWEEN and IN.
        ("a BETWEEN 1 AND 5", T),
        ("a BETWEEN 5.5 AND 10", F),
        ("a NOT BETWEEN 6 AND 10", T),
        ("a NOT BETWEEN 1 AND 10", F),
        ("missing BETWEEN 1 AND 5", N),
        ("a BETWEEN -1 AND -5", F),
        ("s IN ('x', 'abc')", T),
        ("s NOT IN ('x', 'abc')", F),
        ("a IN ('5')", T),
        ("missing IN ('x')", N),
        ("missing NOT IN ('x')", N),
        // CONTAINS / STARTSWITH / ENDSWITH: false (not unknown) on NULL and empty patterns.
        ("s CONTAINS 'b'", T),
        ("s NOT CONTAINS 'b'", F),
        ("s STARTSWITH 'ab'", T),
        ("s NOT STARTSWITH 'ab'", F),
        ("s ENDSWITH 'bc'", T),
        ("s ENDSWITH 'ab'", F),
        ("s CONTAINS ''", F),
        ("s NOT CONTAINS ''", F),
        ("missing CONTAINS 'b'", F),
        ("missing NOT CONTAINS 'b'", F),
        ("NOT (missing CONTAINS 'b')", T),
        // Precedence and case.
        ("a = 5 OR a = 6 AND b = 1", T),
        ("(a = 5 OR a = 6) AND b = 1", F),
        ("NOT a = 6", F),
        ("NOT (a = 6)", T),
        ("a between 1 and 5 aNd s In ('abc') or FALSE", T),
        ("s is not null", T),
        ("a = 5 /* note */ -- trailing\n", T),
        ("a\r\n=\t5", T),
    ];
    let p = props();
    let failures: Vec<String> = table
        .iter()
        .filter_map(|&(expr, want)| {
            let got = outcome(expr, &p);
            (got != want).then(|| format!("{expr:?}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn an_empty_property_set_is_all_null() {
    let none = HashMap::new();
    assert_eq!(outcome("a > 1 OR b IN ('x')", &none), R::N);
    assert_eq!(outcome("a IS NULL AND b IS NULL", &none), R::T);
}

/// Which error kind a case expects.
type KindCheck = fn(&ErrorKind) -> bool;

#[test]
fn bad_expressions_name_the_problem_and_its_place() {
    let cases: &[(&str, KindCheck, u32, u32)] = &[
        ("", |k| matches!(k, ErrorKind::Unexpected { .. }), 1, 1),
        ("a >", |k| matches!(k, ErrorKind::Unexpected { .. }), 1, 4),
        (
            "a = 1 b",
            |k| matches!(k, ErrorKind::Unexpected { .. }),
            1,
            7,
        ),
        (
            "a NOT LIKE 'x'",
            |k| matches!(k, ErrorKind::Unexpected { .. }),
            1,
            3,
        ),
        (
            "a IS 5",
            |k| matches!(k, ErrorKind::Unexpected { .. }),
            1,
            6,
        ),
        (
            "a IN (1, 2)",
            |k| matches!(k, ErrorKind::Unexpected { .. }),
            1,
            7,
        ),
        (
            "a\n  AND",
            |k| matches!(k, ErrorKind::Unexpected { .. }),
            2,
            6,
        ),
        ("a = NULL", |k| *k == ErrorKind::NullEquality, 1, 5),
        ("NULL <> a", |k| *k == ErrorKind::NullEquality, 1, 1),
        (
            "TRUE = 1",
            |k| matches!(k, ErrorKind::Incompatible { .. }),
            1,
            1,
        ),
        ("s > 'a'", |k| matches!(k, ErrorKind::NotOrderable(_)), 1, 5),
        (
            "a < TRUE",
            |k| matches!(k, ErrorKind::NotOrderable(_)),
            1,
            5,
        ),
        (
            "(a = 1) > 2",
            |k| matches!(k, ErrorKind::NotOrderable(_)),
            1,
            2,
        ),
        (
            "NOT a > 1",
            |k| matches!(k, ErrorKind::NotOrderable(_)),
            1,
            1,
        ),
        (
            "a BETWEEN 5 AND 1",
            |k| matches!(k, ErrorKind::BetweenBounds { .. }),
            1,
            11,
        ),
        (
            "a BETWEEN NULL AND 1",
            |k| *k == ErrorKind::NullBetween,
            1,
            11,
        ),
        (
            "5 IN ('a')",
            |k| matches!(k, ErrorKind::InWithoutProperty(_)),
            1,
            3,
        ),
        ("'abc'", |k| matches!(k, ErrorKind::NotBoolean(_)), 1, 1),
        ("5", |k| matches!(k, ErrorKind::NotBoolean(_)), 1, 1),
        ("NOT 5", |k| matches!(k, ErrorKind::NotBoolean(_)), 1, 5),
        (
            "a = 1 AND 'x'",
            |k| matches!(k, ErrorKind::NotBoolean(_)),
            1,
            11,
        ),
        ("a = 'x", |k| *k == ErrorKind::UnterminatedString, 1, 5),
        ("a = 1 /* x", |k| *k == ErrorKind::UnterminatedComment, 1, 7),
        ("a != 1", |k| *k == ErrorKind::UnexpectedChar('!'), 1, 3),
        (
            "a = 99999999999999999999",
            |k| matches!(k, ErrorKind::NumberOutOfRange(_)),
            1,
            5,
        ),
        (
            "a > 1e999",
            |k| matches!(k, ErrorKind::NumberOutOfRange(_)),
            1,
            5,
        ),
    ];
    for &(expr, kind, line, column) in cases {
        let e = Selector::parse(expr).expect_err(expr);
        assert!(kind(&e.kind), "{expr:?}: unexpected error {e}");
        assert_eq!(
            (e.position.line, e.position.column),
            (line, column),
            "{expr:?}: {e}"
        );
    }
    let e = Selector::parse("a = NULL").expect_err("NULL equality");
    assert_eq!(
        e.to_string(),
        "NULL cannot be compared with = or <> (use IS NULL / IS NOT NULL) at line 1, column 5"
    );
    let e = Selector::parse("a > 1 AND").expect_err("dangling AND");
    assert_eq!(
        e.to_string(),
        "expected a literal, a property name or '(', found end of input at line 1, column 10"
    );
}

#[test]
fn nesting_is_bounded_but_long_flat_chains_are_fine() {
    let deep = format!(
        "{}a = 1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let e = Selector::parse(&deep).expect_err("too deep");
    assert_eq!(e.kind, ErrorKind::TooDeep(MAX_DEPTH));
    let chained = format!("a{}", " IS NULL".repeat(MAX_DEPTH + 1));
    assert_eq!(
        Selector::parse(&chained).expect_err("too deep").kind,
        ErrorKind::TooDeep(MAX_DEPTH)
    );
    let nots = format!("{}TRUE", "NOT ".repeat(100_000));
    assert!(Selector::parse(&nots).is_err());
    let ok = format!("{}a = 5{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(outcome(&ok, &props()), R::T);

    let many: Vec<String> = (0..10_000).map(|i| format!("a = {i}")).collect();
    assert_eq!(outcome(&many.join(" OR "), &props()), R::T);
    let list: Vec<String> = (0..10_000).map(|i| format!("'v{i}'")).collect();
    let p = HashMap::from([("k", "v9999")]);
    assert_eq!(outcome(&format!("k IN ({})", list.join(",")), &p), R::T);
}

/// Fragments that make random but plausible expressions.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "b",
        "s",
        "(",
        ")",
        "=",
        "<>",
        ">",
        ">=",
        "<",
        "<=",
        "AND",
        "OR",
        "NOT",
        "IS",
        "NULL",
        "TRUE",
        "FALSE",
        "BETWEEN",
        "IN",
        "CONTAINS",
        "STARTSWITH",
        "ENDSWITH",
        ",",
        "+",
        "-",
        "1",
        "2L",
        "3.5",
        ".5e3",
        "'x'",
        "'it''s'",
        "'",
        "--",
        "/*",
        "*/",
        "\n",
        "é",
        "99999999999999999999",
    ])
}

proptest! {
    #[test]
    fn random_text_never_panics(text in "\\PC{0,64}") {
        let _ = Selector::parse(&text);
    }

    #[test]
    fn random_token_soup_never_panics(parts in prop::collection::vec(fragment(), 0..24)) {
        let text = parts.join(" ");
        if let Ok(sel) = Selector::parse(&text) {
            let p = props();
            let _ = sel.try_evaluate(&|k: &str| p.get(k).copied());
        }
    }
}
