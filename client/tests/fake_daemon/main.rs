//! The client against a scripted stand-in for byok8sd, over real TLS on a loopback port.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test, as wanted"
)]

mod binary;
mod calls;
mod daemon;
mod follow;
mod queries;
mod script;
mod submitting;
mod watching;
