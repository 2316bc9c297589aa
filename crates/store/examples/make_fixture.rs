//! Writes an on-disk format fixture: `cargo run -p ferromq-store --example make_fixture -- DIR`.
//! The test `tests/fixtures.rs` reads the committed copy back, so a change to any file format that
//! breaks existing stores fails a test instead of a user's upgrade.

#[path = "../tests/it/fixture_support/mod.rs"]
mod fixture_support;

use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordDraft;
use ferromq_store::StoreHandle;
use fixture_support::{fixture_config, message, MESSAGES};

fn host() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 10911))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: make_fixture DIR")?;
    let handle = StoreHandle::open(fixture_config(std::path::Path::new(&dir)))?;
    for i in 0..MESSAGES {
        let (topic, queue, tag, key, body) = message(i);
        let uniq = format!("{i:032X}");
        let props = properties::encode([
            (keys::TAGS, tag.as_str()),
            (keys::KEYS, key.as_str()),
            (keys::UNIQ_KEY, uniq.as_str()),
        ]);
        let draft = RecordDraft {
            topic,
            queue_id: queue,
            flag: i as i32,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000 + i64::from(i),
            born_host: host(),
            store_host: host(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: &body,
            properties: &props,
        };
        handle.store().put(&draft)?.durable.wait()?;
    }
    handle.shutdown()?;
    Ok(())
}
