"""The syntax of Kubernetes names, label keys and values, selectors and resource quantities.

Each `*_problem` function returns why a value is invalid, or None when it is valid. The
patterns and limits are those of the API server's validation (k8s.io/apimachinery's
pkg/util/validation and the core API's name and quantity rules); the messages are written
for a person fixing a manifest.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Dict, Optional

Rule = Callable[[str], Optional[str]]

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_DATA_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)
_SCALE = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30),
    "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}


def dns1123_label_problem(value: str) -> Optional[str]:
    """Namespace names, container, volume and many other names within a pod."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1123_LABEL.fullmatch(value):
        return ("must be a lowercase RFC 1123 label: lowercase letters, digits and '-', "
                "starting and ending with a letter or digit")
    return None


def dns1123_subdomain_problem(value: str) -> Optional[str]:
    """The names of most kinds: ConfigMap, Secret, Job, Pod, Deployment, ServiceAccount, ..."""
    if len(value) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        return ("must be a lowercase RFC 1123 subdomain: lowercase letters, digits, '-' and "
                "'.', starting and ending with a letter or digit")
    return None


def dns1035_label_problem(value: str) -> Optional[str]:
    """Service names, which become DNS names and must not start with a digit."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _DNS1035_LABEL.fullmatch(value):
        return ("must be a DNS-1035 label: lowercase letters, digits and '-', starting with "
                "a letter and ending with a letter or digit")
    return None


def path_segment_problem(value: str) -> Optional[str]:
    """RBAC object names, which need only be usable as one segment of a URL path."""
    if value in (".", ".."):
        return f"may not be '{value}'"
    for forbidden in ("/", "%"):
        if forbidden in value:
            return f"may not contain '{forbidden}'"
    return None


def name_rule(kind: str) -> Rule:
    """The rule for metadata.name of an object of `kind`."""
    if kind == "Namespace":
        return dns1123_label_problem
    if kind == "Service":
        return dns1035_label_problem
    if kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        return path_segment_problem
    return dns1123_subdomain_problem


def qualified_name_problem(key: str) -> Optional[str]:
    """Label and annotation keys: an optional DNS subdomain prefix, '/', and a name."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "prefix part must be non-empty"
    if prefix and (reason := dns1123_subdomain_problem(prefix)):
        return f"prefix part {reason}"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.fullmatch(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', "
                "starting and ending with an alphanumeric character")
    return None


def label_value_problem(value: Any) -> Optional[str]:
    """Label values, and the values a selector compares them with."""
    if not isinstance(value, str):
        return None  # the schemas already reject it: labels are strings
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _LABEL_VALUE.fullmatch(value):
        return ("must be empty or consist of alphanumeric characters, '-', '_' or '.', "
                "starting and ending with an alphanumeric character")
    return None


def port_name_problem(value: str) -> Optional[str]:
    """Container and Service port names, which follow IANA service names."""
    if len(value) > 15:
        return "must be no more than 15 characters"
    if not _PORT_NAME.fullmatch(value) or "--" in value:
        return ("must contain only lowercase letters, digits and '-', and neither start nor "
                "end with '-' nor hold '--'")
    if not re.search(r"[a-z]", value):
        return "must contain at least one letter"
    return None


def env_name_problem(value: str) -> Optional[str]:
    """Environment variable names that every supported Kubernetes release accepts.

    Releases from 1.34 accept any printable character but '='; older ones only these.
    """
    if not _ENV_NAME.fullmatch(value):
        return ("is not a portable variable name: letters, digits, '_', '-' and '.', "
                "not starting with a digit")
    return None


def data_key_problem(value: str) -> Optional[str]:
    """Keys of ConfigMap and Secret data, which become file names when mounted."""
    if len(value) > 253 or not _DATA_KEY.fullmatch(value):
        return "must consist of alphanumeric characters, '-', '_' or '.' (at most 253)"
    return None


def parse_quantity(value: Any) -> Optional[Decimal]:
    """A resource quantity ("500m", "1Gi", 2) as a number, or None if it is not one."""
    match = _QUANTITY.fullmatch(str(value))
    if not match or isinstance(value, bool):
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number) * Decimal(10) ** int(suffix[1:])
        return Decimal(number) * _SCALE[suffix]
    except (InvalidOperation, OverflowError):
        return None


def selector_matches(selector: Dict[str, Any], labels: Dict[str, Any]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) selects these labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True
