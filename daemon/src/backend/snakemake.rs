//! Finding the Snakemake executable once at start, so a wrong path fails the start and not
//! every run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

/// How long `snakemake --version` may take; it imports a lot of Python.
const VERSION_TIMEOUT: Duration = Duration::from_secs(120);

/// Why Snakemake is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SnakemakeError {
    #[error("{0} is not an executable file, nor found on PATH")]
    NotFound(String),
    #[error("`{path} --version` failed: {reason}")]
    Broken { path: String, reason: String },
}

/// The absolute path of `given`: a path with a directory part is taken relative to the current
/// directory (runs execute elsewhere), a bare name is looked up on PATH.
pub fn resolve(given: &Path) -> Result<PathBuf, SnakemakeError> {
    let not_found = || SnakemakeError::NotFound(given.display().to_string());
    let candidates: Vec<PathBuf> = if given.components().count() > 1 || given.is_absolute() {
        vec![std::path::absolute(given).map_err(|_| not_found())?]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join(given))
            .collect()
    };
    candidates
        .into_iter()
        .find(|p| is_executable(p))
        .ok_or_else(not_found)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `snakemake --version` and returns what it printed.
pub async fn version(path: &Path) -> Result<String, SnakemakeError> {
    let broken = |reason: String| SnakemakeError::Broken {
        path: path.display().to_string(),
        reason,
    };
    let mut command = Command::new(path);
    command.arg("--version").kill_on_drop(true);
    let output = match tokio::time::timeout(VERSION_TIMEOUT, command.output()).await {
        Ok(output) => output.map_err(|e| broken(e.to_string()))?,
        Err(_) => {
            return Err(broken(format!(
                "no answer within {}s",
                VERSION_TIMEOUT.as_secs()
            )));
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no output").to_owned();
        return Err(broken(format!("{}: {last}", output.status)));
    }
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match major_version(&printed) {
        Some(major) if major >= MIN_MAJOR_VERSION => Ok(printed),
        Some(_) => Err(broken(format!(
            "it is Snakemake {printed}; byok8sd needs Snakemake {MIN_MAJOR_VERSION} or later              (for logger plugins)"
        ))),
        None => Err(broken(format!(
            "it printed {:?}, not a Snakemake version",
            printed
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect::<String>()
        ))),
    }
}

/// The first Snakemake release with logger plugins (`--logger`), which byok8sd reads runs
/// through.
const MIN_MAJOR_VERSION: u32 = 9;

/// The major version of what `snakemake --version` printed, such as `9` of `9.27.1`; `None`
/// unless it is one line of numbers joined by dots (a suffix such as `.dev0` allowed).
fn major_version(printed: &str) -> Option<u32> {
    let mut parts = printed.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor_is_number = parts.next()?.parse::<u32>().is_ok();
    (minor_is_number && !printed.contains(char::is_whitespace)).then_some(major)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_is_found_on_path() {
        let found = resolve(Path::new("sh")).expect("sh is on PATH");
        assert!(found.is_absolute() && found.ends_with("sh"));
    }

    #[test]
    fn a_relative_path_becomes_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let here = std::env::current_dir().unwrap();
        let relative = pathdiff(dir.path(), &here).join("tool");
        std::fs::write(dir.path().join("tool"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_eq!(
            resolve(&relative).unwrap(),
            std::path::absolute(&relative).unwrap()
        );
    }

    /// `target` as a path relative to `base` (both absolute).
    fn pathdiff(target: &Path, base: &Path) -> PathBuf {
        let ups = base.components().count() - 1;
        let mut relative: PathBuf = std::iter::repeat_n("..", ups).collect();
        relative.push(target.strip_prefix("/").unwrap());
        relative
    }

    #[test]
    fn a_missing_executable_is_named() {
        let error = resolve(Path::new("no-such-snakemake-here")).unwrap_err();
        assert!(error.to_string().contains("no-such-snakemake-here"));
    }

    #[tokio::test]
    async fn a_program_that_fails_its_version_check_is_reported() {
        let error = version(Path::new("/bin/false")).await.unwrap_err();
        assert!(matches!(error, SnakemakeError::Broken { .. }));
    }

    #[tokio::test]
    async fn a_program_that_prints_no_version_is_not_taken_for_snakemake() {
        // GNU `true` prints its own banner for --version; the busybox one prints nothing.
        let error = version(Path::new("/bin/true")).await.unwrap_err();
        assert!(
            error.to_string().contains("not a Snakemake version"),
            "{error}"
        );
    }

    #[test]
    fn versions_are_read_as_snakemake_prints_them() {
        assert_eq!(major_version("9.27.1"), Some(9));
        assert_eq!(major_version("10.0.0.dev3"), Some(10));
        assert_eq!(major_version("8.30"), Some(8));
        assert_eq!(major_version("true (GNU coreutils) 9.1"), None);
        assert_eq!(major_version("9"), None);
        assert_eq!(major_version(""), None);
    }
}
