//! What a bundle has declared so far: its files, its directories (stated or implied) and
//! their size, so that conflicts and limits are caught before anything is written.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{BundleError, BundleLimits, shown};

pub struct Ledger {
    limits: BundleLimits,
    files: HashSet<PathBuf>,
    directories: HashSet<PathBuf>,
    bytes: u64,
}

impl Ledger {
    pub fn new(limits: BundleLimits) -> Ledger {
        Ledger {
            limits,
            files: HashSet::new(),
            directories: HashSet::new(),
            bytes: 0,
        }
    }

    /// Records one entry of `size` bytes (its effective size, extensions included).
    pub fn record(&mut self, path: &Path, is_dir: bool, size: u64) -> Result<(), BundleError> {
        let conflict = || BundleError::Conflict {
            path: shown(&path.to_string_lossy()),
        };
        for ancestor in path
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty())
        {
            if self.files.contains(ancestor) {
                return Err(conflict());
            }
            self.directories.insert(ancestor.to_owned());
        }
        if is_dir {
            if self.files.contains(path) {
                return Err(conflict());
            }
            self.directories.insert(path.to_owned());
        } else if self.directories.contains(path) || !self.files.insert(path.to_owned()) {
            return Err(conflict());
        }

        self.bytes = self.bytes.saturating_add(size);
        if self.bytes > self.limits.max_unpacked_bytes {
            return Err(BundleError::TooLarge {
                limit: self.limits.max_unpacked_bytes,
            });
        }
        if self.files.len() + self.directories.len() > self.limits.max_entries {
            return Err(BundleError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }
}
