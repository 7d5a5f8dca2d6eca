//! Why a workflow directory could not be packed, with sizes shown as people read them.

use std::io;
use std::path::PathBuf;

/// Why the directory could not be packed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The directory could not be listed.
    #[error("cannot list the workflow directory {}", .dir.display())]
    Walk {
        /// The directory being packed.
        dir: PathBuf,
        /// What the walk reported.
        source: ignore::Error,
    },
    /// A file could not be read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: io::Error,
    },
    /// The files add up to more bytes than a bundle may hold.
    #[error(
        "the workflow directory {} holds {} of files, more than the bundle size cap of {}",
        .dir.display(), human_size(*.found), human_size(*.cap)
    )]
    TooLarge {
        /// The directory being packed.
        dir: PathBuf,
        /// The bytes found.
        found: u64,
        /// The cap.
        cap: u64,
    },
    /// The compressed archive is larger than a bundle may be.
    #[error(
        "the workflow directory {} packs into {}, more than the bundle size cap of {}",
        .dir.display(), human_size(*.found), human_size(*.cap)
    )]
    CompressedTooLarge {
        /// The directory being packed.
        dir: PathBuf,
        /// The archive's size in bytes.
        found: u64,
        /// The cap.
        cap: u64,
    },
    /// A file's path inside the bundle is longer than byok8sd accepts.
    #[error(
        "the path {} is longer than the {cap} bytes a path inside the bundle may have",
        .path.display()
    )]
    PathTooLong {
        /// The path, relative to the workflow directory.
        path: PathBuf,
        /// The cap in bytes.
        cap: usize,
    },
    /// There are more files and directories than a bundle may hold.
    #[error(
        "the workflow directory {} holds {found} files and directories, more than the bundle \
         cap of {cap}",
        .dir.display()
    )]
    TooManyEntries {
        /// The directory being packed.
        dir: PathBuf,
        /// The files and directories found.
        found: usize,
        /// The cap.
        cap: usize,
    },
    /// The Snakefile itself is hidden, ignored or a symlink, so it would be missing.
    #[error("the Snakefile {} would not be in the bundle: it is hidden, ignored or a symlink", .path.display())]
    SnakefileExcluded {
        /// The Snakefile.
        path: PathBuf,
    },
    /// Writing the archive failed.
    #[error("cannot pack the bundle")]
    Pack(#[source] io::Error),
}

/// A byte count in the unit a person would use, such as `72.5 MiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(64 * 1024 * 1024), "64.0 MiB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }
}
