//! The bookkeeping of `bench pop-crash`: which messages still have to be sent, which were
//! confirmed, how often each was delivered, which were acked; and the bodies themselves, each
//! unique and reproducible from its sequence number, so every delivery is checked byte for byte.

use std::collections::VecDeque;

use parking_lot::Mutex;

const MAGIC: &[u8; 8] = b"POPCRASH";
/// Magic, run id, sequence number.
const HEADER: usize = 24;
/// The smallest body: the header and some bytes to check.
pub const MIN_BODY: usize = HEADER + 8;

/// The body of message `seq` of run `run`: the header, then bytes derived from both.
pub fn body(run: u64, seq: u64, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&run.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    let mut state = run ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    while out.len() < size {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(size);
    out
}

/// What a received body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Message `seq` of this run, byte for byte.
    Intact(u64),
    /// Claims to be one of this run's but its bytes differ (or its number is out of range).
    Corrupt,
    /// Not this run's.
    Foreign,
}

#[derive(Debug, Default)]
struct State {
    to_send: VecDeque<u64>,
    confirmed: Vec<bool>,
    deliveries: Vec<u32>,
    acked: Vec<bool>,
    /// Acks sent whose answer never came (the broker died): the broker may have taken them.
    ack_in_doubt: Vec<bool>,
    acked_count: u64,
    /// When an ack was last cut off.
    last_doubt: Option<std::time::Instant>,
    confirmed_count: u64,
    delivered_count: u64,
    redeliveries: u64,
    resends: u64,
    corrupt: u64,
    foreign: u64,
}

/// The run's ledger, shared by the sending and receiving tasks.
#[derive(Debug)]
pub struct Ledger {
    run: u64,
    size: usize,
    total: u64,
    state: Mutex<State>,
}

/// The counts at the end (or at any moment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub messages: u64,
    /// Sends the broker confirmed.
    pub confirmed: u64,
    /// Distinct messages received at least once.
    pub delivered: u64,
    /// Receipts of a message already received before (POP redelivery, or a resent copy).
    pub redelivered: u64,
    /// Sends repeated because the first attempt's outcome was unknown (the broker died).
    pub resent: u64,
    /// Distinct messages acked.
    pub acked: u64,
    /// Messages whose last ack was cut off by a kill and that did not come back: the broker took
    /// the ack before it died (a message whose ack it had not taken comes back after its invisible
    /// time and is acked then).
    pub ack_cut_off: u64,
    /// Confirmed sends never delivered.
    pub lost: u64,
    /// Deliveries whose body was not the one sent.
    pub corrupt: u64,
    /// Deliveries of other runs' messages.
    pub foreign: u64,
}

impl Ledger {
    pub fn new(run: u64, total: u64, size: usize) -> Ledger {
        let n = usize::try_from(total).expect("the message count fits in memory");
        Ledger {
            run,
            size,
            total,
            state: Mutex::new(State {
                to_send: (0..total).collect(),
                confirmed: vec![false; n],
                deliveries: vec![0; n],
                acked: vec![false; n],
                ack_in_doubt: vec![false; n],
                ..State::default()
            }),
        }
    }

    pub fn body(&self, seq: u64) -> Vec<u8> {
        body(self.run, seq, self.size)
    }

    /// The next message to send, if any is left.
    pub fn next_to_send(&self) -> Option<u64> {
        self.state.lock().to_send.pop_front()
    }

    /// The broker confirmed `seq`'s send.
    pub fn confirmed(&self, seq: u64) {
        let mut s = self.state.lock();
        let slot = &mut s.confirmed[seq as usize];
        if !*slot {
            *slot = true;
            s.confirmed_count += 1;
        }
    }

    /// `seq`'s send failed or its answer was lost: send it again (it may be stored twice).
    pub fn send_again(&self, seq: u64) {
        let mut s = self.state.lock();
        s.resends += 1;
        s.to_send.push_back(seq);
    }

    /// Checks a delivered body and counts it.
    pub fn delivered(&self, body: &[u8]) -> Check {
        let check = self.check(body);
        let mut s = self.state.lock();
        match check {
            Check::Intact(seq) => {
                let n = &mut s.deliveries[seq as usize];
                *n += 1;
                if *n == 1 {
                    s.delivered_count += 1;
                } else {
                    s.redeliveries += 1;
                }
            }
            Check::Corrupt => s.corrupt += 1,
            Check::Foreign => s.foreign += 1,
        }
        check
    }

    fn check(&self, body: &[u8]) -> Check {
        if body.len() < HEADER || &body[..8] != MAGIC {
            return Check::Foreign;
        }
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[at..at + 8]);
            u64::from_le_bytes(b)
        };
        if word(8) != self.run {
            return Check::Foreign;
        }
        let seq = word(16);
        if seq >= self.total || body != self.body(seq).as_slice() {
            return Check::Corrupt;
        }
        Check::Intact(seq)
    }

    /// The broker accepted the ack of `seq`.
    pub fn acked(&self, seq: u64) {
        let mut s = self.state.lock();
        let slot = &mut s.acked[seq as usize];
        if !*slot {
            *slot = true;
            s.acked_count += 1;
        }
    }

    /// Whether every message has been acked.
    pub fn all_acked(&self) -> bool {
        self.state.lock().acked_count == self.total
    }

    /// The ack of `seq` was sent but its answer was cut off by a kill: the broker may have taken
    /// it (then the message never comes back) or not (then it comes back once its invisible time
    /// has passed, and is acked again).
    pub fn ack_cut_off(&self, seq: u64) {
        let mut s = self.state.lock();
        if !s.acked[seq as usize] {
            s.ack_in_doubt[seq as usize] = true;
            s.last_doubt = Some(std::time::Instant::now());
        }
    }

    /// Whether every message is acked or had its ack cut off, the last cut no later than `since`.
    pub fn all_acked_or_in_doubt_since(&self, since: std::time::Instant) -> bool {
        let s = self.state.lock();
        s.last_doubt.is_none_or(|at| at <= since)
            && s.acked.iter().zip(&s.ack_in_doubt).all(|(a, d)| *a || *d)
    }

    pub fn acked_count(&self) -> u64 {
        self.state.lock().acked_count
    }

    pub fn counts(&self) -> Counts {
        let s = self.state.lock();
        let lost = s
            .confirmed
            .iter()
            .zip(&s.deliveries)
            .filter(|(c, d)| **c && **d == 0)
            .count() as u64;
        Counts {
            messages: self.total,
            confirmed: s.confirmed_count,
            delivered: s.delivered_count,
            redelivered: s.redeliveries,
            resent: s.resends,
            acked: s.acked_count,
            ack_cut_off: s
                .acked
                .iter()
                .zip(&s.ack_in_doubt)
                .filter(|(a, d)| !**a && **d)
                .count() as u64,
            lost,
            corrupt: s.corrupt,
            foreign: s.foreign,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_unique_reproducible_and_checked_byte_for_byte() {
        let ledger = Ledger::new(7, 3, 64);
        assert_eq!(ledger.body(1), body(7, 1, 64));
        assert_ne!(ledger.body(1)[HEADER..], ledger.body(2)[HEADER..]);
        assert_eq!(ledger.delivered(&ledger.body(2)), Check::Intact(2));
        let mut bad = ledger.body(1);
        bad[40] ^= 1;
        assert_eq!(ledger.delivered(&bad), Check::Corrupt);
        assert_eq!(ledger.delivered(&body(8, 1, 64)), Check::Foreign);
        assert_eq!(
            ledger.delivered(&body(7, 3, 64)),
            Check::Corrupt,
            "out of range"
        );
        assert_eq!(ledger.delivered(b"short"), Check::Foreign);
    }

    #[test]
    fn an_ack_cut_off_stays_in_doubt_until_acked() {
        let ledger = Ledger::new(1, 2, MIN_BODY);
        let start = std::time::Instant::now();
        ledger.acked(0);
        assert!(!ledger.all_acked_or_in_doubt_since(start), "1 neither");
        ledger.ack_cut_off(1);
        assert!(
            !ledger.all_acked_or_in_doubt_since(start),
            "cut off after the time given: it may still come back"
        );
        assert!(ledger.all_acked_or_in_doubt_since(std::time::Instant::now()));
        assert_eq!(ledger.counts().ack_cut_off, 1);
        assert_eq!(ledger.counts().acked, 1);
        // It came back and was acked: no longer in doubt.
        ledger.acked(1);
        assert_eq!(ledger.counts().ack_cut_off, 0);
        assert!(ledger.all_acked());
        // An ack cut off after the message was acked changes nothing.
        ledger.ack_cut_off(0);
        assert_eq!(ledger.counts().ack_cut_off, 0);
    }

    #[test]
    fn counts_tell_lost_redelivered_and_resent() {
        let ledger = Ledger::new(1, 3, MIN_BODY);
        let sends: Vec<u64> = std::iter::from_fn(|| ledger.next_to_send()).collect();
        assert_eq!(sends, vec![0, 1, 2]);
        ledger.confirmed(0);
        ledger.confirmed(1);
        ledger.send_again(2);
        assert_eq!(ledger.next_to_send(), Some(2));
        ledger.confirmed(2);
        ledger.delivered(&ledger.body(0));
        ledger.delivered(&ledger.body(0));
        ledger.delivered(&ledger.body(2));
        ledger.acked(0);
        ledger.acked(0);
        let c = ledger.counts();
        assert_eq!(
            (
                c.confirmed,
                c.delivered,
                c.redelivered,
                c.resent,
                c.acked,
                c.lost
            ),
            (3, 2, 1, 1, 1, 1)
        );
        assert!(!ledger.all_acked());
        ledger.delivered(&ledger.body(1));
        ledger.acked(1);
        ledger.acked(2);
        assert!(ledger.all_acked());
        assert_eq!(ledger.counts().lost, 0);
    }
}
