//! Every manifest byok8s ships or creates validates offline against the official Kubernetes
//! OpenAPI schemas, and against the name and label rules schemas do not check.

use std::process::Command;

use byok8s_tests::{Scratch, repo_root};

/// The driver Job byok8sd creates, as its snapshot test pins it (the snapshot is the generated
/// object, so validating it validates what the daemon sends).
fn generated_driver_job(scratch: &Scratch) -> std::path::PathBuf {
    let snapshots = repo_root().join("daemon/src/backend/kubernetes/snapshots");
    let snapshot = std::fs::read_dir(&snapshots)
        .expect("the daemon's manifest snapshots")
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_string_lossy().contains("driver_job"))
        .expect("a driver Job snapshot");
    let text = std::fs::read_to_string(snapshot.path()).expect("read the snapshot");
    // An insta snapshot is a front matter block between `---` lines, then the value.
    let json = text.splitn(3, "---\n").nth(2).expect("a snapshot body");
    let path = scratch.path().join("driver-job.json");
    std::fs::write(&path, json).expect("write the manifest");
    path
}

#[test]
fn shipped_and_generated_manifests_validate_offline() {
    let scratch = Scratch::new();
    let driver_job = generated_driver_job(&scratch);

    let output = Command::new(repo_root().join("test/manifests/check.sh"))
        .arg(&driver_job)
        .output()
        .expect("run test/manifests/check.sh");

    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(report.contains("all deployment checks passed"), "{report}");
}
