//! Property tests: the parsers that read outside bytes never panic, and a signature verifies only
//! for the content it was made over.

use ferromq_auth::grpc::{check_fresh, parse_date_time, GrpcAuthorization};
use ferromq_auth::signature::{self, Credentials};
use ferromq_auth::{required_access, Registry, Resource, User, UserType};
use ferromq_remoting::{RemotingCommand, RequestCode};
use proptest::prelude::*;

proptest! {
    #[test]
    fn grpc_authorization_parser_never_panics(s in ".{0,300}") {
        let _ = GrpcAuthorization::parse(&s);
        let _ = GrpcAuthorization::parse(&format!("MQv2-HMAC-SHA1 {s}"));
        let _ = parse_date_time(&s);
        let _ = check_fresh(&s, i64::MAX, i64::MAX);
    }

    #[test]
    fn resource_and_policy_parsers_never_panic(s in ".{0,80}") {
        let _ = s.parse::<Resource>();
        let _ = s.parse::<ferromq_auth::ip_range::IpRange>();
        let _ = serde_json::from_str::<ferromq_auth::wire::AclInfo>(&s).map(|a| a.to_acl());
        let _ = Registry::from_json(s.as_bytes());
    }

    #[test]
    fn signed_requests_verify_and_any_change_breaks_them(
        fields in proptest::collection::btree_map("[A-Za-z]{1,8}", ".{0,16}", 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        code in any::<i32>(),
        flip in any::<usize>(),
    ) {
        let user = User::new("alice", "secret", UserType::Normal).expect("user");
        let mut cmd = RemotingCommand::request(code);
        cmd.ext_fields = fields;
        cmd.body = Some(body.clone().into());
        Credentials::new("alice", "secret").sign(&mut cmd);
        prop_assert!(signature::verify(&cmd, &user).is_ok());
        if !body.is_empty() {
            let mut changed = body;
            let i = flip % changed.len();
            changed[i] ^= 1;
            cmd.body = Some(changed.into());
            prop_assert!(signature::verify(&cmd, &user).is_err());
        }
    }

    #[test]
    fn signature_field_of_any_text_is_refused_not_panicked(sig in ".{0,64}", code in any::<i32>()) {
        let user = User::new("alice", "secret", UserType::Normal).expect("user");
        let cmd = RemotingCommand::request(code)
            .with_ext("AccessKey", "alice")
            .with_ext("Signature", sig);
        prop_assert!(signature::verify(&cmd, &user).is_err());
    }

    #[test]
    fn access_table_never_panics_on_any_request(
        code in prop_oneof![
            proptest::sample::select(RequestCode::ALL.to_vec()),
            any::<i32>().prop_map(RequestCode),
        ],
        fields in proptest::collection::btree_map("[a-zA-Z]{1,14}", ".{0,16}", 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut cmd = RemotingCommand::request(code);
        cmd.ext_fields = fields;
        cmd.body = Some(body.into());
        let _ = required_access(&cmd, "DefaultCluster");
    }
}
