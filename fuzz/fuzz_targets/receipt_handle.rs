//! Arbitrary text as a POP receipt handle (clients send them back verbatim, forged or not).
//! Whatever parses must print back to a handle that parses to the same fields.
#![no_main]

use ferromq_broker::pop::ReceiptHandle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Ok(handle) = ReceiptHandle::parse(text) {
        let printed = handle.to_string();
        let again = ReceiptHandle::parse(&printed).expect("a printed handle parses");
        assert_eq!(handle, again, "{text:?} -> {printed:?}");
    }
});
