"""API server rules for a pod spec, wherever it sits: a Pod, or the template of a workload.

Container, volume and port names, volume mounts that name a volume of the pod, environment
variable names, restart policy, and resource quantities with requests no larger than limits.
"""

from decimal import Decimal
from typing import Any, Dict, Iterator, List, Tuple

from k8s_syntax import (
    Rule,
    dns1123_label_problem,
    dns1123_subdomain_problem,
    env_name_problem,
    parse_quantity,
    port_name_problem,
)

Problem = Tuple[str, str]  # (field path, message)

RESTART_POLICIES = ("Always", "OnFailure", "Never")


def check_pod_spec(spec: Dict[str, Any], path: str) -> Iterator[Problem]:
    """Every problem of the pod spec `spec`, found at `path` in its object."""
    volumes = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict)]
    yield from _unique_names(volumes, f"{path}.volumes", dns1123_label_problem)

    containers: List[str] = []
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(spec.get(group) or []):
            if isinstance(container, dict):
                containers.append(container.get("name", ""))
                yield from _check_container(container, f"{path}.{group}[{index}]", volumes)
    yield from _unique_names(containers, f"{path}.containers", dns1123_label_problem)

    policy = spec.get("restartPolicy")
    if policy is not None and policy not in RESTART_POLICIES:
        yield (f"{path}.restartPolicy", f"{policy!r} is not one of {', '.join(RESTART_POLICIES)}")
    account = spec.get("serviceAccountName")
    if isinstance(account, str) and (reason := dns1123_subdomain_problem(account)):
        yield (f"{path}.serviceAccountName", f"{account!r} {reason}")


def _unique_names(names: List[str], path: str, rule: Rule) -> Iterator[Problem]:
    seen = set()
    for name in names:
        if reason := rule(str(name)):
            yield (path, f"name {name!r} {reason}")
        if name in seen:
            yield (path, f"name {name!r} is used twice")
        seen.add(name)


def _check_container(container: Dict[str, Any], path: str, volumes: List[str]
                     ) -> Iterator[Problem]:
    for index, mount in enumerate(container.get("volumeMounts") or []):
        name = mount.get("name") if isinstance(mount, dict) else None
        if name not in volumes:
            yield (f"{path}.volumeMounts[{index}].name", f"{name!r} is not a volume of the pod")
    for index, port in enumerate(container.get("ports") or []):
        name = port.get("name") if isinstance(port, dict) else None
        if isinstance(name, str) and (reason := port_name_problem(name)):
            yield (f"{path}.ports[{index}].name", f"{name!r} {reason}")
    for index, variable in enumerate(container.get("env") or []):
        name = variable.get("name") if isinstance(variable, dict) else None
        if isinstance(name, str) and (reason := env_name_problem(name)):
            yield (f"{path}.env[{index}].name", f"{name!r} {reason}")
    resources = container.get("resources")
    if isinstance(resources, dict):
        yield from _check_resources(resources, f"{path}.resources")


def _check_resources(resources: Dict[str, Any], path: str) -> Iterator[Problem]:
    parsed: Dict[str, Dict[str, Decimal]] = {}
    for group in ("requests", "limits"):
        parsed[group] = {}
        for resource, value in (resources.get(group) or {}).items():
            quantity = parse_quantity(value)
            if quantity is None:
                yield (f"{path}.{group}.{resource}", f"{value!r} is not a quantity "
                       "(such as 500m, 2, 1.5Gi or 128M)")
            elif quantity < 0:
                yield (f"{path}.{group}.{resource}", f"{value!r} must not be negative")
            else:
                parsed[group][resource] = quantity

    for resource, request in parsed["requests"].items():
        limit = parsed["limits"].get(resource)
        if limit is not None and request > limit:
            yield (f"{path}.requests.{resource}",
                   f"must be less than or equal to the {resource} limit")
