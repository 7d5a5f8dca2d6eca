//! A strict Kubernetes API server for tests that runs each pod's containers as local processes.
//!
//! The binary `byok8s-test-cluster` serves the API over HTTPS on 127.0.0.1; [`Harness`] starts
//! it from a test and drives its fault-injection endpoints.

pub mod admission;
pub mod api;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod controller;
pub mod defaults;
pub mod deletion;
pub mod events;
pub mod faults;
pub mod gc;
pub mod harness;
pub mod jobs;
pub mod kubeconfig;
pub mod kubelet;
pub mod logs;
pub mod namespaces;
pub mod object;
pub mod patch;
pub mod registry;
pub mod resources;
pub mod selectors;
pub mod server;
pub mod status;
pub mod store;
pub mod tls;
pub mod validate;
pub mod watch;

pub use config::Config;
pub use harness::{Fault, Harness, HarnessError, HarnessOptions, RecordedRequest};
