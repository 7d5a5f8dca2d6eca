//! The process exit codes of `byok8s`, and how run phases and gRPC codes map onto them.

use byok8s_proto::v1::RunPhase;
use tonic::Code;

use crate::Error;

/// How `byok8s` ends, as a stable process exit code scripts can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// The command did what was asked; for commands that follow a run, the run succeeded.
    Success = 0,
    /// The followed run failed.
    RunFailed = 1,
    /// The command line or an input file was wrong, or the server rejected the request as
    /// invalid. Nothing was started.
    BadInput = 2,
    /// The followed run was cancelled or interrupted.
    RunStopped = 3,
    /// The server could not be reached: connection refused, TLS failure, unavailable or timed
    /// out.
    Unreachable = 4,
    /// The server does not know the run.
    NotFound = 5,
    /// Any other error reported by the server or met locally.
    Other = 6,
    /// Following was stopped with Ctrl-C; the run goes on. 128 + SIGINT, as shells report a
    /// command that SIGINT ended.
    Interrupted = 130,
}

impl ExitCode {
    /// The numeric code handed to the operating system.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The code for a run that ended in `phase`; phases that are not final count as success
    /// because the command itself did its job.
    pub fn for_phase(phase: i32) -> Self {
        match RunPhase::try_from(phase) {
            Ok(RunPhase::Failed) => Self::RunFailed,
            Ok(RunPhase::Cancelled | RunPhase::Interrupted) => Self::RunStopped,
            _ => Self::Success,
        }
    }

    /// The code for a gRPC status the server answered with.
    pub fn for_status_code(code: Code) -> Self {
        match code {
            Code::Ok => Self::Success,
            Code::InvalidArgument => Self::BadInput,
            Code::Unavailable | Code::DeadlineExceeded => Self::Unreachable,
            Code::NotFound => Self::NotFound,
            _ => Self::Other,
        }
    }
}

impl Error {
    /// The exit code `byok8s` ends with when this error stops it.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::ServerUrl(_)
            | Self::Input(_)
            | Self::Bundle(_)
            | Self::CaCertificateUnreadable { .. }
            | Self::CaCertificateInvalid { .. } => ExitCode::BadInput,
            Self::Unreachable { .. } | Self::FollowGaveUp { .. } => ExitCode::Unreachable,
            Self::Server(error) => ExitCode::for_status_code(error.code()),
            // The reader of our output went away, as `byok8s watch RUN | head` does once it
            // has its lines: the command ended as the reader wanted.
            Self::Output(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                ExitCode::Success
            }
            Self::Output(_) => ExitCode::Other,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        Self::from(code.as_u8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_phases_map_to_their_outcome_codes() {
        assert_eq!(ExitCode::for_phase(RunPhase::Succeeded as i32).as_u8(), 0);
        assert_eq!(ExitCode::for_phase(RunPhase::Failed as i32).as_u8(), 1);
        assert_eq!(ExitCode::for_phase(RunPhase::Cancelled as i32).as_u8(), 3);
        assert_eq!(ExitCode::for_phase(RunPhase::Interrupted as i32).as_u8(), 3);
    }

    #[test]
    fn invalid_argument_is_bad_input() {
        assert_eq!(ExitCode::for_status_code(Code::InvalidArgument).as_u8(), 2);
    }

    #[test]
    fn unavailable_and_deadline_mean_unreachable() {
        assert_eq!(ExitCode::for_status_code(Code::Unavailable).as_u8(), 4);
        assert_eq!(ExitCode::for_status_code(Code::DeadlineExceeded).as_u8(), 4);
    }

    #[test]
    fn not_found_has_its_own_code() {
        assert_eq!(ExitCode::for_status_code(Code::NotFound).as_u8(), 5);
    }

    #[test]
    fn a_closed_output_pipe_ends_the_command_successfully() {
        let closed = Error::Output(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(closed.exit_code(), ExitCode::Success);
        let full = Error::Output(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert_eq!(full.exit_code(), ExitCode::Other);
    }

    #[test]
    fn every_other_server_code_is_a_server_error() {
        let others = [
            Code::Internal,
            Code::ResourceExhausted,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::FailedPrecondition,
            Code::AlreadyExists,
            Code::Unknown,
            Code::Unimplemented,
        ];
        for code in others {
            assert_eq!(ExitCode::for_status_code(code).as_u8(), 6, "{code:?}");
        }
    }
}
