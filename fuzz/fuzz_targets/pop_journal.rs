//! Arbitrary bytes as the POP ack journal a broker reads at start (a file a crash may have cut or
//! a disk may have garbled). Loading never panics, an offset that ended keeps no attempt, and
//! what a compaction writes reads back the same.
#![no_main]

use ferromq_broker::pop::journal::{parse_text, render_snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks a committed offset, so dropping entries below it is exercised too.
    let (committed, file) = match data.split_first() {
        Some((c, rest)) => (u64::from(*c), rest),
        None => return,
    };
    let loaded = parse_text(file, |_| Some(committed));
    for j in loaded.values() {
        assert!(j.ended.iter().all(|o| *o >= committed));
        assert!(j.attempts.keys().all(|o| *o >= committed));
        assert!(j.attempts.keys().all(|o| !j.ended.contains(o)));
    }
    let rewritten = render_snapshot(&loaded);
    let reread = parse_text(rewritten.as_bytes(), |_| None);
    assert_eq!(loaded, reread, "a compacted journal reads back differently");
});
