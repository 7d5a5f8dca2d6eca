//! Tests of bundle checking and unpacking against hand-made hostile archives.

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

fn snakefile_and(entries: &[(&str, EntryType, &[u8])]) -> Vec<u8> {
    let mut all = vec![("Snakefile", EntryType::Regular, &b"rule a:\n"[..])];
    all.extend_from_slice(entries);
    archive(&all)
}

fn refusal(bytes: &[u8]) -> BundleError {
    inspect(bytes, Path::new("Snakefile"), LIMITS).expect_err("the bundle is refused")
}

#[test]
fn a_file_and_a_directory_at_one_path_are_refused() {
    let bytes = snakefile_and(&[
        ("x", EntryType::Regular, b""),
        ("x/y", EntryType::Regular, b""),
    ]);
    assert!(matches!(refusal(&bytes), BundleError::Conflict { .. }));
    let bytes = snakefile_and(&[("Snakefile/", EntryType::Directory, b"")]);
    assert!(matches!(refusal(&bytes), BundleError::Conflict { .. }));
}

#[test]
fn a_file_listed_twice_is_refused() {
    let bytes = snakefile_and(&[("Snakefile", EntryType::Regular, b"")]);
    assert!(matches!(refusal(&bytes), BundleError::Conflict { .. }));
}

#[test]
fn implied_directories_count_against_the_entry_limit() {
    let deep = "a/b/c/d/e/f/g/h/i/j/k";
    let bytes = snakefile_and(&[(deep, EntryType::Regular, b"")]);
    assert!(matches!(
        refusal(&bytes),
        BundleError::TooManyEntries { limit: 10 }
    ));
}

#[test]
fn a_bare_current_directory_entry_is_not_a_file() {
    let bytes = snakefile_and(&[("./", EntryType::Regular, b"")]);
    assert!(matches!(refusal(&bytes), BundleError::UnsafePath { .. }));
}

#[test]
fn overlong_path_components_are_refused() {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    let long = "n".repeat(300);
    builder.append_data(&mut header, &long, &b""[..]).unwrap();
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    assert!(matches!(refusal(&bytes), BundleError::UnsafePath { .. }));
}

#[test]
fn a_pax_size_larger_than_the_header_size_still_counts() {
    // The extension record says 2 KiB although the header says 0: the effective size counts.
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    builder
        .append_pax_extensions([("size", &b"2048"[..])])
        .unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_path("big").unwrap();
    header.set_size(0);
    header.set_cksum();
    builder.append(&header, &[0u8; 2048][..]).unwrap();
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    assert!(
        matches!(refusal(&bytes), BundleError::TooLarge { .. }),
        "{:?}",
        refusal(&bytes)
    );
}

#[test]
fn huge_extension_records_exhaust_the_decompression_budget() {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    let huge = vec![b'p'; 4 * 1024 * 1024];
    builder
        .append_pax_extensions([("comment", huge.as_slice())])
        .unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_path("Snakefile").unwrap();
    header.set_size(0);
    header.set_cksum();
    builder.append(&header, &b""[..]).unwrap();
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    assert!(
        matches!(refusal(&bytes), BundleError::TooLarge { .. }),
        "{:?}",
        refusal(&bytes)
    );
}

#[test]
fn a_leading_dot_slash_on_the_snakefile_is_the_same_file() {
    let bytes = archive(&[("Snakefile", EntryType::Regular, b"rule a:\n")]);
    inspect(&bytes, Path::new("./Snakefile"), LIMITS).expect("same file");
}

#[test]
fn a_global_extension_header_names_no_file() {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    let mut global = tar::Header::new_ustar();
    global.set_entry_type(EntryType::XGlobalHeader);
    let record = b"52 comment=0123456789012345678901234567890123456789\n";
    global.set_size(record.len() as u64);
    global.set_path("pax_global_header").unwrap();
    global.set_cksum();
    builder.append(&global, &record[..]).unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_path("Snakefile").unwrap();
    header.set_size(0);
    header.set_cksum();
    builder.append(&header, &b""[..]).unwrap();
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    inspect(&bytes, Path::new("Snakefile"), LIMITS).expect("a git archive is accepted");
}
