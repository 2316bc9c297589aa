//! RocketMQ remoting wire codec (pure, no I/O).
#![forbid(unsafe_code)]
