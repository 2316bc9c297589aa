//! RPCs not served yet answer at once with a status saying so: a v5 client must never wait on a
//! call that will not be answered. Consumption (receive, ack, invisibility, dead-lettering) comes
//! with POP in the broker.

use ferromq_proto::{Code, Status};

/// The status of an RPC this endpoint does not serve yet.
pub(crate) fn not_implemented(rpc: &str) -> Status {
    Status::new(
        Code::NotImplemented,
        format!("{rpc} is not implemented by this ferromq broker yet"),
    )
}
