//! Turning a parked message back into a message of its real topic.

use ferromq_model::properties::{self, keys};
use ferromq_model::record::{RecordDraft, RecordView};

/// The property string without the entries named in `drop`.
pub(crate) fn strip(props: &str, drop: &[&str]) -> String {
    let kept = properties::iter(props).filter(|(name, _)| !drop.contains(name));
    properties::encode(kept)
}

/// A parked message's destination and the properties it is stored with there.
#[derive(Debug)]
pub(crate) struct Restored {
    pub topic: String,
    pub queue_id: u32,
    pub properties: String,
}

/// Where `parked` really goes, with `drop` and the `REAL_*` bookkeeping removed and `extra` added;
/// `None` when the bookkeeping is missing or broken (the message cannot be placed).
pub(crate) fn restore(
    parked: &RecordView<'_>,
    drop: &[&str],
    extra: &[(&str, &str)],
) -> Option<Restored> {
    let topic = properties::get(parked.properties, keys::REAL_TOPIC)?.to_owned();
    let queue_id = properties::get(parked.properties, keys::REAL_QUEUE_ID)?
        .parse()
        .ok()?;
    let mut all: Vec<&str> = vec![keys::REAL_TOPIC, keys::REAL_QUEUE_ID];
    all.extend_from_slice(drop);
    all.extend(extra.iter().map(|(k, _)| *k));
    let properties = strip(parked.properties, &all) + &properties::encode(extra.iter().copied());
    Some(Restored {
        topic,
        queue_id,
        properties,
    })
}

/// The draft that stores `parked` again as `to`: same body, flags, born and store hosts, retries.
pub(crate) fn draft<'a>(parked: &RecordView<'a>, to: &'a Restored) -> RecordDraft<'a> {
    RecordDraft {
        topic: &to.topic,
        queue_id: to.queue_id,
        flag: parked.flag,
        sys_flag: parked.sys_flag,
        born_timestamp: parked.born_timestamp,
        born_host: parked.born_host,
        store_host: parked.store_host,
        reconsume_times: parked.reconsume_times,
        prepared_transaction_offset: parked.prepared_transaction_offset,
        body: parked.body,
        properties: &to.properties,
    }
}
