//! Tests of bundle packing against trees built in temporary directories.

use std::io::Read;

use flate2::read::GzDecoder;

use super::*;

/// A packed file as read back from the archive.
#[derive(Debug, PartialEq)]
struct Packed {
    path: String,
    mode: u32,
    mtime: u64,
    text: String,
}

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn unpack(bundle: &Bundle) -> Vec<Packed> {
    let mut archive = tar::Archive::new(GzDecoder::new(bundle.tar_gz.as_slice()));
    let mut packed = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        let header = entry.header();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let (mode, mtime) = (header.mode().unwrap(), header.mtime().unwrap());
        packed.push(Packed {
            path,
            mode,
            mtime,
            text,
        });
    }
    packed
}

fn paths(bundle: &Bundle) -> Vec<String> {
    unpack(bundle).into_iter().map(|file| file.path).collect()
}

fn bundle_of(dir: &tempfile::TempDir) -> Bundle {
    build_bundle(&dir.path().join("Snakefile"), &BundleLimits::default()).unwrap()
}

#[test]
fn files_are_packed_sorted_with_relative_paths() {
    let dir = tree(&[
        ("Snakefile", "rule all:\n"),
        ("scripts/b.py", "b"),
        ("a.txt", "a"),
    ]);
    let bundle = bundle_of(&dir);
    assert_eq!(paths(&bundle), ["Snakefile", "a.txt", "scripts/b.py"]);
    assert_eq!(bundle.snakefile, "Snakefile");
    assert_eq!(bundle.file_count, 3);
}

#[test]
fn hidden_directories_and_snakemake_state_are_skipped() {
    let dir = tree(&[
        ("Snakefile", "x"),
        (".snakemake/log/run.log", "log"),
        (".git/config", "git"),
        (".env", "secret"),
        ("rules/.cache/x", "c"),
        ("rules/common.smk", "r"),
    ]);
    assert_eq!(paths(&bundle_of(&dir)), ["Snakefile", "rules/common.smk"]);
}

#[test]
fn gitignore_is_honoured_outside_a_git_repository() {
    let dir = tree(&[
        ("Snakefile", "x"),
        (".gitignore", "results/\n*.log\n"),
        ("results/out.txt", "o"),
        ("run.log", "l"),
        ("keep.txt", "k"),
    ]);
    assert_eq!(paths(&bundle_of(&dir)), ["Snakefile", "keep.txt"]);
}

#[test]
fn byok8signore_is_honoured() {
    let dir = tree(&[
        ("Snakefile", "x"),
        (".byok8signore", "data/\n"),
        ("data/big.bin", "0000"),
        ("keep.txt", "k"),
    ]);
    assert_eq!(paths(&bundle_of(&dir)), ["Snakefile", "keep.txt"]);
}

#[cfg(unix)]
#[test]
fn executable_bit_is_kept_and_other_modes_are_normalised() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[("Snakefile", "x"), ("run.sh", "#!/bin/sh\n")]);
    fs::set_permissions(dir.path().join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(
        dir.path().join("Snakefile"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let modes: Vec<_> = unpack(&bundle_of(&dir))
        .into_iter()
        .map(|f| (f.path, f.mode))
        .collect();
    assert_eq!(
        modes,
        [
            ("Snakefile".to_owned(), 0o644),
            ("run.sh".to_owned(), 0o755)
        ]
    );
}

#[test]
fn timestamps_are_zero_and_contents_intact() {
    let dir = tree(&[("Snakefile", "rule all:\n")]);
    let packed = unpack(&bundle_of(&dir));
    assert_eq!(packed[0].mtime, 0);
    assert_eq!(packed[0].text, "rule all:\n");
}

#[test]
fn identical_trees_give_identical_bytes() {
    let files = [("Snakefile", "x"), ("a/b.txt", "b"), ("c.txt", "c")];
    let (first, second) = (tree(&files), tree(&files));
    assert_eq!(bundle_of(&first).tar_gz, bundle_of(&second).tar_gz);
}

#[cfg(unix)]
#[test]
fn symlinks_are_skipped_and_reported() {
    let dir = tree(&[("Snakefile", "x"), ("real.txt", "r")]);
    std::os::unix::fs::symlink("real.txt", dir.path().join("link.txt")).unwrap();
    let bundle = bundle_of(&dir);
    assert_eq!(paths(&bundle), ["Snakefile", "real.txt"]);
    assert_eq!(bundle.skipped_symlinks, [PathBuf::from("link.txt")]);
}

#[test]
fn snakefile_path_is_relative_to_its_directory() {
    let dir = tree(&[
        ("flows/wf.smk", "x"),
        ("flows/helper.py", "h"),
        ("outside.txt", "o"),
    ]);
    let bundle = build_bundle(&dir.path().join("flows/wf.smk"), &BundleLimits::default()).unwrap();
    assert_eq!(bundle.snakefile, "wf.smk");
    assert_eq!(paths(&bundle), ["helper.py", "wf.smk"]);
    assert_eq!(bundle.root, dir.path().join("flows"));
}

#[test]
fn size_cap_error_names_the_cap_and_the_size_found() {
    let dir = tree(&[("Snakefile", "x"), ("data.bin", &"0".repeat(3000))]);
    let limits = BundleLimits {
        max_bytes: 2048,
        max_entries: 10,
    };
    let err = build_bundle(&dir.path().join("Snakefile"), &limits).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("holds 2.9 KiB of files"), "{text}");
    assert!(text.contains("size cap of 2.0 KiB"), "{text}");
}

#[test]
fn an_archive_larger_than_the_cap_is_refused_though_its_content_fits() {
    let dir = tree(&[("Snakefile", "x")]);
    // Bytes from a linear congruential generator, which gzip cannot shrink.
    let mut state = 1u32;
    let noise: Vec<u8> = (0..2000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 24) as u8
        })
        .collect();
    fs::write(dir.path().join("noise.bin"), noise).unwrap();
    let limits = BundleLimits {
        max_bytes: 2048,
        max_entries: 10,
    };
    let err = build_bundle(&dir.path().join("Snakefile"), &limits).unwrap_err();
    assert!(
        matches!(err, BundleError::CompressedTooLarge { cap: 2048, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("packs into 2."), "{err}");
}

#[test]
fn a_path_longer_than_the_daemon_accepts_is_refused_before_packing() {
    let deep = vec!["d".repeat(250); 5].join("/");
    let dir = tree(&[("Snakefile", "x"), (&format!("{deep}/f"), "f")]);
    let err = build_bundle(&dir.path().join("Snakefile"), &BundleLimits::default()).unwrap_err();
    assert!(
        matches!(&err, BundleError::PathTooLong { path, cap: 1024 } if path.ends_with("f")),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("longer than the 1024 bytes"),
        "{err}"
    );
}

#[test]
fn entry_cap_error_names_the_count() {
    let dir = tree(&[("Snakefile", "x"), ("a", "a"), ("b", "b")]);
    let limits = BundleLimits {
        max_bytes: 1024,
        max_entries: 2,
    };
    let err = build_bundle(&dir.path().join("Snakefile"), &limits).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::TooManyEntries {
                found: 3,
                cap: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("holds 3 files and directories"),
        "{err}"
    );
}

#[test]
fn directories_count_against_the_entry_cap_once_each() {
    let dir = tree(&[
        ("Snakefile", "x"),
        ("rules/a.smk", "a"),
        ("rules/b.smk", "b"),
        ("scripts/deep/c.py", "c"),
    ]);
    let snakefile = dir.path().join("Snakefile");
    let exact = BundleLimits {
        max_bytes: 1024,
        max_entries: 7,
    };
    assert!(build_bundle(&snakefile, &exact).is_ok());
    let one_short = BundleLimits {
        max_entries: 6,
        ..exact
    };
    let err = build_bundle(&snakefile, &one_short).unwrap_err();
    assert!(
        matches!(err, BundleError::TooManyEntries { found: 7, .. }),
        "4 files, rules/, scripts/ and scripts/deep/: {err:?}"
    );
}

#[test]
fn an_ignored_snakefile_is_an_error() {
    let dir = tree(&[("Snakefile", "x"), (".byok8signore", "Snakefile\n")]);
    let err = build_bundle(&dir.path().join("Snakefile"), &BundleLimits::default()).unwrap_err();
    assert!(
        matches!(err, BundleError::SnakefileExcluded { .. }),
        "{err:?}"
    );
}

#[test]
fn the_summary_counts_files_and_their_size() {
    let one = tree(&[("Snakefile", "rule all:\n")]);
    assert_eq!(bundle_of(&one).summary(), "1 file (10 B)");
    let more = tree(&[("Snakefile", "x"), ("data.txt", &"0".repeat(2047))]);
    assert_eq!(bundle_of(&more).summary(), "2 files (2.0 KiB)");
}
