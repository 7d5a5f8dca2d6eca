//! The daemon's error type and the one place that turns it into a gRPC status.

use tonic::{Code, Status};

use crate::store::StoreError;

/// Everything an RPC can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller sent something unacceptable; the message says what and changes nothing.
    #[error("{0}")]
    InvalidArgument(String),

    /// The run does not exist, or the caller may not see it.
    #[error("run {0} not found")]
    RunNotFound(String),

    /// The idempotency key was used before for a different submission.
    #[error("{0}")]
    KeyReused(String),

    /// The daemon is stopping and takes no new runs; the next one will.
    #[error("byok8sd is shutting down; try again when it is back")]
    ShuttingDown,

    /// The database failed.
    #[error("the run store failed")]
    Store(#[source] StoreError),

    /// The run's payload could not be written to the data directory.
    #[error("could not store the run's files")]
    Payload(#[source] std::io::Error),
}

impl From<Error> for Status {
    /// Maps each error to the gRPC code whose semantics fit it (see grpc/doc/statuscodes.md):
    /// the caller's fault is INVALID_ARGUMENT or NOT_FOUND, ours is INTERNAL. Internal causes
    /// are logged in full here and never sent, so paths and SQL stay on the server.
    fn from(error: Error) -> Status {
        let code = match &error {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::RunNotFound(_) => Code::NotFound,
            // The key names something that already exists, made from other inputs.
            Error::KeyReused(_) => Code::AlreadyExists,
            // UNAVAILABLE is the code clients may retry as is; the request changed nothing.
            Error::ShuttingDown => Code::Unavailable,
            Error::Store(_) | Error::Payload(_) => Code::Internal,
        };
        if code == Code::Internal {
            tracing::error!(error = %chain(&error), "request failed");
        }
        Status::new(code, error.to_string())
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Error {
        match error {
            StoreError::KeyReused { .. } => Error::KeyReused(error.to_string()),
            error => Error::Store(error),
        }
    }
}

/// The error and all its causes, joined for a log line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_keeps_its_message_for_the_caller() {
        let status = Status::from(Error::InvalidArgument("targets: empty".into()));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "targets: empty");
    }

    #[test]
    fn internal_errors_hide_their_causes_from_the_caller() {
        let io = std::io::Error::other("/secret/path: disk full");
        let status = Status::from(Error::Payload(io));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("/secret/path"));
    }

    #[test]
    fn unknown_runs_are_not_found() {
        let status = Status::from(Error::RunNotFound("run-x".into()));
        assert_eq!(status.code(), Code::NotFound);
    }

    #[test]
    fn a_shutting_down_daemon_is_unavailable_so_clients_retry() {
        let status = Status::from(Error::ShuttingDown);
        assert_eq!(status.code(), Code::Unavailable);
    }

    #[test]
    fn store_failures_keep_their_cause_for_the_log() {
        let error = Error::from(StoreError::Finished { id: "run-x".into() });
        assert_eq!(
            chain(&error),
            "the run store failed: run run-x has already finished"
        );
    }

    #[test]
    fn chain_joins_every_cause() {
        let error = Error::Payload(std::io::Error::other("disk full"));
        assert_eq!(chain(&error), "could not store the run's files: disk full");
    }
}
