"""Tests of what `deploy/` renders: the daemon's settings agree with the objects around them.

Schema and syntax checks are validate.py's; these check what only this project knows: the
least-privilege RBAC the daemon and the runner get (and that it covers every API call of the
installed Snakemake executor plugin), that byok8sd's options point at the namespace, service
account, volumes and Secrets the manifests really define and are options the built byok8sd
has, the daemon's hardening, labels, and that an overlay's `images:` reaches the runner image
option too. Needs kubectl (with its built-in kustomize) on PATH.
"""

import inspect
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# Exactly what byok8sd's Kubernetes backend calls (daemon/src/backend/kubernetes/).
DAEMON_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"],
     "verbs": ["create", "get", "list", "watch", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["delete"]},
]
# Exactly what the executor plugin 0.5.1 calls.
RUNNER_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]},
    {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete"]},
]
# Volume types the Pod Security "restricted" profile allows.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}
APP_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/part-of", "app.kubernetes.io/component")


def render(directory: Path) -> list:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise AssertionError("kubectl is needed to render deploy/ (its kustomize)")
    output = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True,
                            text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(output) if d]


def find(documents: list, kind: str, name: str, namespace: str = "") -> dict:
    for document in documents:
        metadata = document["metadata"]
        if (document["kind"], metadata.get("namespace", ""), metadata["name"]) == (
                kind, namespace, name):
            return document
    raise AssertionError(f"no {kind} {namespace}/{name} in the render")


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = render(DEPLOY)
        cls.deployment = find(cls.docs, "Deployment", "byok8sd", "byok8s")
        cls.pod = cls.deployment["spec"]["template"]["spec"]
        cls.container = cls.pod["containers"][0]
        config_name = cls.container["envFrom"][0]["configMapRef"]["name"]
        cls.config = find(cls.docs, "ConfigMap", config_name, "byok8s")["data"]

    def test_nothing_is_granted_cluster_wide(self):
        kinds = {document["kind"] for document in self.docs}
        self.assertFalse(kinds & {"ClusterRole", "ClusterRoleBinding"})

    def test_the_daemon_gets_exactly_what_its_kubernetes_backend_uses_in_the_runs_namespace(self):
        runs = self.config["BYOK8SD_NAMESPACE"]
        self.assertEqual(find(self.docs, "Role", "byok8sd", runs)["rules"], DAEMON_RULES)
        binding = find(self.docs, "RoleBinding", "byok8sd", runs)
        self.assertEqual(binding["roleRef"]["name"], "byok8sd")
        self.assertEqual(binding["subjects"], [{
            "kind": "ServiceAccount", "name": self.pod["serviceAccountName"],
            "namespace": "byok8s"}])

    def test_the_runner_gets_exactly_what_snakemakes_kubernetes_executor_uses(self):
        runs = self.config["BYOK8SD_NAMESPACE"]
        account = self.config["BYOK8SD_RUNNER_SERVICE_ACCOUNT"]
        find(self.docs, "ServiceAccount", account, runs)
        self.assertEqual(find(self.docs, "Role", "byok8s-runner", runs)["rules"], RUNNER_RULES)
        binding = find(self.docs, "RoleBinding", "byok8s-runner", runs)
        self.assertEqual(binding["subjects"], [
            {"kind": "ServiceAccount", "name": account, "namespace": runs}])

    def test_the_daemon_listens_where_the_service_and_probes_point(self):
        port = self.container["ports"][0]
        self.assertEqual(self.config["BYOK8SD_LISTEN"], f"0.0.0.0:{port['containerPort']}")
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(self.container[probe]["tcpSocket"]["port"], port["name"])
        service = find(self.docs, "Service", "byok8sd", "byok8s")
        self.assertEqual(service["spec"]["type"], "ClusterIP")
        self.assertEqual(service["spec"]["ports"][0]["targetPort"], port["name"])
        self.assertEqual(service["spec"]["ports"][0]["port"], 50051)

    def test_data_and_tls_options_name_files_on_the_mounted_volumes(self):
        mounts = {m["mountPath"]: m for m in self.container["volumeMounts"]}
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        data = volumes[mounts[self.config["BYOK8SD_DATA_DIR"]]["name"]]
        find(self.docs, "PersistentVolumeClaim", data["persistentVolumeClaim"]["claimName"],
             "byok8s")
        tls_mount = mounts["/etc/byok8sd/tls"]
        self.assertTrue(tls_mount["readOnly"])
        self.assertEqual(volumes[tls_mount["name"]]["secret"]["secretName"], "byok8sd-tls")
        self.assertEqual(self.config["BYOK8SD_TLS_CERT"], "/etc/byok8sd/tls/tls.crt")
        self.assertEqual(self.config["BYOK8SD_TLS_KEY"], "/etc/byok8sd/tls/tls.key")
        self.assertIn("emptyDir", volumes[mounts["/tmp"]["name"]])

    def test_every_option_in_the_configmap_is_one_byok8sd_reads(self):
        # clap ignores BYOK8SD_* variables it does not know, so a misspelt option would
        # silently leave its default in force.
        binary = Path(os.environ.get("BYOK8SD_BIN", ROOT / "target" / "debug" / "byok8sd"))
        self.assertTrue(binary.is_file(),
                        f"{binary} is not built: cargo build -p byok8sd, or set BYOK8SD_BIN")
        help_text = subprocess.run([str(binary), "--help"], capture_output=True, text=True,
                                   check=True).stdout
        known = set(re.findall(r"\[env: (BYOK8SD_[A-Z0-9_]+)=", help_text))
        self.assertEqual(set(self.config) - known, set(), "options byok8sd does not have")

    def test_s3_credentials_come_from_the_secret_the_runs_get_too(self):
        secret = self.config["BYOK8SD_S3_CREDENTIALS_SECRET"]
        env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in self.container["env"]}
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            self.assertEqual(env[key], {"name": secret, "key": key})

    def test_secrets_are_left_to_the_operator_so_applying_never_overwrites_them(self):
        self.assertNotIn("Secret", {document["kind"] for document in self.docs})

    def test_the_daemon_runs_once_as_an_unprivileged_user_on_a_read_only_root(self):
        self.assertEqual(self.deployment["spec"]["replicas"], 1)
        self.assertEqual(self.deployment["spec"]["strategy"], {"type": "Recreate"})
        pod_security = self.pod["securityContext"]
        self.assertTrue(pod_security["runAsNonRoot"])
        self.assertEqual(pod_security["runAsUser"], 65532)
        self.assertEqual(pod_security["seccompProfile"], {"type": "RuntimeDefault"})
        security = self.container["securityContext"]
        self.assertTrue(security["readOnlyRootFilesystem"])
        self.assertFalse(security["allowPrivilegeEscalation"])
        self.assertEqual(security["capabilities"], {"drop": ["ALL"]})
        self.assertFalse(self.pod["enableServiceLinks"])
        for bound in ("requests", "limits"):
            self.assertEqual(set(self.container["resources"][bound]), {"cpu", "memory"})

    def test_every_object_and_pod_template_carries_the_app_labels(self):
        for document in self.docs:
            labels = document["metadata"].get("labels", {})
            template = document.get("spec", {}).get("template", {}).get("metadata", {})
            for where in (labels, template.get("labels", labels)):
                with self.subTest(kind=document["kind"], name=document["metadata"]["name"]):
                    self.assertEqual(set(APP_LABELS) - set(where), set())
                    self.assertEqual(where["app.kubernetes.io/part-of"], "byok8s")


class RunnerRole(unittest.TestCase):
    def test_it_allows_every_call_of_the_executor_plugin_and_nothing_else(self):
        import snakemake_executor_plugin_kubernetes as plugin

        # The plugin calls the kubernetes client's typed methods, such as
        # self.batchapi.read_namespaced_job_status(...) for GET .../jobs/NAME/status.
        verbs = {"create": "create", "read": "get", "list": "list", "delete": "delete",
                 "patch": "patch", "replace": "update"}
        calls = re.findall(r"self\.(batchapi|kubeapi)\.(create|read|list|delete|patch|replace)"
                           r"_namespaced_([a-z]+?)(_status|_log)?\(", inspect.getsource(plugin))
        self.assertTrue(calls, "found no Kubernetes API calls in the executor plugin")
        used = set()
        for api, verb, resource, subresource in calls:
            group = "batch" if api == "batchapi" else ""
            used.add((group, resource + "s" + subresource.replace("_", "/"), verbs[verb]))

        granted = {(group, resource, verb) for rule in RUNNER_RULES
                   for group in rule["apiGroups"] for resource in rule["resources"]
                   for verb in rule["verbs"]}
        self.assertEqual(used - granted, set(), "calls the runner Role does not allow")
        self.assertEqual(granted - used, set(), "grants the executor plugin never uses")


class Overlays(unittest.TestCase):
    def test_an_images_entry_renames_the_daemon_and_the_runner_image_alike(self):
        with tempfile.TemporaryDirectory() as overlay:
            base = os.path.relpath(DEPLOY / "base", overlay)
            Path(overlay, "kustomization.yaml").write_text(
                f"resources: [{base}]\nimages:\n"
                "- {name: byok8s/byok8sd, newName: registry.example/byok8sd, newTag: '1.2'}\n"
                "- {name: byok8s/runner, newName: registry.example/runner, newTag: '1.2'}\n")
            docs = render(Path(overlay))
        deployment = find(docs, "Deployment", "byok8sd", "byok8s")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(container["image"], "registry.example/byok8sd:1.2")
        config = find(docs, "ConfigMap", container["envFrom"][0]["configMapRef"]["name"], "byok8s")
        self.assertEqual(config["data"]["BYOK8SD_RUNNER_IMAGE"], "registry.example/runner:1.2")

    def test_pods_of_restricted_namespaces_meet_the_restricted_pod_security_profile(self):
        docs = render(DEPLOY / "overlays" / "minio")
        restricted = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace" and
                      d["metadata"]["labels"].get("pod-security.kubernetes.io/enforce")
                      == "restricted"}
        pods = [d for d in docs if d["metadata"].get("namespace") in restricted
                and "template" in d.get("spec", {})]
        self.assertTrue(pods)
        for document in pods:
            with self.subTest(workload=document["metadata"]["name"]):
                self.assert_restricted(document["spec"]["template"]["spec"])

    def assert_restricted(self, pod: dict):
        pod_security = pod.get("securityContext", {})
        self.assertFalse({"hostNetwork", "hostPID", "hostIPC"} & set(pod))
        for volume in pod.get("volumes", []):
            self.assertLessEqual(set(volume) - {"name"}, RESTRICTED_VOLUMES)
        for container in pod["containers"] + pod.get("initContainers", []):
            security = {**pod_security, **container.get("securityContext", {})}
            self.assertTrue(security.get("runAsNonRoot"))
            self.assertNotEqual(security.get("runAsUser"), 0)
            self.assertFalse(security.get("privileged", False))
            self.assertIs(security.get("allowPrivilegeEscalation"), False)
            self.assertEqual(security.get("capabilities", {}).get("drop"), ["ALL"])
            self.assertIn(security.get("seccompProfile", {}).get("type"),
                          ("RuntimeDefault", "Localhost"))

    def test_the_minio_overlay_points_byok8sd_at_its_minio_service_and_bucket(self):
        docs = render(DEPLOY / "overlays" / "minio")
        deployment = find(docs, "Deployment", "byok8sd", "byok8s")
        name = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"][0][
            "configMapRef"]["name"]
        config = find(docs, "ConfigMap", name, "byok8s")["data"]
        self.assertEqual(config["BYOK8SD_S3_ENDPOINT_URL"], "http://minio.byok8s.svc:9000")
        service = find(docs, "Service", "minio", "byok8s")
        self.assertEqual(service["spec"]["ports"][0]["port"], 9000)
        job = find(docs, "Job", "minio-create-bucket", "byok8s")
        script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
        self.assertIn(f"dev/{config['BYOK8SD_S3_BUCKET']}", script)
        for namespace in ("byok8s", config["BYOK8SD_NAMESPACE"]):
            find(docs, "Secret", config["BYOK8SD_S3_CREDENTIALS_SECRET"], namespace)


if __name__ == "__main__":
    unittest.main()
