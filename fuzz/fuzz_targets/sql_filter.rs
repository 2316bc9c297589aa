//! Arbitrary text into the SQL92 filter compiler; whatever compiles is evaluated against a fixed
//! property set. Neither step may panic or overflow the stack.
#![no_main]

use ferromq_filter::Selector;
use libfuzzer_sys::fuzz_target;

fn props(name: &str) -> Option<&'static str> {
    match name {
        "a" => Some("5"),
        "b" => Some("abc"),
        "c" => Some("2.5"),
        "d" => Some("true"),
        _ => None,
    }
}

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(selector) = Selector::parse(text) {
        let _ = selector.try_evaluate(&props);
    }
});
