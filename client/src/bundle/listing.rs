//! Walking the workflow directory: which files travel, which are ignored, which are symlinks.

use std::fs;
use std::path::{Path, PathBuf};

use ignore::{DirEntry, WalkBuilder};

use super::{BundleError, IGNORE_FILE};

/// One regular file found by the walk.
#[derive(Debug)]
pub(super) struct FileEntry {
    pub(super) relative: PathBuf,
    pub(super) size: u64,
    pub(super) executable: bool,
}

/// What the walk found in the directory.
#[derive(Debug, Default)]
pub(super) struct Listing {
    pub(super) files: Vec<FileEntry>,
    pub(super) symlinks: Vec<PathBuf>,
}

/// Every file that travels and every symlink left out, each sorted by path.
pub(super) fn list(root: &Path) -> Result<Listing, BundleError> {
    let mut listing = Listing::default();
    for entry in walker(root).build() {
        let entry = entry.map_err(|source| walk_error(root, source))?;
        listing.add(root, &entry)?;
    }
    listing.files.sort_by(|a, b| a.relative.cmp(&b.relative));
    listing.symlinks.sort();
    Ok(listing)
}

impl Listing {
    fn add(&mut self, root: &Path, entry: &DirEntry) -> Result<(), BundleError> {
        let Some(kind) = entry.file_type() else {
            return Ok(());
        };
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        if kind.is_symlink() {
            self.symlinks.push(relative);
        } else if kind.is_file() {
            let metadata = entry
                .metadata()
                .map_err(|source| walk_error(root, source))?;
            let (size, executable) = (metadata.len(), is_executable(&metadata));
            self.files.push(FileEntry {
                relative,
                size,
                executable,
            });
        }
        Ok(())
    }
}

fn walk_error(root: &Path, source: ignore::Error) -> BundleError {
    BundleError::Walk {
        dir: root.to_path_buf(),
        source,
    }
}

fn walker(root: &Path) -> WalkBuilder {
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        // The user's personal ignore rules would make the bundle differ between machines.
        .git_global(false)
        .ignore(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE);
    builder
}

#[cfg(unix)]
fn is_executable(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &fs::Metadata) -> bool {
    false
}
