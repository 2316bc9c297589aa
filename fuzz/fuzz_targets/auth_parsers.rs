//! Arbitrary bytes into everything ACL 2.0 reads from outside: the v5 `authorization` metadata and
//! `x-mq-date-time`, policy resources and JSON bodies, the stored users file, and whole remoting
//! frames through authentication and the request-code table. The first byte picks the parser.
#![no_main]

use ferromq_auth::grpc::{parse_date_time, GrpcAuthorization};
use ferromq_auth::registry::Checks;
use ferromq_auth::wire::{AclInfo, UserInfo};
use ferromq_auth::{required_access, Registry, Resource};
use ferromq_remoting::{decode_frame, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    match selector % 6 {
        0 => {
            let _ = GrpcAuthorization::parse(&text);
        }
        1 => {
            let _ = parse_date_time(&text);
        }
        2 => {
            if let Ok(r) = text.parse::<Resource>() {
                // What we print parses back to the same resource.
                assert_eq!(r.to_string().parse::<Resource>().ok(), Some(r));
            }
        }
        3 => {
            if let Ok(info) = serde_json::from_slice::<AclInfo>(data) {
                let _ = info.to_acl();
            }
            if let Ok(info) = serde_json::from_slice::<UserInfo>(data) {
                let _ = info.to_user();
            }
        }
        4 => {
            if let Ok(r) = Registry::from_json(data) {
                assert_eq!(Registry::from_json(&r.to_json()).ok(), Some(r));
            }
        }
        _ => {
            if let Ok(Some((cmd, _))) = decode_frame(data, &Limits::default()) {
                let _ = required_access(&cmd, "DefaultCluster");
                let checks = Checks {
                    authentication: true,
                    authorization: true,
                };
                let _ = Registry::default().check(checks, &cmd, "DefaultCluster", None);
            }
        }
    }
});
