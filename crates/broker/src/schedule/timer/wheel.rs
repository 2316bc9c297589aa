//! The in-memory side of the timing wheel: for each slot, where its chain of timer-log entries
//! starts and ends. 24 bytes per slot whatever the number of timers; the entries are on disk.
//!
//! Every pending entry's slot lies in `[cursor, cursor + span)`, so slot indices never collide;
//! `slot_ms` in each head tells a live chain from a leftover of an earlier turn of the wheel.

use super::log::NONE;

#[derive(Debug, Clone, Copy)]
struct Head {
    slot_ms: i64,
    first: u64,
    last: u64,
}

const EMPTY: Head = Head {
    slot_ms: i64::MIN,
    first: NONE,
    last: NONE,
};

#[derive(Debug)]
pub(crate) struct Wheel {
    precision_ms: i64,
    heads: Vec<Head>,
}

impl Wheel {
    pub(crate) fn new(slots: usize, precision_ms: i64) -> Self {
        Self {
            precision_ms,
            heads: vec![EMPTY; slots.max(1)],
        }
    }

    /// Time covered by the wheel.
    pub(crate) fn span_ms(&self) -> i64 {
        i64::try_from(self.heads.len()).unwrap_or(i64::MAX) * self.precision_ms
    }

    /// Start of the slot holding `t`.
    pub(crate) fn slot_of(&self, t: i64) -> i64 {
        t.div_euclid(self.precision_ms) * self.precision_ms
    }

    fn index(&self, slot_ms: i64) -> usize {
        let n = i64::try_from(self.heads.len()).unwrap_or(i64::MAX);
        usize::try_from(slot_ms.div_euclid(self.precision_ms).rem_euclid(n)).unwrap_or(0)
    }

    /// Chains the entry at `pos` into `slot_ms`; returns the previous last entry (the new
    /// entry's `prev`).
    pub(crate) fn link(&mut self, slot_ms: i64, pos: u64) -> u64 {
        let i = self.index(slot_ms);
        let h = &mut self.heads[i];
        if h.slot_ms == slot_ms {
            let prev = h.last;
            h.last = pos;
            prev
        } else {
            *h = Head {
                slot_ms,
                first: pos,
                last: pos,
            };
            NONE
        }
    }

    /// The last entry chained into `slot_ms`, if any.
    pub(crate) fn last(&self, slot_ms: i64) -> Option<u64> {
        let h = self.heads[self.index(slot_ms)];
        (h.slot_ms == slot_ms).then_some(h.last)
    }

    /// Forgets `slot_ms` once all its entries are delivered.
    pub(crate) fn clear(&mut self, slot_ms: i64) {
        let i = self.index(slot_ms);
        if self.heads[i].slot_ms == slot_ms {
            self.heads[i] = EMPTY;
        }
    }

    /// The oldest log position a pending slot (at or after `cursor`) still needs.
    pub(crate) fn oldest_needed(&self, cursor: i64) -> Option<u64> {
        self.heads
            .iter()
            .filter(|h| h.slot_ms >= cursor)
            .map(|h| h.first)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_per_slot_and_tells_turns_apart() {
        let mut w = Wheel::new(4, 100);
        assert_eq!(w.span_ms(), 400);
        assert_eq!(w.slot_of(1234), 1200);
        assert_eq!(w.slot_of(-1), -100);
        assert_eq!(w.link(1200, 0), NONE);
        assert_eq!(w.link(1200, 40), 0);
        assert_eq!(w.link(1300, 80), NONE);
        assert_eq!(w.last(1200), Some(40));
        // 1600 shares 1200's index but is a later turn.
        assert_eq!(w.last(1600), None);
        assert_eq!(w.oldest_needed(1200), Some(0));
        assert_eq!(w.oldest_needed(1250), Some(80));
        w.clear(1200);
        assert_eq!(w.last(1200), None);
        w.clear(1300);
        assert_eq!(w.oldest_needed(0), None);
    }
}
