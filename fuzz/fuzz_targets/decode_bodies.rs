//! Arbitrary bytes into the body decoders; the first byte picks the decoder. JSON bodies that parse
//! must survive a standard-JSON round trip, batches a binary one.
#![no_main]

use bytes::BytesMut;
use ferromq_remoting::body::admin::ConsumeStats;
use ferromq_remoting::body::heartbeat::HeartbeatData;
use ferromq_remoting::body::register::RegisterBrokerBody;
use ferromq_remoting::body::route::{ClusterInfo, TopicRouteData};
use ferromq_remoting::body::{batch, json, records, JsonBody};
use libfuzzer_sys::fuzz_target;

fn json_round_trip<T: JsonBody + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = T::from_json(data) {
        let again = T::from_json(&v.to_json()).expect("our own JSON parses");
        assert_eq!(again, v);
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 8 {
        0 => json_round_trip::<TopicRouteData>(data),
        1 => json_round_trip::<HeartbeatData>(data),
        2 => json_round_trip::<RegisterBrokerBody>(data),
        3 => json_round_trip::<ClusterInfo>(data),
        4 => {
            if let Ok(messages) = batch::decode(data) {
                let mut out = BytesMut::new();
                batch::encode(&messages, &mut out).expect("decoded messages re-encode");
                // Magic and CRC are ignored on input and written as 0, so compare messages.
                assert_eq!(
                    batch::decode(&out).expect("re-encoded batch decodes"),
                    messages
                );
            }
        }
        5 => {
            let _ = json::normalise(data);
        }
        6 => json_round_trip::<ConsumeStats>(data),
        _ => {
            for record in records::iter(data, true) {
                let _ = record;
            }
        }
    }
});
