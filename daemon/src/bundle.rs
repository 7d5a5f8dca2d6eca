//! The submitted Snakefile directory: checking an archive from a client, and unpacking it.
//!
//! The archive is untrusted. Only regular files and directories with plain relative paths are
//! accepted, sizes are capped while decompressing (so a small archive cannot expand without
//! bound), and unpacking writes only below the destination.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::{Archive, EntryType};

/// How big a bundle may be once unpacked.
#[derive(Clone, Copy, Debug)]
pub struct BundleLimits {
    pub max_unpacked_bytes: u64,
    pub max_entries: usize,
}

/// Why an archive was refused; the message is shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is not a readable gzip-compressed tar archive: {0}")]
    Unreadable(std::io::Error),
    #[error("bundle entry {path:?} is not a plain relative path inside the bundle")]
    UnsafePath { path: String },
    #[error("bundle entry {path:?} is a {kind}; only regular files and directories are accepted")]
    UnsupportedEntry { path: String, kind: String },
    #[error("bundle unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("bundle has more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("the Snakefile {0:?} is not a file in the bundle")]
    MissingSnakefile(String),
    #[error("could not unpack the bundle")]
    Write(#[source] std::io::Error),
}

/// Checks every entry of the archive without writing anything; the Snakefile must be in it.
pub fn inspect(tar_gz: &[u8], snakefile: &Path, limits: BundleLimits) -> Result<(), BundleError> {
    let mut found = false;
    visit(tar_gz, limits, |path, entry| {
        found |= path == snakefile && entry.header().entry_type() == EntryType::Regular;
        Ok(())
    })?;
    if found {
        Ok(())
    } else {
        Err(BundleError::MissingSnakefile(
            snakefile.display().to_string(),
        ))
    }
}

/// Unpacks the archive below `destination`, applying the same checks as [`inspect`].
pub fn unpack(tar_gz: &[u8], destination: &Path, limits: BundleLimits) -> Result<(), BundleError> {
    visit(tar_gz, limits, |path, entry| {
        let target = destination.join(path);
        if entry.header().entry_type() == EntryType::Directory {
            return std::fs::create_dir_all(&target).map_err(BundleError::Write);
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(BundleError::Write)?;
        }
        let executable = entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0);
        let mut file = std::fs::File::create(&target).map_err(BundleError::Write)?;
        std::io::copy(entry, &mut file).map_err(BundleError::Write)?;
        set_executable(&target, executable).map_err(BundleError::Write)
    })
}

fn set_executable(path: &Path, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

type Entry<'a> = tar::Entry<'a, GzDecoder<&'a [u8]>>;

/// Calls `each` with every entry's checked path, enforcing the limits as it goes.
fn visit(
    tar_gz: &[u8],
    limits: BundleLimits,
    mut each: impl FnMut(&Path, &mut Entry) -> Result<(), BundleError>,
) -> Result<(), BundleError> {
    let mut archive = Archive::new(GzDecoder::new(tar_gz));
    let mut unpacked = 0u64;
    let entries = archive.entries().map_err(BundleError::Unreadable)?;
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(BundleError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let mut entry = entry.map_err(BundleError::Unreadable)?;
        let path = checked_path(&entry)?;
        unpacked = unpacked.saturating_add(entry.header().size().unwrap_or(u64::MAX));
        if unpacked > limits.max_unpacked_bytes {
            return Err(BundleError::TooLarge {
                limit: limits.max_unpacked_bytes,
            });
        }
        each(&path, &mut entry)?;
    }
    Ok(())
}

fn checked_path(entry: &Entry) -> Result<PathBuf, BundleError> {
    let raw = entry.path_bytes();
    let shown = String::from_utf8_lossy(&raw).into_owned();
    let kind = entry.header().entry_type();
    if !matches!(kind, EntryType::Regular | EntryType::Directory) {
        let kind = format!("{kind:?}").to_lowercase();
        return Err(BundleError::UnsupportedEntry { path: shown, kind });
    }
    let path = entry.path().map_err(|_| BundleError::UnsafePath {
        path: shown.clone(),
    })?;
    if !is_plain_relative(&path) {
        return Err(BundleError::UnsafePath { path: shown });
    }
    Ok(path.into_owned())
}

/// True when every component is a plain name: no root, no `..`, not empty.
pub fn is_plain_relative(path: &Path) -> bool {
    let mut components = path.components().peekable();
    components.peek().is_some()
        && components.all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Reads an archive fully into memory; used by tests and by the backends for stored bundles.
pub fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};

    const LIMITS: BundleLimits = BundleLimits {
        max_unpacked_bytes: 1024,
        max_entries: 10,
    };

    fn archive(entries: &[(&str, EntryType, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for (path, kind, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            // set_path refuses `..`, so write the name field directly as an attacker would.
            header.as_gnu_mut().expect("gnu header").name[..path.len()]
                .copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder
                .append(&header, *data)
                .expect("append to an in-memory archive");
        }
        builder
            .into_inner()
            .and_then(|gz| gz.finish())
            .expect("finish archive")
    }

    #[test]
    fn a_plain_bundle_with_its_snakefile_is_accepted() {
        let bytes = archive(&[
            ("Snakefile", EntryType::Regular, b"rule a:\n"),
            ("rules/", EntryType::Directory, b""),
        ]);
        inspect(&bytes, Path::new("Snakefile"), LIMITS).expect("accepted");
    }

    #[test]
    fn a_bundle_without_the_named_snakefile_is_refused() {
        let bytes = archive(&[("other", EntryType::Regular, b"x")]);
        let error = inspect(&bytes, Path::new("Snakefile"), LIMITS).unwrap_err();
        assert!(matches!(error, BundleError::MissingSnakefile(_)));
    }

    #[test]
    fn parent_directory_paths_are_refused() {
        let bytes = archive(&[("../evil", EntryType::Regular, b"x")]);
        let error = inspect(&bytes, Path::new("Snakefile"), LIMITS).unwrap_err();
        assert!(matches!(error, BundleError::UnsafePath { .. }), "{error}");
    }

    #[test]
    fn absolute_paths_are_refused() {
        let bytes = archive(&[("/etc/evil", EntryType::Regular, b"x")]);
        let error = inspect(&bytes, Path::new("Snakefile"), LIMITS).unwrap_err();
        assert!(matches!(error, BundleError::UnsafePath { .. }), "{error}");
    }

    #[test]
    fn symlinks_are_refused() {
        let bytes = archive(&[("link", EntryType::Symlink, b"")]);
        let error = inspect(&bytes, Path::new("Snakefile"), LIMITS).unwrap_err();
        assert!(
            matches!(error, BundleError::UnsupportedEntry { .. }),
            "{error}"
        );
    }

    #[test]
    fn bundles_over_the_unpacked_size_are_refused() {
        let big = vec![b'x'; 2048];
        let bytes = archive(&[("Snakefile", EntryType::Regular, &big)]);
        let error = inspect(&bytes, Path::new("Snakefile"), LIMITS).unwrap_err();
        assert!(matches!(error, BundleError::TooLarge { limit: 1024 }));
    }

    #[test]
    fn bundles_with_too_many_entries_are_refused() {
        let names: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
        let entries: Vec<_> = names
            .iter()
            .map(|n| (n.as_str(), EntryType::Regular, &b""[..]))
            .collect();
        let error = inspect(&archive(&entries), Path::new("f0"), LIMITS).unwrap_err();
        assert!(matches!(error, BundleError::TooManyEntries { limit: 10 }));
    }

    #[test]
    fn garbage_is_refused_as_unreadable() {
        let error = inspect(b"not gzip", Path::new("Snakefile"), LIMITS).unwrap_err();
        assert!(matches!(error, BundleError::Unreadable(_)));
    }

    #[test]
    fn unpacking_writes_the_files_below_the_destination() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes = archive(&[("rules/a.smk", EntryType::Regular, b"rule a:\n")]);
        unpack(&bytes, dir.path(), LIMITS).expect("unpacked");
        let text = std::fs::read_to_string(dir.path().join("rules/a.smk")).expect("written");
        assert_eq!(text, "rule a:\n");
    }
}
