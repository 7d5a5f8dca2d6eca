//! Packing the Snakefile's directory into the deterministic tar.gz that travels with a
//! submission.

mod error;
mod listing;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use byok8s_proto::rules::MAX_BUNDLE_PATH_BYTES;
use flate2::Compression;
use flate2::write::GzEncoder;

pub use error::BundleError;
pub(crate) use error::human_size;
use listing::{FileEntry, list};

/// The name of the ignore file, read like `.gitignore`, for what only byok8s should skip.
pub const IGNORE_FILE: &str = ".byok8signore";

/// How much a bundle may hold, so a stray data directory is caught before it is uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// The most bytes of file content before compression, and of the archive after it.
    pub max_bytes: u64,
    /// The most entries: files plus the directories that hold them, counted as byok8sd
    /// counts them.
    pub max_entries: usize,
}

impl Default for BundleLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_entries: 10_000,
        }
    }
}

/// The Snakefile's directory, packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The gzip-compressed tar archive.
    pub tar_gz: Vec<u8>,
    /// The Snakefile's path inside the archive, with `/` separators.
    pub snakefile: String,
    /// The directory that was packed.
    pub root: PathBuf,
    /// How many files the archive holds.
    pub file_count: usize,
    /// Their content size in bytes, before compression.
    pub total_bytes: u64,
    /// Symlinks met and left out, relative to `root`; callers should warn about them.
    pub skipped_symlinks: Vec<PathBuf>,
}

impl Bundle {
    /// What travels, as people read it, such as `7 files (12.3 KiB)`.
    pub fn summary(&self) -> String {
        let files = match self.file_count {
            1 => "file",
            _ => "files",
        };
        let size = human_size(self.total_bytes);
        format!("{} {files} ({size})", self.file_count)
    }
}

/// Packs the directory holding `snakefile` within `limits`.
///
/// Hidden files and directories are left out, as is anything matched by a `.gitignore` or
/// `.byok8signore` (in the directory, below it, or above it), so `.snakemake/` and `.git/`
/// never travel. Symlinks are skipped and reported. Files keep only their executable bit, and
/// every timestamp is zero, so identical trees give identical bytes.
pub fn build_bundle(snakefile: &Path, limits: &BundleLimits) -> Result<Bundle, BundleError> {
    let root = match snakefile.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let listing = list(&root)?;
    let inside = PathBuf::from(snakefile.file_name().unwrap_or_default());
    if !listing.files.iter().any(|file| file.relative == inside) {
        return Err(BundleError::SnakefileExcluded {
            path: snakefile.to_path_buf(),
        });
    }
    let total_bytes = check_limits(&root, &listing.files, limits)?;
    let tar_gz = pack(&root, &listing.files)?;
    // Content that does not compress comes out slightly larger than it went in.
    if tar_gz.len() as u64 > limits.max_bytes {
        return Err(BundleError::CompressedTooLarge {
            dir: root,
            found: tar_gz.len() as u64,
            cap: limits.max_bytes,
        });
    }
    Ok(Bundle {
        tar_gz,
        snakefile: inside.to_string_lossy().into_owned(),
        file_count: listing.files.len(),
        total_bytes,
        skipped_symlinks: listing.symlinks,
        root,
    })
}

fn check_limits(
    root: &Path,
    files: &[FileEntry],
    limits: &BundleLimits,
) -> Result<u64, BundleError> {
    let dir = root.to_path_buf();
    let entries = entry_count(files);
    if entries > limits.max_entries {
        return Err(BundleError::TooManyEntries {
            dir,
            found: entries,
            cap: limits.max_entries,
        });
    }
    if let Some(file) = files
        .iter()
        .find(|file| file.relative.as_os_str().len() > MAX_BUNDLE_PATH_BYTES)
    {
        return Err(BundleError::PathTooLong {
            path: file.relative.clone(),
            cap: MAX_BUNDLE_PATH_BYTES,
        });
    }
    let found: u64 = files.iter().map(|file| file.size).sum();
    if found > limits.max_bytes {
        return Err(BundleError::TooLarge {
            dir,
            found,
            cap: limits.max_bytes,
        });
    }
    Ok(found)
}

/// Files plus every directory above them inside the bundle. The archive holds no directory
/// entries, but byok8sd counts the directories a path implies against the same cap.
fn entry_count(files: &[FileEntry]) -> usize {
    let directories: HashSet<&Path> = files
        .iter()
        .flat_map(|file| file.relative.ancestors().skip(1))
        .filter(|dir| !dir.as_os_str().is_empty())
        .collect();
    files.len() + directories.len()
}

fn pack(root: &Path, files: &[FileEntry]) -> Result<Vec<u8>, BundleError> {
    let mut archive = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for file in files {
        let path = root.join(&file.relative);
        let data = fs::read(&path).map_err(|source| BundleError::Read { path, source })?;
        let mut header = file_header(data.len() as u64, file.executable);
        archive
            .append_data(&mut header, &file.relative, data.as_slice())
            .map_err(BundleError::Pack)?;
    }
    let encoder = archive.into_inner().map_err(BundleError::Pack)?;
    encoder.finish().map_err(BundleError::Pack)
}

fn file_header(size: u64, executable: bool) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(if executable { 0o755 } else { 0o644 });
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

#[cfg(test)]
mod tests;
