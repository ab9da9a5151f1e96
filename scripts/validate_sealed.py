#!/usr/bin/env python3
"""Validate SealedSecret manifests against the openAPIV3Schema of deploy/crd.yaml, strictly:
objects that list their properties accept no others (as the API server prunes them).

usage: validate_sealed.py CRD_YAML MANIFEST... ; exit 1 on any failure.
"""
import sys

import jsonschema
import yaml


def strict(schema):
    """Forbid unknown properties wherever the schema lists them and does not preserve unknowns."""
    if isinstance(schema, dict):
        if "properties" in schema and "additionalProperties" not in schema \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        for value in schema.values():
            strict(value)
    elif isinstance(schema, list):
        for value in schema:
            strict(value)
    return schema


def main(crd_path, manifests):
    with open(crd_path) as f:
        crd = yaml.safe_load(f)
    version = crd["spec"]["versions"][0]
    schema = strict(version["schema"]["openAPIV3Schema"])
    schema.setdefault("properties", {}).update({
        "apiVersion": {"type": "string", "enum": [f"{crd['spec']['group']}/{version['name']}"]},
        "kind": {"type": "string", "enum": [crd["spec"]["names"]["kind"]]},
        "metadata": {"type": "object"},
    })
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "spec"})
    failures = 0
    for path in manifests:
        with open(path) as f:
            for i, doc in enumerate(d for d in yaml.safe_load_all(f) if d):
                try:
                    jsonschema.validate(doc, schema)
                    print(f"{path}: document {i + 1}: valid SealedSecret")
                except jsonschema.ValidationError as e:
                    failures += 1
                    where = "/".join(str(p) for p in e.absolute_path) or "(root)"
                    print(f"{path}: document {i + 1}: {where}: {e.message}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
