"""The calls Snakemake's Kubernetes executor makes, through the official Python client.

Prints one JSON object per step; the Rust test asserts on them.
"""
import base64
import json
import sys
import time

import kubernetes

kubernetes.config.load_kube_config(sys.argv[1])
core = kubernetes.client.CoreV1Api()
batch = kubernetes.client.BatchV1Api()


def report(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


secret = kubernetes.client.V1Secret()
secret.metadata = kubernetes.client.V1ObjectMeta(name="3f0c1a2e-5b7d-4e8f-9a01-23456789abcd")
secret.type = "Opaque"
secret.data = {"aws_access_key_id": base64.b64encode(b"AKIAEXAMPLE").decode()}
core.create_namespaced_secret("default", secret)
report("secret")

container = kubernetes.client.V1Container(name="snakemake", image="runner")
container.command = ["/bin/sh"]
container.args = ["-c", "echo $AWS_ACCESS_KEY_ID in $(pwd); exit 2"]
container.working_dir = "/workdir"
container.volume_mounts = [kubernetes.client.V1VolumeMount(name="workdir", mount_path="/workdir")]
envvar = kubernetes.client.V1EnvVar(name="AWS_ACCESS_KEY_ID")
envvar.value_from = kubernetes.client.V1EnvVarSource(
    secret_key_ref=kubernetes.client.V1SecretKeySelector(key="aws_access_key_id", name=secret.metadata.name))
container.env = [envvar]
container.resources = kubernetes.client.V1ResourceRequirements(requests={"cpu": "950m"})
workdir = kubernetes.client.V1Volume(name="workdir", empty_dir=kubernetes.client.V1EmptyDirVolumeSource())
pod_spec = kubernetes.client.V1PodSpec(containers=[container], node_selector={}, restart_policy="Never", volumes=[workdir])
body = kubernetes.client.V1Job()
body.metadata = kubernetes.client.V1ObjectMeta(labels={"app": "snakemake"}, name="snakejob-1b2c3d4e")
body.spec = kubernetes.client.V1JobSpec(backoff_limit=0, template=kubernetes.client.V1PodTemplateSpec(spec=pod_spec))
batch.create_namespaced_job("default", body)
report("job")

for _ in range(100):
    status = batch.read_namespaced_job_status("snakejob-1b2c3d4e", "default").status
    if status.failed:
        break
    time.sleep(0.2)
pods = core.list_namespaced_pod(namespace="default", label_selector="job-name=snakejob-1b2c3d4e")
pod = pods.items[0]
exit_code = pod.status.container_statuses[0].state.terminated.exit_code
report("failed", failed=status.failed, pods=len(pods.items), exit_code=exit_code)

log = core.read_namespaced_pod_log(name=pod.metadata.name, namespace="default", container="snakemake")
report("log", log=log)
try:
    core.read_namespaced_pod_log(name=pod.metadata.name, namespace="default", container="snakemake", previous=True)
    report("previous", status=200)
except kubernetes.client.rest.ApiException as error:
    report("previous", status=error.status, message=json.loads(error.body)["message"])

options = kubernetes.client.V1DeleteOptions()
core.delete_namespaced_pod(pod.metadata.name, "default", body=options)
response = batch.delete_namespaced_job(
    "snakejob-1b2c3d4e", "default", propagation_policy="Foreground", body=options, _preload_content=False)
report("deleted", finalizers=json.loads(response.data)["metadata"].get("finalizers"))
core.delete_namespaced_secret(secret.metadata.name, "default", body=kubernetes.client.V1DeleteOptions())
for _ in range(50):
    if not batch.list_namespaced_job("default").items:
        break
    time.sleep(0.1)
report("gone", jobs=len(batch.list_namespaced_job("default").items), secrets=len(core.list_namespaced_secret("default").items))
