//! How a failed command is told to the person at the terminal: headline, causes, hint.

use std::error::Error as StdError;
use std::io;

use byok8s::{BundleError, Error, InputError};
use tonic::Code;

use crate::render::visible;

/// The text printed on standard error for `error`, or `None` when silence is right (the
/// reader of our output went away).
pub fn report(error: &Error) -> Option<String> {
    if let Error::Output(cause) = error
        && cause.kind() == io::ErrorKind::BrokenPipe
    {
        return None;
    }
    // Messages can quote the daemon's or a workflow's text.
    let mut text = format!("error: {}\n", visible(&error.to_string()));
    for cause in causes(error) {
        text.push_str(&format!("  caused by: {}\n", visible(&cause)));
    }
    if let Some(hint) = hint(error) {
        text.push_str(&format!("hint: {hint}\n"));
    }
    Some(text)
}

/// The messages of the source chain, leaving out any already shown: transport layers often
/// repeat the message of the error they wrap.
fn causes(error: &Error) -> Vec<String> {
    let headline = error.to_string();
    let mut lines: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if line != headline && !line.is_empty() && !lines.contains(&line) {
            lines.push(line);
        }
        source = cause.source();
    }
    lines
}

fn hint(error: &Error) -> Option<String> {
    let text = match error {
        Error::Unreachable { .. } if mentions_certificates(error) => {
            "pass the daemon's certificate with --ca-cert or BYOK8S_CA_CERT".to_owned()
        }
        Error::Unreachable { .. } => {
            "is byok8sd running? check --server / BYOK8S_SERVER".to_owned()
        }
        Error::FollowGaveUp {
            run_id, after_seq, ..
        } => format!(
            "the run goes on; once byok8sd can be reached, resume with \
             `byok8s watch {run_id} --after-seq {after_seq}`"
        ),
        Error::Input(input) => return input_hint(input),
        Error::Bundle(
            BundleError::TooLarge { dir, .. } | BundleError::TooManyEntries { dir, .. },
        ) => {
            let file = dir.join(byok8s::IGNORE_FILE);
            format!(
                "list what the run does not need (data, results) in {}",
                file.display()
            )
        }
        Error::ServerUrl(_) => "check --server / BYOK8S_SERVER".to_owned(),
        Error::Server(server) if server.code() == Code::NotFound => {
            "`byok8s list` shows the runs you can see".to_owned()
        }
        _ => return None,
    };
    Some(text)
}

fn input_hint(error: &InputError) -> Option<String> {
    match error {
        InputError::NoTarget { path } => Some(format!(
            "name a TARGET after the params file, or add \"workflow_target\" to {}",
            path.display()
        )),
        InputError::SnakefileNotFound { .. } => {
            Some("run byok8s in the workflow's directory or pass --snakefile PATH".to_owned())
        }
        _ => None,
    }
}

/// True when any cause in the chain is about certificates, such as rustls's "invalid peer
/// certificate: UnknownIssuer".
fn mentions_certificates(error: &Error) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.to_string().to_lowercase().contains("certificate") {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests;
