//! `MQVersion` ordinals: the `version` field of every command.
//!
//! Java compares these numerically to gate behaviour (for example the name server emits standard JSON
//! routes to clients at or above [`V4_9_4`]); the ordinal of release `x.y.z` is not derivable from
//! the number, so the ones that matter are listed.

/// Name server parses the register body as `RegisterBrokerBody` from this broker version on.
pub const V3_0_11: i32 = 37;
/// Brokers refuse to call back clients older than this.
pub const V3_1_8_SNAPSHOT: i32 = 62;
/// `maxReconsumeTimes` in `CONSUMER_SEND_MSG_BACK` is honoured from this client version on.
pub const V3_4_9: i32 = 121;
pub const V4_0_0: i32 = 213;
/// Minimum broker version a Java client requires for SQL92 subscriptions.
pub const V4_1_0_SNAPSHOT: i32 = 232;
/// Clients from this version on get standard-JSON route bodies from a Java name server.
pub const V4_9_4: i32 = 401;
/// Compressed register bodies carry static-topic mappings from this version on.
pub const V5_0_0: i32 = 413;
/// Clients newer than this understand `GO_AWAY`.
pub const V5_3_1: i32 = 475;
/// The current Java client and broker release.
pub const V5_3_3: i32 = 479;

/// What ferromq puts in the `version` field: it behaves like the current Java release.
pub const CURRENT: i32 = V5_3_3;
