//! `byok8s submit`: check the inputs, pack the workflow directory, submit, maybe follow.

use std::path::{Path, PathBuf};

use byok8s::proto::{Bundle as ProtoBundle, JsonDocument, Run, SubmitRequest};
use byok8s::{
    Bundle, BundleLimits, Client, Document, Error, ExitCode, FollowRequest, Submitted,
    build_bundle, resolve_inputs, resolve_snakefile,
};

use super::Session;
use super::watch::follow_to_outcome;
use crate::cli::SubmitArgs;
use crate::label::label_map;
use crate::render::visible;

/// Submits the run; nothing is sent unless every input checks out.
pub async fn run(args: SubmitArgs, session: &mut Session) -> Result<ExitCode, Error> {
    let request = prepare(&args, session.printer.is_human())?;
    let client = session.connect()?;
    let Submitted { run, existing } = client.submit(request).await?;
    if args.follow {
        return follow_new_run(&client, run, existing, session).await;
    }
    if let Err(error) = session.printer.submitted(&run, existing) {
        // The run exists all the same; a script that lost its output must not submit again
        // without knowing that.
        eprintln!("note: run {} was submitted", visible(&run.id));
        return Err(error);
    }
    if session.printer.is_human() {
        eprintln!("hint: follow it with `byok8s watch {}`", run.id);
    }
    Ok(ExitCode::Success)
}

/// Behaves like `watch` on the new run; people also see which run it is first.
async fn follow_new_run(
    client: &Client,
    run: Run,
    existing: bool,
    session: &mut Session,
) -> Result<ExitCode, Error> {
    if session.printer.is_human() {
        session.printer.submitted(&run, existing)?;
    }
    let request = FollowRequest {
        run_id: run.id,
        after_seq: 0,
        kinds: Vec::new(),
    };
    follow_to_outcome(client, request, session).await
}

/// Resolves the inputs and packs the bundle into the request, before any connection; people
/// are told what travels.
fn prepare(args: &SubmitArgs, human: bool) -> Result<SubmitRequest, Error> {
    let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let inputs = resolve_inputs(&base, &args.workflow, &args.params, &args.targets)?;
    let snakefile = resolve_snakefile(&base, &args.snakefile)?;
    let bundle = build_bundle(&snakefile, &BundleLimits::default())?;
    warn_about_symlinks(&bundle);
    if human {
        let dir = shown_dir(&bundle.root, &base);
        eprintln!("packing {} from {}", bundle.summary(), dir.display());
    }
    Ok(SubmitRequest {
        workflow: Some(json_document(inputs.workflow)),
        params: Some(json_document(inputs.params)),
        targets: inputs.targets,
        bundle: Some(ProtoBundle {
            tar_gz: bundle.tar_gz,
            snakefile: bundle.snakefile,
        }),
        dry_run: args.dry_run,
        force: args.force,
        labels: label_map(&args.labels),
        idempotency_key: args.idempotency_key.clone().unwrap_or_default(),
        namespace: args.namespace.clone().unwrap_or_default(),
    })
}

/// The packed directory relative to the current one when inside it, as the user thinks of it.
fn shown_dir<'a>(root: &'a Path, base: &Path) -> &'a Path {
    match root.strip_prefix(base) {
        Ok(inside) if inside.as_os_str().is_empty() => Path::new("."),
        Ok(inside) => inside,
        Err(_) => root,
    }
}

fn json_document(document: Document) -> JsonDocument {
    JsonDocument {
        name: document.name,
        json: document.json,
    }
}

fn warn_about_symlinks(bundle: &Bundle) {
    for link in &bundle.skipped_symlinks {
        eprintln!(
            "warning: skipping symlink {} (symlinks are not uploaded)",
            link.display()
        );
    }
}
