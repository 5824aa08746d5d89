"""Validates schedules against docs/schedule.schema.json with Debian's python3-jsonschema.
usage: /usr/bin/python3 schema_check.py SCHEMA FILE...   exit 0 valid, 1 invalid, 77 no jsonschema."""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("skipped: no jsonschema module (Debian python3-jsonschema)")
    sys.exit(77)

with open(sys.argv[1]) as f:
    schema = json.load(f)
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
validator = cls(schema)
bad = 0
for path in sys.argv[2:]:
    with open(path) as f:
        doc = json.load(f)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors[:5]:
        where = "$" + "".join("[%d]" % p if isinstance(p, int) else "." + p for p in e.absolute_path)
        print("%s: %s: %s" % (path, where, e.message[:300]))
    if errors:
        bad += 1
    else:
        print("%s: valid (%s)" % (path, cls.__name__))
sys.exit(1 if bad else 0)
