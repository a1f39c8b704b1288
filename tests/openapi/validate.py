"""Validates the served OpenAPI document (SPEC §3.2) against the OpenAPI 3.1 JSON schema.

Usage: validate.py URL SCHEMA_DIR. SCHEMA_DIR is `schemas/v3.1` of the openapi-schemas package; its files are
registered locally, so nothing is fetched from the network. Besides the document schema, every Schema Object
(components and inline) is checked against the JSON Schema 2020-12 meta-schema, which the OAS 3.1 document
schema leaves open, and every `$ref` must resolve inside the document.
"""

import json
import pathlib
import sys
import urllib.request

from jsonschema import Draft202012Validator
from referencing import Registry, Resource


def load(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        if resp.status != 200:
            sys.exit(f"error: {url} answered {resp.status}")
        return json.load(resp)


def schema_objects(doc):
    """Yields (pointer, schema) for every Schema Object the document holds."""
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        yield f"#/components/schemas/{name}", schema
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            for p in op.get("parameters", []):
                yield f"{where} parameter {p.get('name')}", p.get("schema", {})
            for media, c in op.get("requestBody", {}).get("content", {}).items():
                yield f"{where} request {media}", c.get("schema", {})
            for status, r in op.get("responses", {}).items():
                for media, c in r.get("content", {}).items():
                    yield f"{where} {status} {media}", c.get("schema", {})


def refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for v in node.values():
            yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def resolve(doc, ref):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def main():
    url, schema_dir = sys.argv[1], pathlib.Path(sys.argv[2])
    resources = []
    for f in sorted(schema_dir.rglob("*.json")):
        contents = json.loads(f.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    registry = Registry().with_resources(resources)
    oas = json.loads((schema_dir / "schema.json").read_text())
    doc = load(url)

    problems = []
    validator = Draft202012Validator(oas, registry=registry)
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        problems.append(f"document /{'/'.join(map(str, e.absolute_path))}: {e.message}")
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    checked = 0
    for where, schema in schema_objects(doc):
        checked += 1
        for e in meta.iter_errors(schema):
            problems.append(f"schema {where} /{'/'.join(map(str, e.absolute_path))}: {e.message}")
    for ref in set(refs(doc)):
        if not ref.startswith("#/") or resolve(doc, ref) is None:
            problems.append(f"dangling $ref {ref}")

    if doc.get("openapi") != "3.1.0":
        problems.append(f"openapi is {doc.get('openapi')!r}, not 3.1.0")
    ops = sum(len(item) for item in doc.get("paths", {}).values())
    if problems:
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        sys.exit(f"error: {len(problems)} problem(s) in {url}")
    print(f"ok: {url} is a valid OpenAPI 3.1 document ({ops} operations, {checked} schemas checked)")


if __name__ == "__main__":
    main()
