#!/usr/bin/env python3
"""Validates Kubernetes manifests offline, as strictly as an API server would.

Every document is checked against the official OpenAPI schemas of a Kubernetes release in
strict mode (an unknown field or kind is an error), using the schemas that the
kubernetes-validate package ships, then against the rules the schemas leave to the API server:
name and namespace syntax per kind, label and annotation keys and values, selectors that match
their pod templates, container, volume and port names, resource quantities (object_rules.py).
A document that appears twice (same kind, namespace and name) is an error too.

    validate.py [-k VERSION]... [--bundle] PATH...

PATH is a YAML or JSON file (YAML may hold several documents; a `kind: List` is unpacked), a
directory searched for *.yaml, *.yml and *.json files, or `-` for standard input, so that
`kubectl kustomize deploy/ | validate.py --bundle -` works. `-k` picks the Kubernetes
release(s) to validate against, such as 1.30 or `latest` (the default): the newest release
whose schemas the installed kubernetes-validate ships.
`--bundle` adds the checks for a set of objects applied as a whole (bundle_rules.py).

Exit status: 0 when every document is valid, 1 when any problem was found (each is printed as
`ORIGIN: KIND NAMESPACE/NAME: FIELD: MESSAGE`), 2 when the command itself could not run.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import yaml
from kubernetes_validate import utils as schemas
from kubernetes_validate.version import __version__ as KUBERNETES_VALIDATE_VERSION

from bundle_rules import check_bundle
from object_rules import check_object

Located = Tuple[str, Any]  # (where a document came from, the document)
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class UsageError(Exception):
    """The command cannot run: a missing path or an unsupported Kubernetes version."""


class _KubectlYamlLoader(yaml.SafeLoader):
    """YAML read the way kubectl reads it, except that a key repeated in a mapping is an error.

    kubectl's YAML decoder leaves unquoted dates as strings, so the timestamp resolver is
    removed; a bare `=` is a string too.
    """

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base class reports an unhashable key
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"found the key {key!r} twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_KubectlYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_KubectlYamlLoader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Validate Kubernetes manifests offline (strict schemas and API server rules).")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="YAML or JSON file, directory of them, or - for standard input")
    parser.add_argument("-k", "--kubernetes-version", action="append", dest="versions",
                        metavar="VERSION", help="Kubernetes release to validate against, or latest "
                        f"(repeatable; default latest, here {schemas.latest_version()})")
    parser.add_argument("--bundle", action="store_true",
                        help="the documents are applied together: require namespaces and "
                        "resolve references between them")
    args = parser.parse_args(argv)
    try:
        versions = [_supported(v) for v in args.versions or [schemas.latest_version()]]
        documents, problems = _load_all(args.paths)
    except UsageError as error:
        print(f"validate.py: error: {error}", file=sys.stderr)
        return 2

    problems += _validate(documents, versions, args.bundle)
    for problem in problems:
        print(problem)
    against = ", ".join(versions)
    tool = f"kubernetes-validate {KUBERNETES_VALIDATE_VERSION}"
    if problems:
        print(f"validate.py: {len(problems)} problem(s) in {len(documents)} document(s) "
              f"(Kubernetes {against}, {tool})")
        return 1
    if not documents:
        print("validate.py: no documents found", file=sys.stderr)
        return 1
    print(f"validate.py: {len(documents)} document(s) valid against Kubernetes {against} "
          f"({tool}, strict)")
    return 0


def _supported(version: str) -> str:
    """The shipped schema release for `version` ("1.37", "1.37.0" or "latest"), or a UsageError."""
    if version == "latest":
        return schemas.latest_version()
    wanted = schemas.major_minor(version.lstrip("v"))
    for shipped in schemas.all_versions():
        if schemas.major_minor(shipped) == wanted:
            return shipped
    raise UsageError(f"kubernetes-validate {KUBERNETES_VALIDATE_VERSION} has no schemas for "
                     f"Kubernetes {version}; it has {', '.join(schemas.all_versions())}")


def _load_all(paths: List[str]) -> Tuple[List[Located], List[str]]:
    documents: List[Located] = []
    problems: List[str] = []
    for path in paths:
        for origin, text in _read(path):
            try:
                documents += _documents(origin, text)
            except yaml.MarkedYAMLError as error:
                mark = error.problem_mark
                where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
                problems.append(f"{origin}: cannot be parsed: {where}{error.problem}")
            except (yaml.YAMLError, ValueError) as error:  # JSONDecodeError is a ValueError
                problems.append(f"{origin}: cannot be parsed: {_one_line(error)}")
    return documents, problems


def _read(path: str) -> Iterator[Tuple[str, str]]:
    if path == "-":
        yield ("<stdin>", sys.stdin.read())
        return
    target = Path(path)
    if target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.suffix in _MANIFEST_SUFFIXES)
    elif target.is_file():
        files = [target]
    else:
        raise UsageError(f"{path}: no such file or directory")
    for file in files:
        try:
            yield (str(file), file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{file}: cannot be read: {error}") from error


def _documents(origin: str, text: str) -> List[Located]:
    if origin.endswith(".json"):
        parsed = json.loads(text, object_pairs_hook=_json_object)
        loaded = parsed if isinstance(parsed, list) else [parsed]
    else:
        loaded = [d for d in yaml.load_all(text, Loader=_KubectlYamlLoader) if d is not None]
    documents: List[Located] = []
    for index, document in enumerate(loaded, start=1):
        where = origin if len(loaded) == 1 else f"{origin} (document {index})"
        if isinstance(document, dict) and document.get("kind") == "List":
            items = document.get("items") or []
            documents += [(f"{where} item {i}", item) for i, item in enumerate(items, start=1)]
        else:
            documents.append((where, document))
    return documents


def _json_object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"found the key {key!r} twice in one object")
    return dict(pairs)


def _validate(documents: List[Located], versions: List[str], bundle: bool) -> List[str]:
    problems: List[str] = []
    seen: Dict[Tuple[str, str, str, str], str] = {}
    well_formed: List[Located] = []
    for origin, document in documents:
        if not _well_formed(document):
            problems.append(f"{origin}: not a Kubernetes object (a mapping with apiVersion, "
                            "kind and metadata)")
            continue
        document = _without_nulls(document)
        well_formed.append((origin, document))
        label = _describe(document)
        for version in versions:
            if schema_error := _schema_error(document, version):
                problems.append(f"{origin}: {label}: {schema_error}")
        for path, message in check_object(document):
            problems.append(f"{origin}: {label}: {path}: {message}")
        identity = _identity(document)
        if identity in seen:
            problems.append(f"{origin}: {label}: already defined in {seen[identity]}")
        seen.setdefault(identity, origin)
    if bundle:
        for origin, document, path, message in check_bundle(well_formed):
            problems.append(f"{origin}: {_describe(document)}: {path}: {message}")
    return problems


def _schema_error(document: Dict[str, Any], version: str) -> str:
    """Why the strict schema of `version` rejects the document, or "" when it accepts it."""
    try:
        schemas.validate(document, version, strict=True)
    except schemas.ValidationError as error:
        path = _field_path(error.path) or "(top level)"
        return f"{path}: {_one_line(error.message)} [Kubernetes {error.version} schema]"
    except schemas.SchemaNotFoundError:
        return (f"Kubernetes {schemas.major_minor(version)} has no kind {document['kind']!r} "
                f"in {document['apiVersion']!r}")
    except Exception as error:  # a schema the validator could not use: report, don't crash
        return f"could not be validated against Kubernetes {version}: {_one_line(error)}"
    return ""


def _without_nulls(node: Any) -> Any:
    """The document as the API server decodes it: a field set to null is a field not set.

    Serializers and `kubectl create --dry-run -o yaml` (creationTimestamp: null) write them.
    """
    if isinstance(node, dict):
        return {key: _without_nulls(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [_without_nulls(item) for item in node]
    return node


def _well_formed(document: Any) -> bool:
    return (isinstance(document, dict)
            and isinstance(document.get("apiVersion"), str)
            and isinstance(document.get("kind"), str)
            and isinstance(document.get("metadata"), dict))


def _describe(document: Dict[str, Any]) -> str:
    metadata = document["metadata"]
    name = metadata.get("name") or metadata.get("generateName") or "(unnamed)"
    namespace = metadata.get("namespace")
    return f"{document['kind']} {namespace}/{name}" if namespace else f"{document['kind']} {name}"


def _identity(document: Dict[str, Any]) -> Tuple[str, str, str, str]:
    group = document["apiVersion"].rpartition("/")[0]
    metadata = document["metadata"]
    return (group, document["kind"], str(metadata.get("namespace") or ""),
            str(metadata.get("name") or id(document)))


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
