//! The byok8s gRPC contract (`byok8s.v1`), shared by the daemon and the client.

/// Messages and service stubs of `byok8s.v1`.
pub mod v1 {
    #![allow(
        missing_docs,
        reason = "generated code documents itself from the .proto comments"
    )]
    #![allow(clippy::all, reason = "generated code")]
    tonic::include_proto!("byok8s.v1");
}

pub mod rules;

pub use prost_types::Timestamp;

/// The encoded `FileDescriptorSet` of `byok8s.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/byok8s_descriptor.bin"));
