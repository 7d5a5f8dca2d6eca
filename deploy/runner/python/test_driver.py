"""Tests of the byok8s driver's argument handling and bundle unpacking."""

import contextlib
import io
import os
import tarfile
import tempfile
import unittest
from unittest import mock

import kubernetes.client

from byok8s_driver.__main__ import (
    label_created_jobs,
    label_job,
    own,
    own_created_secrets,
    parse_arguments,
    run_labels,
    split_url,
    unpack,
)


def archive(members):
    """A gzip-compressed tar of (name, data) regular files, or (name, None, linkname) links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data, *link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link[0]
                bundle.addfile(info)
            else:
                info.size = len(data)
                bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def recorder(created):
    """A stand-in for a client's create method that keeps each object it is given."""
    return lambda api, namespace, body, **options: created.append(body)


class ArgumentsTest(unittest.TestCase):
    def test_the_command_after_the_double_dash_is_kept_whole(self):
        bundle, config, command = parse_arguments(
            ["--bundle", "s3://b/k1", "--config", "s3://b/k2", "--", "snakemake", "--", "-x"]
        )
        self.assertEqual((bundle, config), ("s3://b/k1", "s3://b/k2"))
        self.assertEqual(command, ["snakemake", "--", "-x"])

    def test_a_missing_command_is_an_error(self):
        usage = io.StringIO()
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(usage):
            parse_arguments(["--bundle", "s3://b/k", "--config", "s3://b/c", "--"])
        self.assertIn("no command given after --", usage.getvalue())

    def test_urls_split_into_bucket_and_key(self):
        self.assertEqual(split_url("s3://bucket/a/b.tar.gz"), ("bucket", "a/b.tar.gz"))
        with self.assertRaises(ValueError):
            split_url("https://bucket/a")


class UnpackTest(unittest.TestCase):
    def test_files_land_in_the_destination(self):
        with tempfile.TemporaryDirectory() as directory:
            unpack(archive([("rules/a.smk", b"rule a:\n")]), directory)
            with open(os.path.join(directory, "rules/a.smk"), "rb") as unpacked:
                self.assertEqual(unpacked.read(), b"rule a:\n")

    def test_paths_leaving_the_destination_are_refused(self):
        with tempfile.TemporaryDirectory() as directory:
            with self.assertRaises(tarfile.FilterError):
                unpack(archive([("../escape", b"x")]), directory)

    def test_links_pointing_outside_are_refused(self):
        with tempfile.TemporaryDirectory() as directory:
            with self.assertRaises(tarfile.FilterError):
                unpack(archive([("link", None, "/etc/passwd")]), directory)


class SecretOwnershipTest(unittest.TestCase):
    ENVIRON = {"BYOK8S_POD_NAME": "byok8s-run-1-abcde", "BYOK8S_POD_UID": "u-1", "BYOK8S_RUN": "run-1"}

    def test_a_secret_gets_the_pod_as_owner_and_the_run_labels(self):
        secret = kubernetes.client.V1Secret(
            metadata=kubernetes.client.V1ObjectMeta(name="5f0c1a2b", labels={"keep": "me"})
        )
        own(secret, "byok8s-run-1-abcde", "u-1", run_labels(self.ENVIRON, "executor-secret"))
        (reference,) = secret.metadata.owner_references
        self.assertEqual(
            (reference.api_version, reference.kind, reference.name, reference.uid),
            ("v1", "Pod", "byok8s-run-1-abcde", "u-1"),
        )
        self.assertIsNone(reference.block_owner_deletion)
        self.assertEqual(secret.metadata.labels["byok8s.io/run"], "run-1")
        self.assertEqual(secret.metadata.labels["keep"], "me")

    def test_secrets_created_through_the_client_are_owned(self):
        api = kubernetes.client.CoreV1Api
        created = []
        # The patch, and the driver's wrapper around it, go again when the block ends.
        with mock.patch.object(api, "create_namespaced_secret", recorder(created)):
            own_created_secrets(self.ENVIRON)
            secret = kubernetes.client.V1Secret(metadata=kubernetes.client.V1ObjectMeta(name="s"))
            api.create_namespaced_secret(mock.Mock(), "byok8s-runs", secret)
        self.assertEqual(created[0].metadata.owner_references[0].uid, "u-1")

    def test_without_the_pod_identity_nothing_is_patched(self):
        api = kubernetes.client.CoreV1Api
        original = api.create_namespaced_secret
        with contextlib.redirect_stdout(io.StringIO()):
            own_created_secrets({})
        self.assertIs(api.create_namespaced_secret, original)


class JobLabelsTest(unittest.TestCase):
    def job(self):
        # As the executor plugin 0.5.1 builds it: labels on the Job only, none on the template.
        return kubernetes.client.V1Job(
            metadata=kubernetes.client.V1ObjectMeta(name="snakejob-1", labels={"app": "snakemake"}),
            spec=kubernetes.client.V1JobSpec(
                template=kubernetes.client.V1PodTemplateSpec(spec=kubernetes.client.V1PodSpec(
                    containers=[kubernetes.client.V1Container(name="snakemake")]))),
        )

    def test_a_rule_job_and_its_pods_carry_the_run(self):
        job = label_job(self.job(), run_labels({"BYOK8S_RUN": "run-1"}, "rule"))
        for labels in (job.metadata.labels, job.spec.template.metadata.labels):
            self.assertEqual(labels["byok8s.io/run"], "run-1")
            self.assertEqual(labels["byok8s.io/role"], "rule")
        self.assertEqual(job.metadata.labels["app"], "snakemake")

    def test_jobs_created_through_the_client_are_labelled(self):
        api = kubernetes.client.BatchV1Api
        created = []
        with mock.patch.object(api, "create_namespaced_job", recorder(created)):
            label_created_jobs({"BYOK8S_RUN": "run-1"})
            api.create_namespaced_job(mock.Mock(), "byok8s-runs", self.job())
        self.assertEqual(created[0].spec.template.metadata.labels["byok8s.io/run"], "run-1")


if __name__ == "__main__":
    unittest.main()
