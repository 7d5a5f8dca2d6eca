//! Why an input file was refused; every message names the file.

use std::io;
use std::path::PathBuf;

use byok8s_proto::rules::MAX_DOCUMENT_BYTES;

use super::DocumentRole;
use crate::bundle::human_size;

/// Why an input file was refused; every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Neither the name as given nor the name with `.json` appended is a file.
    #[error("{role} file not found: {}", describe_tries(.tried))]
    NotFound {
        /// Which document was looked for.
        role: DocumentRole,
        /// The paths tried, in order.
        tried: Vec<PathBuf>,
    },
    /// What the name points to is not a regular file.
    #[error("{role} file {} is {kind}, not a file", .path.display())]
    NotAFile {
        /// Which document was looked for.
        role: DocumentRole,
        /// The path found.
        path: PathBuf,
        /// What it is instead, such as "a directory".
        kind: &'static str,
    },
    /// The file is larger than byok8sd accepts.
    #[error(
        "{role} file {} is larger than the {} byok8sd accepts",
        .path.display(), human_size(MAX_DOCUMENT_BYTES as u64)
    )]
    TooLarge {
        /// Which document it is.
        role: DocumentRole,
        /// The file.
        path: PathBuf,
    },
    /// The file exists but could not be read as text.
    #[error("cannot read {role} file {}", .path.display())]
    Unreadable {
        /// Which document it is.
        role: DocumentRole,
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: io::Error,
    },
    /// The file is not JSON; the cause names the line and column.
    #[error("{role} file {} is not valid JSON", .path.display())]
    InvalidJson {
        /// Which document it is.
        role: DocumentRole,
        /// The file.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        source: serde_json::Error,
    },
    /// The file is JSON but not an object.
    #[error("{role} file {} is not a JSON object", .path.display())]
    NotAnObject {
        /// Which document it is.
        role: DocumentRole,
        /// The file.
        path: PathBuf,
    },
    /// No TARGET on the command line and no default in the workflow file.
    #[error("{} has no \"workflow_target\" and no TARGET was given", .path.display())]
    NoTarget {
        /// The workflow file.
        path: PathBuf,
    },
    /// The workflow file's `workflow_target` is not a target byok8sd accepts.
    #[error(
        "\"workflow_target\" in {} must be one string, a rule name or a relative path without \
         '..' (several targets can be given as TARGETs on the command line)",
        .path.display()
    )]
    InvalidDefaultTarget {
        /// The workflow file.
        path: PathBuf,
    },
    /// A TARGET given on the command line is not one byok8sd accepts.
    #[error(
        "TARGET {target:?} must be a rule name or a relative path without '..', of at most \
         1024 printable characters"
    )]
    InvalidTarget {
        /// The TARGET as given.
        target: String,
    },
    /// The file's name, which is sent as the document's name, is not one byok8sd accepts.
    #[error(
        "{role} file {} cannot be sent: its name (without .json) must be 1 to 253 letters, \
         digits, '.', '_' or '-', starting with a letter or digit",
        .path.display()
    )]
    InvalidName {
        /// Which document it is.
        role: DocumentRole,
        /// The file.
        path: PathBuf,
    },
    /// Nothing is at the Snakefile's path.
    #[error("Snakefile not found: {}", .path.display())]
    SnakefileNotFound {
        /// The path looked at.
        path: PathBuf,
    },
    /// The Snakefile's path names something other than a regular file.
    #[error("Snakefile {} is {kind}, not a file", .path.display())]
    SnakefileNotAFile {
        /// The path looked at.
        path: PathBuf,
        /// What it is instead, such as "a directory".
        kind: &'static str,
    },
}

fn describe_tries(tried: &[PathBuf]) -> String {
    let shown: Vec<_> = tried.iter().map(|p| p.display().to_string()).collect();
    match shown.as_slice() {
        [only] => only.clone(),
        _ => format!("tried {}", shown.join(" and ")),
    }
}
