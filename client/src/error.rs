//! The errors of the byok8s client, one enum for everything a caller can meet.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;

use tonic::{Code, Status};

use crate::grpc_code::GrpcCode;
use crate::{BundleError, InputError, ServerUrl, ServerUrlError};

/// Everything that can go wrong between reading the inputs and the run's last event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server URL was refused before any connection was tried.
    #[error("invalid server URL")]
    ServerUrl(#[from] ServerUrlError),
    /// A workflow, params or Snakefile input is missing or malformed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The Snakefile's directory could not be packed.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The CA certificate file could not be read.
    #[error("cannot read the CA certificate {path}")]
    CaCertificateUnreadable {
        /// The file as given.
        path: PathBuf,
        /// Why reading failed.
        source: io::Error,
    },
    /// The CA certificate file holds nothing usable as a trust anchor.
    #[error("the CA certificate {path} holds no usable PEM certificate")]
    CaCertificateInvalid {
        /// The file as given.
        path: PathBuf,
        /// What the TLS layer said, when it said anything.
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// No conversation with the server was possible: refused, TLS failure, unavailable,
    /// timed out or cut off.
    #[error("cannot reach byok8sd at {server}")]
    Unreachable {
        /// Where the client tried to go.
        server: ServerUrl,
        /// What the transport reported.
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The server answered with an error status.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// Following a run stopped because the server stayed out of reach for the whole retry
    /// budget; the run itself goes on.
    #[error("stopped following run {run_id} after event {after_seq}")]
    FollowGaveUp {
        /// The run that was followed.
        run_id: String,
        /// The last event delivered; a later follow can resume after it.
        after_seq: u64,
        /// The last failure to reach the server.
        source: Box<Error>,
    },
    /// Writing to standard output failed.
    #[error("cannot write the output")]
    Output(#[source] io::Error),
}

impl Error {
    /// Sorts a gRPC status into a server answer or a transport failure.
    ///
    /// Statuses the client library made up itself carry the underlying error as their source;
    /// those, like UNAVAILABLE and DEADLINE_EXCEEDED, mean the server was not (or no longer)
    /// reachable rather than that it refused the request.
    pub fn from_status(status: Status, server: &ServerUrl) -> Self {
        let transport = status.source().is_some()
            || matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded);
        if transport {
            let source = Box::new(TransportFailure(status));
            return Self::Unreachable {
                server: server.clone(),
                source,
            };
        }
        Self::Server(ServerError {
            code: GrpcCode(status.code()),
            status,
        })
    }

    /// True when retrying might help: the server could not be reached, and not because TLS
    /// refused it (an untrusted certificate stays untrusted however often it is offered).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { source, .. } => !refused_by_tls(source.as_ref()),
            _ => false,
        }
    }
}

/// True when a cause in the chain is the TLS layer refusing the handshake, seen directly or
/// wrapped in the I/O error that carries it out of the TLS stream.
fn refused_by_tls(error: &(dyn StdError + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(cause) = source {
        let wrapped = cause
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .is_some_and(|inner| inner.is::<rustls::Error>());
        if wrapped || cause.is::<rustls::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// An error status sent by the server; displays as the server's message, caused by the
/// gRPC code.
#[derive(Debug)]
pub struct ServerError {
    status: Status,
    code: GrpcCode,
}

impl ServerError {
    /// The gRPC status code the server answered with.
    pub fn code(&self) -> Code {
        self.status.code()
    }

    /// The server's message, as sent.
    pub fn message(&self) -> &str {
        self.status.message()
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status.message() {
            "" => write!(f, "the server refused the request"),
            message => f.write_str(message),
        }
    }
}

impl StdError for ServerError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.code)
    }
}

/// A status the transport made up; displays as its message and keeps its cause chain.
#[derive(Debug)]
struct TransportFailure(Status);

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.message() {
            "" => write!(f, "{}", GrpcCode(self.0.code())),
            message => f.write_str(message),
        }
    }
}

impl StdError for TransportFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerUrl {
        ServerUrl::parse("https://127.0.0.1:50051").unwrap()
    }

    #[test]
    fn a_server_status_displays_its_message_caused_by_the_code_name() {
        let err = Error::from_status(Status::not_found("run x not found"), &server());
        assert_eq!(err.to_string(), "run x not found");
        let cause = err.source().unwrap();
        assert_eq!(cause.to_string(), "gRPC status NOT_FOUND");
    }

    #[test]
    fn unavailable_is_a_transient_unreachable_error() {
        let err = Error::from_status(Status::unavailable("going away"), &server());
        assert!(err.is_transient());
        assert_eq!(
            err.to_string(),
            "cannot reach byok8sd at https://127.0.0.1:50051"
        );
        assert_eq!(err.source().unwrap().to_string(), "going away");
    }

    #[test]
    fn a_status_made_from_a_local_error_counts_as_transport_failure() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let status = Status::from_error(Box::new(io));
        let err = Error::from_status(status, &server());
        assert!(err.is_transient(), "{err:?}");
    }

    #[test]
    fn a_certificate_the_tls_layer_refused_is_not_transient() {
        let refusal = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, refusal);
        let status = Status::from_error(Box::new(io));
        let err = Error::from_status(status, &server());
        assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
        assert!(!err.is_transient(), "{err:?}");
    }

    #[test]
    fn an_internal_error_from_the_server_is_not_transient() {
        let err = Error::from_status(Status::internal("database is locked"), &server());
        assert!(!err.is_transient());
    }
}
