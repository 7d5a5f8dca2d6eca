//! The byok8s client library: reach byok8sd, prepare submissions and follow runs.
//!
//! The `byok8s` command-line tool is built on this crate; Rust programs can use the same
//! pieces to submit workflows and follow their runs without shelling out.

#![warn(missing_docs)]

mod bundle;
mod client;
mod connect;
mod error;
mod exit;
mod follow;
mod grpc_code;
mod inputs;
mod phase;
mod retry;
mod server;

pub use bundle::{Bundle, BundleError, BundleLimits, IGNORE_FILE, build_bundle};
pub use client::{Client, Submitted};
pub use connect::{ConnectOptions, connect};
pub use error::{Error, ServerError};
pub use exit::ExitCode;
pub use follow::{FollowObserver, FollowRequest, follow};
pub use inputs::{Document, DocumentRole, InputError, Inputs, resolve_inputs, resolve_snakefile};
pub use phase::{is_terminal, phase_name};
pub use server::{ServerUrl, ServerUrlError};

/// The generated gRPC messages and client this crate speaks, re-exported for callers.
pub use byok8s_proto::v1 as proto;
