//! The bubblewrap command line that gives a container its own view of the filesystem.
//!
//! The sandbox root is a fresh tmpfs. Every top-level entry of the host's `/` is bound into
//! it read-only (symlinks recreated), except `/proc`, `/dev` and `/tmp`, which are private.
//! A mount target below a host directory is reached by recreating that directory in the tmpfs
//! and binding its other entries one by one, so mountpoints (`/workdir`,
//! `/var/run/secrets/...`) are created inside the sandbox and never on the host. Writes land
//! only in volumes, the pod's private `/tmp` and its `HOME`.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Where bubblewrap is installed (Debian package `bubblewrap`).
pub const BWRAP: &str = "/usr/bin/bwrap";

/// Host root entries never mirrored: they are provided fresh or privately.
const PRIVATE: [&str; 4] = ["proc", "dev", "tmp", "sys"];

/// A directory bound into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// Everything about a container's filesystem view.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    pub hostname: String,
    /// Private `/tmp` of the pod.
    pub tmp: PathBuf,
    /// Emulated image contents (venvs), bound read-only at their own paths.
    pub runner_roots: Vec<PathBuf>,
    pub mounts: Vec<Mount>,
    pub working_dir: Option<String>,
}

impl Sandbox {
    /// bwrap's arguments for running `argv` in this sandbox.
    pub fn args(&self, argv: &[String]) -> Vec<String> {
        let mut args: Vec<String> = [
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-uts",
            "--unshare-ipc",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--ro-bind",
            "/sys",
            "/sys",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend([
            "--hostname".into(),
            self.hostname.chars().take(63).collect(),
        ]);
        let mut targets: Vec<Mount> = self.mounts.iter().map(resolve_target).collect();
        targets.sort_by_key(|m| m.target.components().count());
        let target_paths: BTreeSet<PathBuf> = targets.iter().map(|m| m.target.clone()).collect();
        mirror(Path::new("/"), &target_paths, &mut args);
        bind(&mut args, &self.tmp, Path::new("/tmp"), false);
        for root in &self.runner_roots {
            bind(&mut args, root, root, true);
        }
        for mount in &targets {
            bind(&mut args, &mount.source, &mount.target, mount.read_only);
        }
        if let Some(dir) = &self.working_dir {
            args.extend(["--chdir".into(), dir.clone()]);
        }
        args.push("--".into());
        args.extend(argv.iter().cloned());
        args
    }
}

fn bind(args: &mut Vec<String>, source: &Path, target: &Path, read_only: bool) {
    let flag = if read_only { "--ro-bind" } else { "--bind" };
    args.extend([flag.into(), display(source), display(target)]);
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Follows host symlinks in the existing part of a mount target, as a container runtime
/// resolves mount paths inside the image (`/var/run` is `/run` on Debian).
fn resolve_target(mount: &Mount) -> Mount {
    let mut existing = PathBuf::from("/");
    let mut rest = Vec::new();
    for component in mount.target.components() {
        match component {
            Component::Normal(part) if rest.is_empty() && existing.join(part).exists() => {
                existing.push(part)
            }
            Component::Normal(part) => rest.push(part.to_os_string()),
            _ => {}
        }
    }
    let mut target = std::fs::canonicalize(&existing).unwrap_or(existing);
    target.extend(rest);
    Mount {
        target,
        ..mount.clone()
    }
}

/// Recreates `dir` of the host inside the sandbox, descending only where a mount target lies.
fn mirror(dir: &Path, targets: &BTreeSet<PathBuf>, args: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let at_root = dir == Path::new("/");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if (at_root && PRIVATE.contains(&name.as_str())) || targets.contains(&path) {
            continue;
        }
        mirror_entry(&path, targets, args);
    }
}

fn mirror_entry(path: &Path, targets: &BTreeSet<PathBuf>, args: &mut Vec<String>) {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return;
    };
    if metadata.file_type().is_symlink() {
        if let Ok(link) = std::fs::read_link(path) {
            args.extend(["--symlink".into(), display(&link), display(path)]);
        }
    } else if metadata.is_dir() && targets.iter().any(|t| t.starts_with(path)) {
        args.extend(["--dir".into(), display(path)]);
        mirror(path, targets, args);
    } else if metadata.is_dir() || metadata.is_file() {
        bind(args, path, path, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(mounts: Vec<Mount>) -> Sandbox {
        Sandbox {
            hostname: "p".into(),
            tmp: "/state/tmp".into(),
            mounts,
            ..Sandbox::default()
        }
    }

    #[test]
    fn the_host_root_is_mirrored_read_only_without_private_entries() {
        let args = sandbox(vec![]).args(&["true".into()]);
        let joined = args.join(" ");
        assert!(
            joined.contains("--ro-bind /usr /usr") || joined.contains("--symlink"),
            "{joined}"
        );
        assert!(!joined.contains("--ro-bind /tmp /tmp"));
        assert!(!joined.contains("--ro-bind /proc /proc"));
        assert!(joined.contains("--bind /state/tmp /tmp"));
        assert!(joined.ends_with("-- true"));
    }

    #[test]
    fn a_mount_below_a_host_directory_descends_instead_of_binding_it() {
        let mount = Mount {
            source: "/state/v".into(),
            target: "/etc/byok8s-test/x".into(),
            read_only: false,
        };
        let args = sandbox(vec![mount]).args(&["true".into()]);
        let joined = args.join(" ");
        assert!(joined.contains("--dir /etc "), "{joined}");
        assert!(!joined.contains("--ro-bind /etc /etc"));
        assert!(joined.contains("--bind /state/v /etc/byok8s-test/x"));
    }

    #[test]
    fn mount_targets_follow_host_symlinks() {
        let mount = Mount {
            source: "/s".into(),
            target: "/bin/zz-not-there".into(),
            read_only: true,
        };
        let resolved = resolve_target(&mount);
        assert_eq!(
            resolved.target,
            std::fs::canonicalize("/bin").unwrap().join("zz-not-there")
        );
    }
}
