//! Who becomes master when a group's master is gone: a pure function of what the leader knows.
//!
//! Only brokers that are alive can be elected, and by default only members of the sync-state set:
//! they are known to hold everything the old master acknowledged, so electing one loses nothing.
//! Among them the highest reported commit-log offset wins (the least to catch up), ties go to the
//! lowest id so every run of the policy on the same input agrees. An out-of-sync replica is chosen
//! only with `unclean` set, trading acknowledged messages for availability.

use std::collections::BTreeSet;

use crate::state::BrokerId;

/// One live broker of the group, as its latest heartbeat reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: BrokerId,
    pub max_offset: u64,
}

/// Picks the new master among `alive` (the old master excluded by the caller), or `None`.
#[must_use]
pub fn choose_master(
    sync_state_set: &BTreeSet<BrokerId>,
    alive: &[Candidate],
    unclean: bool,
) -> Option<BrokerId> {
    let best = |pool: &mut dyn Iterator<Item = &Candidate>| {
        pool.max_by(|a, b| a.max_offset.cmp(&b.max_offset).then(b.id.cmp(&a.id)))
            .map(|c| c.id)
    };
    best(&mut alive.iter().filter(|c| sync_state_set.contains(&c.id)))
        .or_else(|| unclean.then(|| best(&mut alive.iter())).flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table() {
        let c = |id, max_offset| Candidate { id, max_offset };
        struct Case {
            name: &'static str,
            sync: &'static [BrokerId],
            alive: Vec<Candidate>,
            unclean: bool,
            want: Option<BrokerId>,
        }
        let cases = [
            Case {
                name: "highest offset in sync set wins",
                sync: &[1, 2, 3],
                alive: vec![c(2, 100), c(3, 300)],
                unclean: false,
                want: Some(3),
            },
            Case {
                name: "tie goes to lowest id",
                sync: &[1, 2, 3],
                alive: vec![c(3, 100), c(2, 100)],
                unclean: false,
                want: Some(2),
            },
            Case {
                name: "out-of-sync replica with more data is not preferred",
                sync: &[1, 2],
                alive: vec![c(2, 10), c(3, 999)],
                unclean: false,
                want: Some(2),
            },
            Case {
                name: "no live in-sync replica: no master",
                sync: &[1],
                alive: vec![c(2, 10), c(3, 999)],
                unclean: false,
                want: None,
            },
            Case {
                name: "unclean election takes the best live replica",
                sync: &[1],
                alive: vec![c(2, 10), c(3, 999)],
                unclean: true,
                want: Some(3),
            },
            Case {
                name: "unclean still prefers the sync set",
                sync: &[1, 2],
                alive: vec![c(2, 10), c(3, 999)],
                unclean: true,
                want: Some(2),
            },
            Case {
                name: "nobody alive",
                sync: &[1, 2],
                alive: vec![],
                unclean: true,
                want: None,
            },
        ];
        for case in cases {
            let sync: BTreeSet<BrokerId> = case.sync.iter().copied().collect();
            assert_eq!(
                choose_master(&sync, &case.alive, case.unclean),
                case.want,
                "{}",
                case.name
            );
        }
    }
}
