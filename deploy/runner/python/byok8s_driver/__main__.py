"""Entry point of a run's driver pod: ``python -m byok8s_driver --bundle URL --config URL -- CMD...``.

The daemon uploads the submitted Snakefile directory (a gzip-compressed tar) and the run's
config to S3, because ConfigMaps and Secrets cannot hold more than 1 MiB. This fetches both
into the working directory, unpacks the bundle refusing anything that would land outside it,
and then becomes the given command. S3 credentials and the endpoint come from the standard AWS
environment variables.

A ``snakemake`` command runs in this very process, so that signals reach Snakemake directly
as they would after an exec, and so that what its Kubernetes executor creates carries the run:
- the Secret it creates at start (named with a random UUID, unlabelled, holding a copy of the
  storage settings) is made a dependent of this pod: Kubernetes' garbage collector then
  removes it with the pod, even when Snakemake never gets to delete it itself (killed, out of
  memory, cancelled before any rule). The pod's name and uid come from the downward API
  (``BYOK8S_POD_NAME``, ``BYOK8S_POD_UID``);
- each rule Job and its pod are labelled with the run (``BYOK8S_RUN``), which the executor
  does not do (it labels them ``app=snakemake`` only), so byok8sd watches all of a run's pods
  with one watch.
"""

import argparse
import io
import os
import sys
import tarfile
from urllib.parse import urlparse

CONFIG_PATH = os.path.join(".byok8s", "config.json")


def parse_arguments(argv):
    """Split the driver's own options from the command it runs after ``--``."""
    parser = argparse.ArgumentParser(prog="byok8s_driver")
    parser.add_argument("--bundle", required=True, help="s3://BUCKET/KEY of the bundle")
    parser.add_argument("--config", required=True, help="s3://BUCKET/KEY of the config")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("no command given after --")
    return options.bundle, options.config, command


def split_url(url):
    """``s3://bucket/some/key`` as ``("bucket", "some/key")``."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an s3://BUCKET/KEY URL: {url}")
    return parsed.netloc, parsed.path.lstrip("/")


def fetch(client, url):
    """The object's bytes."""
    bucket, key = split_url(url)
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def unpack(archive, destination):
    """Unpack a gzip-compressed tar, refusing links, devices and paths leaving ``destination``."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as bundle:
        bundle.extractall(path=destination, filter="data")


def run_labels(environ, role):
    """Labels that say which run an object the executor creates belongs to, and what it is."""
    labels = {"app.kubernetes.io/managed-by": "byok8sd", "byok8s.io/role": role}
    run = environ.get("BYOK8S_RUN")
    if run:
        labels["byok8s.io/run"] = run
    return labels


def label(metadata, labels):
    """``metadata`` (a V1ObjectMeta, or None) with ``labels`` added."""
    from kubernetes.client import V1ObjectMeta

    if metadata is None:
        metadata = V1ObjectMeta()
    metadata.labels = {**(metadata.labels or {}), **labels}
    return metadata


def own(body, owner_name, owner_uid, labels):
    """Add ``labels`` and an owner reference to the pod ``owner_name`` to a V1Secret body.

    blockOwnerDeletion stays unset: setting it needs permission to update the owner's
    finalizers, and the Secret need not outlive or delay the pod.
    """
    from kubernetes.client import V1OwnerReference

    metadata = body.metadata = label(body.metadata, labels)
    reference = V1OwnerReference(api_version="v1", kind="Pod", name=owner_name, uid=owner_uid)
    metadata.owner_references = [*(metadata.owner_references or []), reference]
    return body


def own_created_secrets(environ):
    """Make every Secret this process creates through the Kubernetes client a dependent of
    this pod. Without the downward API variables nothing changes (and nothing is owned)."""
    owner_name, owner_uid = environ.get("BYOK8S_POD_NAME"), environ.get("BYOK8S_POD_UID")
    if not owner_name or not owner_uid:
        print("byok8s driver: pod name or uid unknown; executor Secrets stay unowned", flush=True)
        return
    import kubernetes.client

    labels = run_labels(environ, "executor-secret")
    api = kubernetes.client.CoreV1Api
    create = api.create_namespaced_secret

    def create_owned(self, namespace, body, **kwargs):
        return create(self, namespace, own(body, owner_name, owner_uid, labels), **kwargs)

    api.create_namespaced_secret = create_owned


def label_job(body, labels):
    """Add ``labels`` to a V1Job body and to the pods it makes, so that byok8sd finds the
    run's rule pods with one watch, by label."""
    body.metadata = label(body.metadata, labels)
    template = body.spec.template
    template.metadata = label(template.metadata, labels)
    return body


def label_created_jobs(environ):
    """Label every Job this process creates through the Kubernetes client, and its pods, with
    the run (``BYOK8S_RUN``); without it nothing changes."""
    if not environ.get("BYOK8S_RUN"):
        return
    import kubernetes.client

    labels = run_labels(environ, "rule")
    api = kubernetes.client.BatchV1Api
    create = api.create_namespaced_job

    def create_labelled(self, namespace, body, **kwargs):
        return create(self, namespace, label_job(body, labels), **kwargs)

    api.create_namespaced_job = create_labelled


def run_snakemake(arguments):
    """Run Snakemake's command line in this process, as its console script would."""
    # `python -m` put the working directory, the user's bundle, first on the import path,
    # where its files would shadow Snakemake's own imports; the console script does not.
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
        del sys.path[0]
    own_created_secrets(os.environ)
    label_created_jobs(os.environ)
    from snakemake.cli import main as snakemake_main

    sys.argv = ["snakemake", *arguments]
    snakemake_main(arguments)


def main(argv=None):
    bundle_url, config_url, command = parse_arguments(sys.argv[1:] if argv is None else argv)
    import boto3  # imported late so that argument errors need no AWS libraries

    client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    unpack(fetch(client, bundle_url), ".")
    os.makedirs(os.path.dirname(CONFIG_PATH), exist_ok=True)
    with open(CONFIG_PATH, "wb") as config:
        config.write(fetch(client, config_url))
    print(f"byok8s driver: prepared the working directory, starting {command[0]}", flush=True)
    if command[0] == "snakemake":
        run_snakemake(command[1:])
    else:
        os.execvp(command[0], command)


if __name__ == "__main__":
    main()
