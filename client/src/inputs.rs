//! Finding and checking the workflow and params documents and the Snakefile, before anything
//! is sent.

mod error;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

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
    let default = default_target(&workflow.path, &workflow_object)?;
    let targets = choose_targets(&workflow.path, targets, default)?;
    Ok(Inputs {
        workflow,
        params,
        targets,
    })
}

/// Checks that the Snakefile at `path` (relative to `base`) is a regular file.
pub fn resolve_snakefile(base: &Path, path: &Path) -> Result<PathBuf, InputError> {
    let full = base.join(path);
    if full.is_file() {
        Ok(full)
    } else {
        Err(InputError::SnakefileNotFound {
            path: path.to_path_buf(),
        })
    }
}

fn read_document(
    base: &Path,
    given: &str,
    role: DocumentRole,
) -> Result<(Document, Map<String, Value>), InputError> {
    let path = locate(base, given, role)?;
    let full = base.join(&path);
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
    Ok((Document { name, path, json }, object))
}

/// The name as given when it is a file, else the name with `.json` appended.
fn locate(base: &Path, given: &str, role: DocumentRole) -> Result<PathBuf, InputError> {
    let mut tried = vec![PathBuf::from(given)];
    if !given.ends_with(".json") {
        tried.push(PathBuf::from(format!("{given}.json")));
    }
    match tried
        .iter()
        .find(|candidate| base.join(candidate).is_file())
    {
        Some(found) => Ok(found.clone()),
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

fn default_target(
    path: &Path,
    workflow: &Map<String, Value>,
) -> Result<Option<String>, InputError> {
    match workflow.get("workflow_target") {
        None => Ok(None),
        Some(Value::String(target)) if !target.is_empty() => Ok(Some(target.clone())),
        Some(_) => Err(InputError::InvalidDefaultTarget {
            path: path.to_path_buf(),
        }),
    }
}

fn choose_targets(
    path: &Path,
    given: &[String],
    default: Option<String>,
) -> Result<Vec<String>, InputError> {
    if given.iter().any(String::is_empty) {
        return Err(InputError::EmptyTarget);
    }
    match (given, default) {
        ([], Some(default)) => Ok(vec![default]),
        ([], None) => Err(InputError::NoTarget {
            path: path.to_path_buf(),
        }),
        (given, _) => Ok(given.to_vec()),
    }
}

#[cfg(test)]
mod tests;
