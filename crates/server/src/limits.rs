//! The process's descriptor limit: every socket and every open store file takes one, so a broker
//! with many queues and connections needs the most the system allows.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as far as the system lets us, and logs what is
/// in force. Failing to raise it is not fatal: the store sizes its caches from what it gets.
pub(crate) fn raise_descriptor_limit() {
    let before = getrlimit(Resource::Nofile);
    if before.current != before.maximum {
        let wanted = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, wanted) {
            tracing::warn!(error = %e, soft = ?before.current, hard = ?before.maximum,
                "could not raise the open-file limit to the hard limit");
        }
    }
    let now = getrlimit(Resource::Nofile);
    tracing::info!(
        soft = %show(now.current),
        hard = %show(now.maximum),
        "open-file limit"
    );
}

fn show(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}
