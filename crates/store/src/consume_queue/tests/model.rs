//! A property test: random sequences of appends, re-dispatches, truncations, retention passes and
//! reloads behave like a `Vec` of entries with a moving lower bound.

use proptest::prelude::*;

use super::{load, sim};
use crate::consume_queue::{ConsumeQueue, CqEntry};

#[derive(Debug, Clone)]
enum Op {
    /// Put the next entry (dense append).
    Append(u8),
    /// Re-put an existing offset (same entry, or a different one with `true`).
    Redo(u8, bool),
    Truncate(u8),
    Retain(u8),
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u8..12).prop_map(Op::Append),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(i, d)| Op::Redo(i, d)),
        1 => any::<u8>().prop_map(Op::Truncate),
        1 => any::<u8>().prop_map(Op::Retain),
        1 => Just(Op::Reload),
    ]
}

/// The model: `entries[i]` is queue offset `i`; offsets below `min` are not readable.
fn check(q: &ConsumeQueue, model: &[CqEntry], min: u64) {
    assert_eq!(q.max_offset(), model.len() as u64);
    assert_eq!(q.min_offset(), min);
    let from = usize::try_from(min).unwrap_or(0);
    assert_eq!(
        q.read(min, model.len() + 5).expect("read"),
        model[from..].to_vec()
    );
    let end = if (model.len() as u64) > min {
        model.last().map_or(0, CqEntry::physical_end)
    } else {
        0
    };
    assert_eq!(q.last_physical_end().expect("end"), end);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn behaves_like_a_vec(ops in proptest::collection::vec(op(), 1..40)) {
        let (layer, root) = sim();
        let mut cqs = load(&layer, &root);
        let mut q = cqs.get_or_create("T", 0).expect("create");
        let mut model: Vec<CqEntry> = Vec::new();
        let mut min = 0u64;
        // Physical offsets only grow, as in the log; `next_phys` is where the next record goes.
        let mut next_phys = 0u64;
        for op in ops {
            match op {
                Op::Append(n) => for _ in 0..n {
                    let entry = CqEntry { physical_offset: next_phys, size: 10, tag_code: 7 };
                    next_phys += 10;
                    q.put(model.len() as u64, entry).expect("append");
                    model.push(entry);
                },
                Op::Redo(i, differ) if !model.is_empty() => {
                    let at = min + u64::from(i) % (model.len() as u64 - min).max(1);
                    if at >= model.len() as u64 { continue; }
                    let idx = usize::try_from(at).unwrap_or(0);
                    let mut entry = model[idx];
                    if differ {
                        entry = CqEntry { physical_offset: next_phys, size: 10, tag_code: 8 };
                        next_phys += 10;
                        model.truncate(idx);
                        model.push(entry);
                    }
                    q.put(at, entry).expect("redo");
                }
                Op::Redo(..) => {}
                Op::Truncate(k) => {
                    let log_end = next_phys.saturating_sub(u64::from(k) * 7);
                    q.truncate_to_log_end(log_end).expect("truncate");
                    while model.len() as u64 > min && model.last().is_some_and(|e| e.physical_end() > log_end) {
                        model.pop();
                    }
                    if (model.len() as u64) <= min { min = model.len() as u64; }
                }
                Op::Retain(k) => {
                    let keep_from = next_phys.saturating_sub(u64::from(k) * 5);
                    q.delete_before_physical(keep_from).expect("retain");
                    while min < model.len() as u64 && model[usize::try_from(min).unwrap_or(0)].physical_offset < keep_from {
                        min += 1;
                    }
                }
                Op::Reload => {
                    q.flush().expect("flush");
                    cqs = load(&layer, &root);
                    q = cqs.get_or_create("T", 0).expect("reload");
                    // Retention is not persisted: re-apply it as the store does after opening.
                    let keep_from = usize::try_from(min).ok().and_then(|m| model.get(m)).map_or(next_phys, |e| e.physical_offset);
                    q.delete_before_physical(keep_from).expect("retain");
                }
            }
            check(&q, &model, min);
        }
    }
}
