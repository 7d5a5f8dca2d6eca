//! Finding and checking the workflow and params documents and the Snakefile, before anything
//! is sent.

mod error;

use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};

use byok8s_proto::rules::{MAX_DOCUMENT_BYTES, is_document_name};
use serde_json::{Map, Value};

pub use error::InputError;

/// Which of the two JSON documents of a submission a file plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentRole {
    /// The workflow file, whose `workflow_target` names the default target.
    Workflow,
    /// The params file, which becomes Snakemake's config.
    Params,
}

impl fmt::Display for DocumentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Workflow => "workflow",
            Self::Params => "params",
        })
    }
}

/// A JSON document read from disk and checked to be an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The name sent to the server: the file name without a `.json` suffix.
    pub name: String,
    /// The file that was read, as the user would write it.
    pub path: PathBuf,
    /// The file's text, sent verbatim.
    pub json: String,
}

/// Everything a submission needs besides the bundle, resolved and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// The workflow document.
    pub workflow: Document,
    /// The params document.
    pub params: Document,
    /// The targets to build: the ones given, or else the workflow's `workflow_target`.
    pub targets: Vec<String>,
}

/// Finds and checks the workflow and params documents named relative to `base`, and settles
/// the targets: `targets` when any are given, else the workflow's `workflow_target`.
pub fn resolve_inputs(
    base: &Path,
    workflow: &str,
    params: &str,
    targets: &[String],
) -> Result<Inputs, InputError> {
    let (workflow, workflow_object) = read_document(base, workflow, DocumentRole::Workflow)?;
    let (params, _) = read_document(base, params, DocumentRole::Params)?;
    let targets = match targets {
        [] => vec![default_target(&workflow.path, &workflow_object)?],
        given => given.to_vec(),
    };
    if let Some(bad) = targets.iter().find(|target| !is_target(target)) {
        return Err(InputError::InvalidTarget {
            target: bad.clone(),
        });
    }
    Ok(Inputs {
        workflow,
        params,
        targets,
    })
}

/// Checks that the Snakefile at `path` (relative to `base`) is a regular file.
pub fn resolve_snakefile(base: &Path, path: &Path) -> Result<PathBuf, InputError> {
    let full = base.join(path);
    match file_kind(&full) {
        Some(FileKind::Regular) => Ok(full),
        Some(FileKind::Other(kind)) => Err(InputError::SnakefileNotAFile {
            path: path.to_path_buf(),
            kind,
        }),
        None => Err(InputError::SnakefileNotFound {
            path: path.to_path_buf(),
        }),
    }
}

/// What a path names, as far as choosing an input file goes.
enum FileKind {
    Regular,
    /// Something else, said the way a person would: "a directory".
    Other(&'static str),
}

/// The kind of what `path` names, following symlinks; `None` when nothing is there.
fn file_kind(path: &Path) -> Option<FileKind> {
    let file_type = fs::metadata(path).ok()?.file_type();
    Some(if file_type.is_file() {
        FileKind::Regular
    } else if file_type.is_dir() {
        FileKind::Other("a directory")
    } else {
        FileKind::Other("not a regular file")
    })
}

fn read_document(
    base: &Path,
    given: &str,
    role: DocumentRole,
) -> Result<(Document, Map<String, Value>), InputError> {
    let path = locate(base, given, role)?;
    let full = base.join(&path);
    let size = fs::metadata(&full).map_or(0, |metadata| metadata.len());
    if size > MAX_DOCUMENT_BYTES as u64 {
        return Err(InputError::TooLarge { role, path });
    }
    let json = fs::read_to_string(&full).map_err(|source| InputError::Unreadable {
        role,
        path: path.clone(),
        source,
    })?;
    let value: Value = serde_json::from_str(&json).map_err(|source| InputError::InvalidJson {
        role,
        path: path.clone(),
        source,
    })?;
    let Value::Object(object) = value else {
        return Err(InputError::NotAnObject { role, path });
    };
    let name = document_name(&path);
    if !is_document_name(&name) {
        return Err(InputError::InvalidName { role, path });
    }
    Ok((Document { name, path, json }, object))
}

/// The name as given when it is a file, else the name with `.json` appended. When neither is
/// a regular file but one of them exists (a directory, a pipe), the error says what it is.
fn locate(base: &Path, given: &str, role: DocumentRole) -> Result<PathBuf, InputError> {
    let mut tried = vec![PathBuf::from(given)];
    if !given.ends_with(".json") {
        tried.push(PathBuf::from(format!("{given}.json")));
    }
    let mut not_a_file = None;
    for candidate in &tried {
        match file_kind(&base.join(candidate)) {
            Some(FileKind::Regular) => return Ok(candidate.clone()),
            Some(FileKind::Other(kind)) => {
                not_a_file.get_or_insert((candidate.clone(), kind));
            }
            None => {}
        }
    }
    match not_a_file {
        Some((path, kind)) => Err(InputError::NotAFile { role, path, kind }),
        None => Err(InputError::NotFound { role, tried }),
    }
}

fn document_name(path: &Path) -> String {
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    file_name
        .strip_suffix(".json")
        .unwrap_or(&file_name)
        .to_owned()
}

/// The workflow file's `workflow_target`, read only when no TARGET was given so that a
/// TARGET always overrides it, as byok8sd does.
fn default_target(path: &Path, workflow: &Map<String, Value>) -> Result<String, InputError> {
    match workflow.get("workflow_target") {
        Some(Value::String(target)) if is_target(target) => Ok(target.clone()),
        Some(_) => Err(InputError::InvalidDefaultTarget {
            path: path.to_path_buf(),
        }),
        None => Err(InputError::NoTarget {
            path: path.to_path_buf(),
        }),
    }
}

/// The targets byok8sd accepts: a rule name or a path that stays inside the run's directory,
/// of at most 1024 printable characters and no name longer than a filesystem allows.
fn is_target(target: &str) -> bool {
    let shape_ok = target.chars().count() <= 1024 && !target.chars().any(char::is_control);
    let mut names = 0;
    for component in Path::new(target).components() {
        match component {
            Component::Normal(name) if name.len() <= 255 => names += 1,
            Component::CurDir => {}
            _ => return false,
        }
    }
    shape_ok && names > 0
}

#[cfg(test)]
mod tests;
