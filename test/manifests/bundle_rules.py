"""Checks across the objects of one bundle that is applied as a whole, such as `deploy/`.

In such a bundle every namespaced object names its namespace (so that `kubectl apply` never
puts it in whatever namespace the caller's context happens to use), and every Namespace,
ServiceAccount, Role, ConfigMap and PersistentVolumeClaim that an object refers to is part of
the bundle: a reference that kustomize forgot to rewrite (a generated name's hash suffix, a
renamed object) is caught here instead of as a pod stuck in ContainerCreating. Secrets are left
out on purpose: the operator creates them. Every Service must also select a pod template of
the bundle, or it would have no endpoints.
"""

from typing import Any, Dict, Iterator, List, Set, Tuple

from k8s_syntax import selector_matches
from object_rules import CLUSTER_SCOPED_KINDS

# ClusterRoles every cluster has, which a RoleBinding may use without defining them.
_BUILT_IN_CLUSTER_ROLES = frozenset({"admin", "edit", "view", "cluster-admin"})

Located = Tuple[str, Dict[str, Any]]  # (where the document came from, the document)
Finding = Tuple[str, Dict[str, Any], str, str]  # (origin, document, field path, message)


def check_bundle(documents: List[Located]) -> List[Finding]:
    """Every missing namespace or dangling reference among `documents`."""
    present: Set[Tuple[str, str, str]] = set()
    templates: Dict[str, List[Dict[str, Any]]] = {}
    for _, document in documents:
        present.add((document.get("kind", ""), _namespace(document), _name(document)))
        labels = _template_labels(document)
        if labels is not None:
            templates.setdefault(_namespace(document), []).append(labels)

    findings: List[Finding] = []
    for origin, document in documents:
        for path, message in _check_document(document, present, templates):
            findings.append((origin, document, path, message))
    return findings


def _check_document(document: Dict[str, Any], present: Set[Tuple[str, str, str]],
                    templates: Dict[str, List[Dict[str, Any]]]) -> Iterator[Tuple[str, str]]:
    kind, namespace = document.get("kind", ""), _namespace(document)
    if kind not in CLUSTER_SCOPED_KINDS:
        if not namespace:
            yield ("metadata.namespace", "must be set: this bundle is applied as a whole")
        elif ("Namespace", "", namespace) not in present:
            yield ("metadata.namespace", f"the Namespace {namespace!r} is not in the bundle")

    def missing(ref_kind: str, ref_namespace: str, ref_name: str) -> bool:
        if (ref_kind, ref_name) == ("ServiceAccount", "default"):
            return False  # every namespace has one
        if ref_kind == "ClusterRole" and (
            ref_name in _BUILT_IN_CLUSTER_ROLES or ref_name.startswith("system:")
        ):
            return False
        return (ref_kind, ref_namespace, ref_name) not in present

    if kind in ("RoleBinding", "ClusterRoleBinding"):
        role = document.get("roleRef") or {}
        role_kind, role_name = role.get("kind", ""), role.get("name", "")
        role_namespace = namespace if role_kind == "Role" else ""
        if missing(role_kind, role_namespace, role_name):
            yield ("roleRef", f"the {role_kind} {role_name!r} is not in the bundle")
        for index, subject in enumerate(document.get("subjects") or []):
            if subject.get("kind") == "ServiceAccount" and missing(
                "ServiceAccount", subject.get("namespace", ""), subject.get("name", "")
            ):
                yield (f"subjects[{index}]", f"the ServiceAccount {subject.get('name')!r} "
                       f"in {subject.get('namespace')!r} is not in the bundle")

    for path, spec in _pod_specs(document, ""):
        yield from _check_pod_references(spec, path, namespace, missing)

    if kind == "Service" and isinstance(document.get("spec", {}).get("selector"), dict):
        selector = {"matchLabels": document["spec"]["selector"]}
        candidates = templates.get(namespace, [])
        if not any(selector_matches(selector, labels) for labels in candidates):
            yield ("spec.selector", "selects no pod template of the bundle")


def _template_labels(document: Dict[str, Any]) -> Any:
    """The pod template labels of a workload (Deployment, Job, ...), or None for other kinds."""
    template = (document.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return None
    return (template.get("metadata") or {}).get("labels") or {}


def _check_pod_references(spec: Dict[str, Any], path: str, namespace: str, missing
                          ) -> Iterator[Tuple[str, str]]:
    account = spec.get("serviceAccountName")
    if account and missing("ServiceAccount", namespace, account):
        yield (f"{path}.serviceAccountName", f"the ServiceAccount {account!r} is not in the bundle")
    for index, volume in enumerate(spec.get("volumes") or []):
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim and missing("PersistentVolumeClaim", namespace, claim):
            yield (f"{path}.volumes[{index}]", f"the PersistentVolumeClaim {claim!r} is not in "
                   "the bundle")
        config_map = volume.get("configMap") or {}
        if config_map and not config_map.get("optional") and missing(
            "ConfigMap", namespace, config_map.get("name", "")
        ):
            yield (f"{path}.volumes[{index}]", f"the ConfigMap {config_map.get('name')!r} is "
                   "not in the bundle")
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            for ref_path, name in _config_map_refs(container):
                if missing("ConfigMap", namespace, name):
                    yield (f"{path}.{group}[{index}].{ref_path}",
                           f"the ConfigMap {name!r} is not in the bundle")


def _config_map_refs(container: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
    for index, source in enumerate(container.get("envFrom") or []):
        ref = source.get("configMapRef") or {}
        if ref and not ref.get("optional"):
            yield (f"envFrom[{index}]", ref.get("name", ""))
    for index, variable in enumerate(container.get("env") or []):
        ref = (variable.get("valueFrom") or {}).get("configMapKeyRef") or {}
        if ref and not ref.get("optional"):
            yield (f"env[{index}]", ref.get("name", ""))


def _pod_specs(node: Any, path: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    if isinstance(node, dict):
        if isinstance(node.get("containers"), list):
            yield (path, node)
        for key, child in node.items():
            yield from _pod_specs(child, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _pod_specs(item, f"{path}[{index}]")


def _namespace(document: Dict[str, Any]) -> str:
    return str((document.get("metadata") or {}).get("namespace") or "")


def _name(document: Dict[str, Any]) -> str:
    return str((document.get("metadata") or {}).get("name") or "")
