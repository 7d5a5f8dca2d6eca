//! The submitted Snakefile directory: checking an archive from a client, and unpacking it.
//!
//! The archive is untrusted. Only regular files and directories with plain relative paths are
//! accepted; every byte decompressed counts against a budget (so neither file data nor tar's
//! own long-name and extension records can expand without bound); every directory an entry
//! implies counts as an entry; and unpacking writes only below the destination.

mod budget;
mod ledger;

use std::path::{Component, Path, PathBuf};

use byok8s_proto::rules::MAX_BUNDLE_PATH_BYTES;
use flate2::read::GzDecoder;
use tar::{Archive, EntryType};

use budget::Budget;
use ledger::Ledger;

/// How big a bundle may be once unpacked.
#[derive(Clone, Copy, Debug)]
pub struct BundleLimits {
    pub max_unpacked_bytes: u64,
    /// Files plus directories, counting directories that entries only imply.
    pub max_entries: usize,
}

/// Longest accepted path component (a common filesystem limit), in bytes.
const MAX_COMPONENT_BYTES: usize = 255;

/// Error messages quote at most this much of a client's path.
const SHOWN_PATH_CHARS: usize = 200;

/// Why an archive was refused; the message is shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is not a readable gzip-compressed tar archive: {0}")]
    Unreadable(std::io::Error),
    #[error("bundle entry {path:?} is not a plain relative path inside the bundle")]
    UnsafePath { path: String },
    #[error("bundle entry {path:?} is a {kind}; only regular files and directories are accepted")]
    UnsupportedEntry { path: String, kind: &'static str },
    #[error("bundle entry {path:?} appears twice, or as both a file and a directory")]
    Conflict { path: String },
    #[error("bundle unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("bundle has more than {limit} files and directories")]
    TooManyEntries { limit: usize },
    #[error("the Snakefile {0:?} is not a file in the bundle")]
    MissingSnakefile(String),
    #[error("could not unpack the bundle")]
    Write(#[source] std::io::Error),
}

/// Checks every entry of the archive without writing anything; the Snakefile must be in it.
pub fn inspect(tar_gz: &[u8], snakefile: &Path, limits: BundleLimits) -> Result<(), BundleError> {
    let wanted = normalize(snakefile);
    let mut found = false;
    visit(tar_gz, limits, |path, entry| {
        found |= Some(path) == wanted.as_deref() && entry.header().entry_type().is_file();
        Ok(())
    })?;
    if found {
        Ok(())
    } else {
        Err(BundleError::MissingSnakefile(shown(
            &snakefile.to_string_lossy(),
        )))
    }
}

/// Unpacks the archive below `destination`, applying the same checks as [`inspect`].
pub fn unpack(tar_gz: &[u8], destination: &Path, limits: BundleLimits) -> Result<(), BundleError> {
    visit(tar_gz, limits, |path, entry| {
        let target = destination.join(path);
        if entry.header().entry_type().is_dir() {
            return std::fs::create_dir_all(&target).map_err(BundleError::Write);
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(BundleError::Write)?;
        }
        let executable = entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0);
        let mut file = std::fs::File::create(&target).map_err(BundleError::Write)?;
        std::io::copy(entry, &mut file).map_err(budget::classify(limits, BundleError::Write))?;
        set_executable(&target, executable).map_err(BundleError::Write)
    })
}

fn set_executable(path: &Path, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

type Entry<'a> = tar::Entry<'a, Budget<GzDecoder<&'a [u8]>>>;

/// Calls `each` with every file and directory entry and its checked path, enforcing the limits
/// as it goes.
fn visit(
    tar_gz: &[u8],
    limits: BundleLimits,
    mut each: impl FnMut(&Path, &mut Entry) -> Result<(), BundleError>,
) -> Result<(), BundleError> {
    let mut archive = Archive::new(Budget::new(GzDecoder::new(tar_gz), limits));
    let mut ledger = Ledger::new(limits);
    let entries = archive.entries().map_err(BundleError::Unreadable)?;
    for entry in entries {
        let mut entry = entry.map_err(budget::classify(limits, BundleError::Unreadable))?;
        // Archive-wide metadata, as `git archive` writes first; it names no file.
        if entry.header().entry_type() == EntryType::XGlobalHeader {
            continue;
        }
        let path = checked_path(&entry)?;
        ledger.record(&path, entry.header().entry_type().is_dir(), entry.size())?;
        each(&path, &mut entry)?;
    }
    Ok(())
}

fn checked_path(entry: &Entry) -> Result<PathBuf, BundleError> {
    let raw = entry.path_bytes();
    let shown_path = shown(&String::from_utf8_lossy(&raw));
    let kind = entry.header().entry_type();
    if !kind.is_file() && !kind.is_dir() {
        return Err(BundleError::UnsupportedEntry {
            path: shown_path,
            kind: kind_name(kind),
        });
    }
    let unsafe_path = || BundleError::UnsafePath {
        path: shown_path.clone(),
    };
    if raw.len() > MAX_BUNDLE_PATH_BYTES || raw.contains(&0) {
        return Err(unsafe_path());
    }
    let path = entry.path().map_err(|_| unsafe_path())?;
    normalize(&path).ok_or_else(unsafe_path)
}

/// The path's plain components, or `None` unless it is a relative path with at least one
/// name, no `..`, no root, and no overlong name.
pub fn normalize(path: &Path) -> Option<PathBuf> {
    let mut plain = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) if name.len() <= MAX_COMPONENT_BYTES => plain.push(name),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!plain.as_os_str().is_empty()).then_some(plain)
}

/// True for paths [`normalize`] accepts.
pub fn is_plain_relative(path: &Path) -> bool {
    normalize(path).is_some()
}

fn kind_name(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Symlink => "symbolic link",
        EntryType::Link => "hard link",
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "named pipe",
        EntryType::GNUSparse => "sparse file",
        _ => "special entry",
    }
}

/// Client text quoted in an error is cut short, so an error never carries a whole payload.
fn shown(text: &str) -> String {
    text.chars().take(SHOWN_PATH_CHARS).collect()
}

/// Reads an archive fully into memory; used by the backends for stored bundles.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

#[cfg(test)]
mod tests;
