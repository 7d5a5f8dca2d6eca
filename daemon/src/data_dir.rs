//! The data directory: made absolute, created readable by its owner only, and held by one
//! daemon at a time.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("could not create the data directory {path}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("the data directory {path} exists and is not a directory")]
    NotADirectory { path: String },
    #[error("could not lock the data directory {path}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
    /// Two daemons on one directory would each take the other's runs for leftovers of a crash
    /// and kill them.
    #[error("another byok8sd is already using the data directory {path}")]
    InUse { path: String },
}

/// The data directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    // The lock is the open file itself: the kernel releases it when the process ends, however
    // it ends. std opens files close-on-exec, so Snakemake processes never inherit it.
    _lock: File,
}

impl DataDir {
    /// Creates the directory (and its parents) if needed, and locks it.
    ///
    /// The path is made canonical: runs execute in directories below it, where a relative path
    /// would point somewhere else, and their processes are recognised by a working directory
    /// the kernel reports without symlinks.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        let shown = path.display().to_string();
        let create_error = |source| DataDirError::Create {
            path: shown.clone(),
            source,
        };
        if std::fs::metadata(path).is_ok_and(|metadata| !metadata.is_dir()) {
            return Err(DataDirError::NotADirectory { path: shown });
        }
        create_private(path).map_err(create_error)?;
        let path = std::fs::canonicalize(path).map_err(create_error)?;

        let lock_error = |source| DataDirError::Lock {
            path: shown.clone(),
            source,
        };
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join("byok8sd.lock"))
            .map_err(lock_error)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(DataDirError::InUse { path: shown }),
            Err(TryLockError::Error(source)) => return Err(lock_error(source)),
        }
        Ok(DataDir { path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates a directory (and its parents) readable by the owner only: the data directory holds
/// the TLS key, the database and every run's files.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_daemon_cannot_open_a_data_directory_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        let second = DataDir::open(dir.path());
        assert!(
            matches!(second, Err(DataDirError::InUse { .. })),
            "{second:?}"
        );

        drop(first);
        assert!(
            DataDir::open(dir.path()).is_ok(),
            "free again once released"
        );
    }

    #[test]
    fn a_data_directory_reached_through_a_symlink_is_known_by_its_real_path() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();

        let opened = DataDir::open(&dir.path().join("link")).unwrap();

        assert_eq!(opened.path(), std::fs::canonicalize(&real).unwrap());
    }

    #[test]
    fn a_file_in_the_data_directory_s_place_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, "").unwrap();
        let error = DataDir::open(&file).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the data directory {} exists and is not a directory",
                file.display()
            )
        );
    }

    #[test]
    fn the_data_directory_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let opened = DataDir::open(&dir.path().join("new/data")).unwrap();
        let mode = std::fs::metadata(opened.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
