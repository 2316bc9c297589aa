//! Sharing a topic's queues among the live consumers of a group, as the clients' allocation
//! strategies do it (so a broker answering `QUERY_ASSIGNMENT` hands each client what its own
//! rebalance would have picked): `AVG` gives each consumer one contiguous run, `AVG_BY_CIRCLE`
//! deals queues round the consumers like cards. Both take the queues and the client ids sorted.
//! Pure functions.

/// A named allocation strategy a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `AllocateMessageQueueAveragely`.
    Averagely,
    /// `AllocateMessageQueueAveragelyByCircle`.
    AveragelyByCircle,
}

/// Why a queue set could not be shared out (Java throws, and the broker answers "no usable
/// assignment").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    #[error("the client id is empty")]
    EmptyClientId,
    #[error("the topic has no queue")]
    NoQueue,
    #[error("the group has no consumer")]
    NoConsumer,
}

impl Strategy {
    /// The strategy a client names (`getName()` of Java's classes); `None` for the others (the
    /// broker serves only these two, as Apache's does).
    #[must_use]
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "AVG" => Some(Self::Averagely),
            "AVG_BY_CIRCLE" => Some(Self::AveragelyByCircle),
            _ => None,
        }
    }

    /// The queues of `all` that `client` gets among `clients`; none when `client` is not among
    /// them.
    ///
    /// # Errors
    /// An empty client id, queue list or client list.
    pub fn allocate<T: Clone>(
        self,
        client: &str,
        all: &[T],
        clients: &[String],
    ) -> Result<Vec<T>, AllocateError> {
        check(client, all, clients)?;
        let Some(index) = clients.iter().position(|c| c == client) else {
            return Ok(Vec::new());
        };
        Ok(match self {
            Self::Averagely => {
                let (n, k) = (all.len(), clients.len());
                let rem = n % k;
                let size = if n <= k {
                    1
                } else if rem > 0 && index < rem {
                    n / k + 1
                } else {
                    n / k
                };
                let start = if rem > 0 && index < rem {
                    index * size
                } else {
                    index * size + rem
                };
                all.iter()
                    .skip(start)
                    .take(size.min(n.saturating_sub(start)))
                    .cloned()
                    .collect()
            }
            Self::AveragelyByCircle => all
                .iter()
                .enumerate()
                .skip(index)
                .filter(|(i, _)| i % clients.len() == index)
                .map(|(_, q)| q.clone())
                .collect(),
        })
    }
}

fn check<T>(client: &str, all: &[T], clients: &[String]) -> Result<(), AllocateError> {
    if client.is_empty() {
        return Err(AllocateError::EmptyClientId);
    }
    if all.is_empty() {
        return Err(AllocateError::NoQueue);
    }
    if clients.is_empty() {
        return Err(AllocateError::NoConsumer);
    }
    Ok(())
}

/// What a POP consumer serves: `share` is the group's `popShareQueueNum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PopShare<T> {
    /// Every queue: pop any queue of each broker (Java's queue id −1).
    AnyQueue,
    /// These queues.
    Queues(Vec<T>),
}

/// The POP allocation: with `share` ≤ 0, or at least as many as the other consumers, each
/// consumer pops every queue; else it takes its own share and those of the `share` consumers after
/// it in the sorted list (wrapping); with more consumers than queues, consumer `i` gets queue
/// `i mod queues` so that each consumer has one.
///
/// # Errors
/// As [`Strategy::allocate`].
pub fn allocate_pop<T: Clone>(
    strategy: Strategy,
    client: &str,
    all: &[T],
    clients: &[String],
    share: i32,
) -> Result<PopShare<T>, AllocateError> {
    let others = i64::try_from(clients.len()).unwrap_or(i64::MAX) - 1;
    if share <= 0 || i64::from(share) >= others {
        return Ok(PopShare::AnyQueue);
    }
    if clients.len() <= all.len() {
        let mut out = strategy.allocate(client, all, clients)?;
        if let Some(mut index) = clients.iter().position(|c| c == client) {
            for _ in 0..share {
                index = (index + 1) % clients.len();
                out.extend(strategy.allocate(&clients[index], all, clients)?);
            }
        }
        return Ok(PopShare::Queues(out));
    }
    check(client, all, clients)?;
    Ok(PopShare::Queues(
        clients
            .iter()
            .position(|c| c == client)
            .map(|i| vec![all[i % all.len()].clone()])
            .unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn each(strategy: Strategy, queues: usize, clients: usize) -> Vec<Vec<usize>> {
        let all: Vec<usize> = (0..queues).collect();
        let ids = ids(clients);
        ids.iter()
            .map(|c| strategy.allocate(c, &all, &ids).expect("allocates"))
            .collect()
    }

    #[test]
    fn averagely_gives_contiguous_runs_the_first_ones_longer() {
        // Table from the client's own strategy: 8 queues over 3 consumers is 3, 3, 2.
        assert_eq!(
            each(Strategy::Averagely, 8, 3),
            [vec![0, 1, 2], vec![3, 4, 5], vec![6, 7]]
        );
        assert_eq!(each(Strategy::Averagely, 4, 4), [[0], [1], [2], [3]]);
        assert_eq!(
            each(Strategy::Averagely, 2, 4),
            [vec![0], vec![1], vec![], vec![]]
        );
        assert_eq!(each(Strategy::Averagely, 4, 1), [vec![0, 1, 2, 3]]);
    }

    #[test]
    fn by_circle_deals_round_the_consumers() {
        assert_eq!(
            each(Strategy::AveragelyByCircle, 8, 3),
            [vec![0, 3, 6], vec![1, 4, 7], vec![2, 5]]
        );
        assert_eq!(
            each(Strategy::AveragelyByCircle, 2, 3),
            [vec![0], vec![1], vec![]]
        );
    }

    #[test]
    fn every_queue_goes_to_exactly_one_consumer() {
        for strategy in [Strategy::Averagely, Strategy::AveragelyByCircle] {
            for queues in 1..12 {
                for clients in 1..12 {
                    let mut got: Vec<usize> = each(strategy, queues, clients)
                        .into_iter()
                        .flatten()
                        .collect();
                    got.sort_unstable();
                    assert_eq!(
                        got,
                        (0..queues).collect::<Vec<_>>(),
                        "{strategy:?} {queues}/{clients}"
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_clients_and_empty_inputs() {
        let all = [0, 1];
        assert_eq!(Strategy::Averagely.allocate("x", &all, &ids(2)), Ok(vec![]));
        assert_eq!(
            Strategy::Averagely.allocate("", &all, &ids(2)),
            Err(AllocateError::EmptyClientId)
        );
        assert_eq!(
            Strategy::Averagely.allocate::<u8>("c0", &[], &ids(2)),
            Err(AllocateError::NoQueue)
        );
        assert_eq!(Strategy::named("CONSISTENT_HASH"), None);
        assert_eq!(Strategy::named("AVG"), Some(Strategy::Averagely));
    }

    #[test]
    fn pop_share_semantics() {
        let all: Vec<usize> = (0..8).collect();
        let four = ids(4);
        // 0 or less, or as many as the other consumers: every queue.
        for share in [-1, 0, 3, 7] {
            assert_eq!(
                allocate_pop(Strategy::Averagely, "c1", &all, &four, share),
                Ok(PopShare::AnyQueue),
                "share {share}"
            );
        }
        // Share 1: its own queues and those of the next consumer, wrapping at the end.
        assert_eq!(
            allocate_pop(Strategy::Averagely, "c1", &all, &four, 1),
            Ok(PopShare::Queues(vec![2, 3, 4, 5]))
        );
        assert_eq!(
            allocate_pop(Strategy::Averagely, "c3", &all, &four, 2),
            Ok(PopShare::Queues(vec![6, 7, 0, 1, 2, 3]))
        );
        // More consumers than queues: each gets one, round the queues.
        let six = ids(6);
        let two = [10, 11];
        assert_eq!(
            allocate_pop(Strategy::Averagely, "c4", &two, &six, 1),
            Ok(PopShare::Queues(vec![10]))
        );
        assert_eq!(
            allocate_pop(Strategy::Averagely, "c5", &two, &six, 1),
            Ok(PopShare::Queues(vec![11]))
        );
    }
}
