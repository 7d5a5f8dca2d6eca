"""Tests of validate.py: every broken fixture is rejected for its one defect, good ones pass.

Run from this directory with the repository's .venv: ``python -m unittest test_validate``.
"""

import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
VALIDATE = HERE / "validate.py"

# Each file of invalid/ with the options it is checked with and what must be reported: one
# line per defect, and nothing else.
INVALID = {
    "unknown-field.yaml":
        ([], ["Additional properties are not allowed ('resource' was unexpected)"]),
    "unknown-field-in-metadata.yaml":
        ([], ["metadata: Additional properties are not allowed ('label'"]),
    "unknown-kind.yaml": ([], ["has no kind 'Jobs' in 'batch/v1'"]),
    "bad-name.yaml":
        ([], ["metadata.name: 'Byok8sd_Config' must be a lowercase RFC 1123 subdomain"]),
    "bad-service-name.yaml": ([], ["metadata.name: '1byok8sd' must be a DNS-1035 label"]),
    "long-job-name.yaml": ([], ["must be no more than 63 characters for a Job"]),
    "bad-namespace.yaml":
        ([], ["metadata.namespace: 'byok8s_runs' must be a lowercase RFC 1123 label"]),
    "namespace-on-cluster-scoped.yaml":
        ([], ["metadata.namespace: not allowed on the cluster-scoped Namespace"]),
    "bad-label-key.yaml": ([], ["metadata.labels: key 'byok8s.io/run/id'"]),
    "bad-label-value.yaml":
        ([], ["spec.template.metadata.labels: value 'alice@example.com'"]),
    "selector-mismatch.yaml":
        ([], ["spec.template.metadata.labels: do not match spec.selector"]),
    "job-restart-policy.yaml":
        ([], ["spec.template.spec.restartPolicy: is required for a Job"]),
    "bad-quantity.yaml": ([], ["resources.limits.memory: '512MB' is not a quantity"]),
    "request-over-limit.yaml":
        ([], ["resources.requests.cpu: must be less than or equal to the cpu limit"]),
    "bad-container-name.yaml":
        ([], ["name 'snakemake_driver' must be a lowercase RFC 1123 label"]),
    "missing-volume.yaml": ([], ["volumeMounts[0].name: 'work' is not a volume of the pod"]),
    "bad-enum.yaml":
        ([], ["imagePullPolicy: 'ifNotPresent' is not one of Always, IfNotPresent, Never"]),
    "duplicate-key.yaml": ([], ["line 9, column 3: found the key 'BYOK8SD_NAMESPACE' twice"]),
    "duplicate-object.yaml":
        ([], ["(document 2): ServiceAccount byok8s-runs/byok8s-runner: already defined"]),
    "bad-rule-job.json":
        ([], ["metadata.name: 'snakejob-A1B2' must be a lowercase RFC 1123 subdomain"]),
    "bundle-missing-namespace.yaml":
        (["--bundle"], ["ServiceAccount byok8sd: metadata.namespace: must be set"]),
    "bundle-dangling-references.yaml": (["--bundle"], [
        "roleRef: the Role 'byok8sd' is not in the bundle",
        "subjects[0]: the ServiceAccount 'byok8sd' in 'byok8s-runs' is not in the bundle",
        "spec.selector: selects no pod template of the bundle",
    ]),
}


def validate(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(VALIDATE), *args], input=stdin, text=True,
                          capture_output=True, cwd=HERE, check=False)


def problem_lines(output: str) -> list:
    return [line for line in output.splitlines() if not line.startswith("validate.py:")]


class InvalidFixtures(unittest.TestCase):
    def test_every_invalid_fixture_is_listed_here(self):
        on_disk = {path.name for path in (HERE / "invalid").iterdir()}
        self.assertEqual(on_disk, set(INVALID))

    def test_each_invalid_fixture_is_rejected_for_its_defect_alone(self):
        for name, (options, expected) in INVALID.items():
            with self.subTest(fixture=name):
                result = validate(*options, f"invalid/{name}")
                self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                problems = problem_lines(result.stdout)
                for message in expected:
                    self.assertTrue(any(message in line for line in problems),
                                    f"{message!r} not in:\n{result.stdout}")
                self.assertEqual(len(problems), len(expected), result.stdout)

    def test_a_problem_line_names_the_file_the_object_and_the_field(self):
        result = validate("invalid/bad-quantity.yaml")
        self.assertEqual(problem_lines(result.stdout), [
            "invalid/bad-quantity.yaml: Job byok8s-runs/driver: "
            "spec.template.spec.containers[0].resources.limits.memory: '512MB' is not a quantity "
            "(such as 500m, 2, 1.5Gi or 128M)"])


class ValidInput(unittest.TestCase):
    def test_the_valid_fixtures_pass(self):
        result = validate("valid")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("2 document(s) valid against Kubernetes", result.stdout)

    def test_documents_are_read_from_standard_input_and_lists_are_unpacked(self):
        listed = ("apiVersion: v1\nkind: List\nitems:\n"
                  "- {apiVersion: v1, kind: ServiceAccount, metadata: {name: a, namespace: n}}\n"
                  "- {apiVersion: v1, kind: ServiceAccount, metadata: {name: b, namespace: n}}\n")
        result = validate("-", stdin=listed)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("2 document(s) valid", result.stdout)

    def test_unquoted_dates_stay_strings_as_kubectl_reads_them(self):
        config = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\n"
                  "data: {since: 2026-12-03}\n")
        self.assertEqual(validate("-", stdin=config).returncode, 0)

    def test_every_version_asked_for_is_checked(self):
        result = validate("-k", "1.30", "-k", "1.37", "valid")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("Kubernetes 1.30.0, 1.37.0", result.stdout)


class UsageErrors(unittest.TestCase):
    def test_a_version_without_schemas_is_a_usage_error(self):
        result = validate("-k", "1.12", "valid")
        self.assertEqual(result.returncode, 2)
        self.assertIn("has no schemas for Kubernetes 1.12", result.stderr)

    def test_a_missing_path_is_a_usage_error(self):
        result = validate("no-such-dir")
        self.assertEqual(result.returncode, 2)
        self.assertIn("no-such-dir: no such file or directory", result.stderr)

    def test_no_documents_at_all_is_a_failure(self):
        self.assertEqual(validate("-", stdin="---\n").returncode, 1)

    def test_a_document_that_is_not_an_object_is_reported(self):
        result = validate("-", stdin="- just\n- a list\n")
        self.assertEqual(result.returncode, 1)
        self.assertIn("not a Kubernetes object", result.stdout)


if __name__ == "__main__":
    unittest.main()
