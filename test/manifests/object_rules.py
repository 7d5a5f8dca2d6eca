"""Rules the API server enforces on one object that the OpenAPI schemas leave out.

The schemas say which fields exist and their types. Names, namespaces, label and annotation
syntax, allowed values of enumerated fields, selectors that must match their templates and
restart policies per kind are checked only in the API server's validation code; this module
checks them offline, for the kinds byok8s ships or generates (pod specs: pod_rules.py).
"""

from typing import Any, Dict, Iterator, List, Tuple

from k8s_syntax import (
    data_key_problem,
    dns1123_label_problem,
    label_value_problem,
    name_rule,
    qualified_name_problem,
    selector_matches,
)
from pod_rules import check_pod_spec

Problem = Tuple[str, str]  # (field path, message)

# Kinds without a namespace; every other kind lives in one.
CLUSTER_SCOPED_KINDS = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding",
    "ClusterTrustBundle", "ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition",
    "DeviceClass", "FlowSchema", "IngressClass", "IPAddress", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration", "Namespace", "Node",
    "PersistentVolume", "PriorityClass", "PriorityLevelConfiguration", "ResourceSlice",
    "RuntimeClass", "ServiceCIDR", "StorageClass", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
})

# Fields whose allowed values the schemas only describe in prose, wherever they appear.
_ENUMS = {
    "imagePullPolicy": {"Always", "IfNotPresent", "Never"},
    "protocol": {"TCP", "UDP", "SCTP"},
    "accessModes": {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"},
    "completionMode": {"NonIndexed", "Indexed"},
    "podReplacementPolicy": {"TerminatingOrFailed", "Failed"},
    "fsGroupChangePolicy": {"OnRootMismatch", "Always"},
    "dnsPolicy": {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"},
    "terminationMessagePolicy": {"File", "FallbackToLogsOnError"},
}
_SECCOMP_TYPES = {"RuntimeDefault", "Unconfined", "Localhost"}
# The same for fields whose meaning depends on the kind.
_KIND_ENUMS = {
    ("Service", ("spec", "type")): {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"},
    ("Deployment", ("spec", "strategy", "type")): {"Recreate", "RollingUpdate"},
    ("StatefulSet", ("spec", "updateStrategy", "type")): {"RollingUpdate", "OnDelete"},
    ("DaemonSet", ("spec", "updateStrategy", "type")): {"RollingUpdate", "OnDelete"},
}
# Where each workload keeps its pod spec, and the restart policies it accepts there. A Job's
# must be given: the pod default, Always, is refused.
_POD_TEMPLATES = {
    "Job": (("spec", "template", "spec"), {"OnFailure", "Never"}),
    "CronJob": (("spec", "jobTemplate", "spec", "template", "spec"), {"OnFailure", "Never"}),
    "Deployment": (("spec", "template", "spec"), {"Always"}),
    "ReplicaSet": (("spec", "template", "spec"), {"Always"}),
    "StatefulSet": (("spec", "template", "spec"), {"Always"}),
    "DaemonSet": (("spec", "template", "spec"), {"Always"}),
}
_MAX_ANNOTATIONS_BYTES = 256 * 1024


def check_object(document: Dict[str, Any]) -> List[Problem]:
    """Every problem of one object that the strict schemas let through."""
    kind = document.get("kind", "")
    problems = _check_metadata(kind, document.get("metadata") or {})
    problems += _walk(document)
    problems += _check_kind_fields(kind, document)
    if kind in ("ConfigMap", "Secret"):
        for field in ("data", "stringData", "binaryData"):
            for key in document.get(field) or {}:
                if reason := data_key_problem(str(key)):
                    problems.append((field, f"key {key!r} {reason}"))
    return problems


def _check_metadata(kind: str, metadata: Dict[str, Any]) -> List[Problem]:
    problems: List[Problem] = []
    name, generate_name = metadata.get("name"), metadata.get("generateName")
    rule = name_rule(kind)
    if isinstance(name, str) and name:
        if reason := rule(name):
            problems.append(("metadata.name", f"{name!r} {reason}"))
        # A Job's name becomes the value of the job-name label on its pods.
        if kind == "Job" and len(name) > 63:
            problems.append(("metadata.name", f"{name!r} must be no more than 63 characters "
                             "for a Job, since it becomes a label value"))
    elif isinstance(generate_name, str) and generate_name:
        # The API server checks a prefix as if a trailing '-' were a letter.
        sample = generate_name[:-1] + "a" if generate_name.endswith("-") else generate_name
        if reason := rule(sample):
            problems.append(("metadata.generateName", f"{generate_name!r} {reason}"))
    else:
        problems.append(("metadata.name", "name or generateName is required"))

    namespace = metadata.get("namespace")
    if namespace is not None:
        if kind in CLUSTER_SCOPED_KINDS:
            problems.append(("metadata.namespace", f"not allowed on the cluster-scoped {kind}"))
        elif reason := dns1123_label_problem(str(namespace)):
            problems.append(("metadata.namespace", f"{namespace!r} {reason}"))
    return problems


def _walk(document: Dict[str, Any]) -> List[Problem]:
    """Finds metadata, selectors, enumerated fields and pod specs at any depth."""
    problems: List[Problem] = []

    def visit(node: Any, path: str, key: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                visit(item, f"{path}[{index}]", key)
            return
        if not isinstance(node, dict):
            return
        if key == "metadata":
            problems.extend(_check_labels(node.get("labels"), f"{path}.labels"))
            problems.extend(_check_annotations(node.get("annotations"), f"{path}.annotations"))
        if isinstance(node.get("containers"), list):
            problems.extend(check_pod_spec(node, path))
        if key == "seccompProfile":
            problems.extend(_check_enum(node.get("type"), f"{path}.type", _SECCOMP_TYPES))
        if key in ("selector", "podSelector", "labelSelector", "namespaceSelector"):
            problems.extend(_check_selector(node, path))
        for child_key, child in node.items():
            if child_key in ("data", "stringData", "binaryData") and not path:
                continue  # ConfigMap and Secret contents are free-form
            child_path = f"{path}.{child_key}" if path else str(child_key)
            if child_key in _ENUMS:
                problems.extend(_check_enum(child, child_path, _ENUMS[child_key]))
            if child_key == "nodeSelector":
                problems.extend(_check_labels(child, child_path))
            visit(child, child_path, str(child_key))

    visit(document, "", "")
    return problems


def _check_selector(selector: Dict[str, Any], path: str) -> Iterator[Problem]:
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        yield from _check_labels(selector, path)  # a Service's plain map of labels
        return
    yield from _check_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        key = str(expression.get("key", ""))
        if reason := qualified_name_problem(key):
            yield (f"{path}.matchExpressions[{index}].key", f"{key!r}: {reason}")
        for value in expression.get("values") or []:
            if reason := label_value_problem(value):
                yield (f"{path}.matchExpressions[{index}].values", f"{value!r}: {reason}")


def _check_labels(labels: Any, path: str) -> Iterator[Problem]:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        if reason := qualified_name_problem(str(key)):
            yield (path, f"key {key!r}: {reason}")
        if reason := label_value_problem(value):
            yield (path, f"value {value!r} of {key!r}: {reason}")


def _check_annotations(annotations: Any, path: str) -> Iterator[Problem]:
    if not isinstance(annotations, dict):
        return
    for key in annotations:
        if reason := qualified_name_problem(str(key)):
            yield (path, f"key {key!r}: {reason}")
    total = sum(len(str(key)) + len(str(value)) for key, value in annotations.items())
    if total > _MAX_ANNOTATIONS_BYTES:
        yield (path, f"may not exceed {_MAX_ANNOTATIONS_BYTES} bytes in all, has {total}")


def _check_enum(value: Any, path: str, allowed: set) -> Iterator[Problem]:
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and item not in allowed:
            yield (path, f"{item!r} is not one of {', '.join(sorted(allowed))}")


def _check_kind_fields(kind: str, document: Dict[str, Any]) -> List[Problem]:
    problems: List[Problem] = []
    for (enum_kind, path), allowed in _KIND_ENUMS.items():
        if enum_kind == kind:
            problems += _check_enum(_get(document, *path), ".".join(path), allowed)
    if kind in _POD_TEMPLATES:
        path, allowed = _POD_TEMPLATES[kind]
        where = ".".join(path + ("restartPolicy",))
        policy = _get(document, *path, "restartPolicy")
        if policy is None and "Always" not in allowed:
            problems.append((where, f"is required for a {kind}: {', '.join(sorted(allowed))}"))
        elif policy is not None and policy not in allowed:
            problems.append((where, f"{policy!r} is not allowed for a {kind}: "
                             f"{', '.join(sorted(allowed))}"))
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet") or (
        kind == "Job" and _get(document, "spec", "manualSelector") is True
    ):
        problems += _check_selector_matches_template(document)
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        for index, subject in enumerate(document.get("subjects") or []):
            if subject.get("kind") == "ServiceAccount" and not subject.get("namespace"):
                problems.append((f"subjects[{index}].namespace",
                                 "is required for a ServiceAccount"))
    return problems


def _check_selector_matches_template(document: Dict[str, Any]) -> Iterator[Problem]:
    selector = _get(document, "spec", "selector")
    labels = _get(document, "spec", "template", "metadata", "labels") or {}
    if not isinstance(selector, dict) or not isinstance(labels, dict):
        return
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        yield ("spec.selector", "an empty selector is not allowed: it would select every pod")
    elif not selector_matches(selector, labels):
        yield ("spec.template.metadata.labels", "do not match spec.selector")


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node
