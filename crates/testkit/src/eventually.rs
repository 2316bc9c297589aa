//! Polling with a deadline, for state that other tasks or threads publish asynchronously (a
//! registration, a dispatched message, a replica catching up). The pause between probes only spaces
//! the polls out: what the test waits for is the condition, never the time.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// What most waits in the tests allow.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// Between two probes.
const PAUSE: Duration = Duration::from_millis(10);

/// Polls `probe` until it returns `Some`, and returns that value.
///
/// # Panics
/// With `what` when `deadline` passes first.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(PAUSE).await;
    }
}

/// Polls `probe` until it returns `Ok`, and returns that value.
///
/// # Panics
/// With `what` and the last error when `deadline` passes first.
pub async fn eventually_ok<T, E, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> T
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let end = Instant::now() + deadline;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(e) => assert!(
                Instant::now() < end,
                "timed out waiting for {what}; last: {e:?}"
            ),
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// Checks `cond` (a plain, non-blocking check) until it holds, pausing on the runtime in between.
///
/// # Panics
/// With `what` when `deadline` passes first.
pub async fn eventually_holds(deadline: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    eventually(deadline, what, || std::future::ready(cond().then_some(()))).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test(start_paused = true)]
    async fn returns_the_first_value_that_holds() {
        let calls = Cell::new(0);
        let v = eventually(DEFAULT_DEADLINE, "third call", || {
            calls.set(calls.get() + 1);
            std::future::ready((calls.get() == 3).then_some(calls.get()))
        })
        .await;
        assert_eq!(v, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn ok_returns_the_value_after_errors() {
        let calls = Cell::new(0);
        let v: u32 = eventually_ok(DEFAULT_DEADLINE, "an Ok", || {
            calls.set(calls.get() + 1);
            std::future::ready(if calls.get() < 4 {
                Err("not yet")
            } else {
                Ok(7)
            })
        })
        .await;
        assert_eq!((v, calls.get()), (7, 4));
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "timed out waiting for nothing; last: \"never\"")]
    async fn ok_panics_with_the_last_error() {
        eventually_ok::<(), _, _, _>(Duration::from_secs(1), "nothing", || {
            std::future::ready(Err("never"))
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "timed out waiting for the impossible")]
    async fn holds_panics_with_what_after_the_deadline() {
        eventually_holds(Duration::from_secs(1), "the impossible", || false).await;
    }
}
