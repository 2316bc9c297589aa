//! Bodies: JSON documents (tolerant of fastjson's non-standard output, see [`json`]), the batch
//! send body ([`batch`]) and the stored-record bodies of pull/query/view responses ([`records`]).

pub mod admin;
pub mod assignment;
pub mod batch;
pub mod heartbeat;
pub mod json;
pub mod lists;
pub mod lock;
pub mod pop;
pub mod records;
pub mod register;
pub mod register_compressed;
pub mod route;
pub mod subscription_group;

pub use json::JsonBody;
