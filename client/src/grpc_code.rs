//! gRPC status codes by their canonical names, as people look them up.

use std::error::Error as StdError;
use std::fmt;

use tonic::Code;

/// A gRPC code shown by its canonical name, such as `NOT_FOUND`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GrpcCode(pub(crate) Code);

impl GrpcCode {
    fn name(&self) -> &'static str {
        match self.0 {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

impl fmt::Display for GrpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gRPC status {}", self.name())
    }
}

impl StdError for GrpcCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_display_by_their_canonical_names() {
        let shown = GrpcCode(Code::DeadlineExceeded).to_string();
        assert_eq!(shown, "gRPC status DEADLINE_EXCEEDED");
        assert_eq!(GrpcCode(Code::Unauthenticated).name(), "UNAUTHENTICATED");
    }
}
