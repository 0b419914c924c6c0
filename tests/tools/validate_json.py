"""Validates a JSON document (stdin) against one of cubeship's schemas in docs/schema/
(draft 2020-12), with every schema there registered so that cross-file $refs resolve.
Used by tests/e2e/schema.rs. Exit 0 when valid; otherwise prints each error and exits 1.

usage: validate_json.py SCHEMA_DIR SCHEMA_FILE < document.json
"""

import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource


def main():
    schema_dir = pathlib.Path(sys.argv[1])
    resources = []
    for path in sorted(schema_dir.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)
    schema = json.loads((schema_dir / sys.argv[2]).read_text())
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    document = json.load(sys.stdin)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        print("%s: %s" % (where, error.message))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
