# SPDX-License-Identifier: MIT
"""doc/finding.schema.json, the JSON finding's documented format, against
what the guard writes: every kind it can make here, from native programs and
from pyzmq, in warn, abort and serialize modes (python3-jsonschema)."""
import json
import os

import jsonschema

import guardtest as gt
from guardtest import program, run

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(gt.SOURCE_ROOT, "doc", "finding.schema.json")


def validator():
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check(r, kinds):
    assert sorted(r.kinds()) == sorted(kinds), r
    v = validator()
    for f in r.findings:
        errors = ["%s: %s" % ("/".join(map(str, e.absolute_path)), e.message) for e in v.iter_errors(f)]
        assert not errors, (f["kind"], errors)


def test_native_findings_follow_the_schema():
    check(run([program("shared_dealer")], ["--mode=warn"]), ["cross_thread"])
    check(run([program("use_after_close")], ["--mode=warn"]), ["use_after_close"])
    check(run([program("shared_dealer")], ["--mode=serialize", "--leaks=1"]), ["shared_socket"])


def test_python_findings_follow_the_schema():
    r = run([gt.PYTHON, os.path.join(HERE, "scripts", "shared_push.py")], ["--mode=warn"])
    check(r, ["cross_thread"])
    assert r.findings[0]["python_stack"], r.findings[0]


def test_abort_findings_follow_the_schema():
    r = run([program("shared_dealer")])
    assert r.returncode != 0 and r.findings[0]["severity"] == "ERROR", r
    check(r, ["cross_thread"])


def test_lifecycle_findings_follow_the_schema():
    check(run([program("life_term_blocked")], ["--mode=warn", "--term-timeout-ms=300"]),
          ["ctx_term_open_sockets"] * 2)
    check(run([program("life_leaks")], ["--leaks=1"]), ["leak"] * 2)


def test_a_kind_the_schema_does_not_list_is_refused():
    # The check can fail: a finding of an unknown kind, or with a field the
    # schema does not describe, is an error.
    f = run([program("shared_dealer")], ["--mode=warn"]).findings[0]
    v = validator()
    assert not list(v.iter_errors(f))
    assert list(v.iter_errors(dict(f, kind="new_kind")))
    assert list(v.iter_errors(dict(f, extra_field=1)))


def test_the_schema_lists_the_kinds_of_the_findings_table():
    # src/core/findings.def is the one list of kinds; the schema's "kind"
    # enum is written by hand and must follow it.
    import re
    with open(os.path.join(gt.SOURCE_ROOT, "src", "core", "findings.def")) as f:
        table = re.findall(r"^ZG_FINDING\(\w+, (\w+),", f.read(), re.M)
    with open(SCHEMA) as f:
        documented = json.load(f)["properties"]["kind"]["enum"]
    assert len(table) >= 8 and table == documented, (table, documented)


def test_the_schema_has_the_stacks_of_every_language_of_the_table():
    # src/report/langs.def lists the interpreters whose frames a report
    # reads; each has three fields in every finding, which the schema must
    # require (a language added without them fails here, not in a user's CI).
    import re
    with open(os.path.join(gt.SOURCE_ROOT, "src", "report", "langs.def")) as f:
        langs = re.findall(r"^ZG_LANG\((\w+),", f.read(), re.M)
    with open(SCHEMA) as f:
        schema = json.load(f)
    fields = [p + k + "_stack" for k in langs for p in ("", "owner_", "created_")]
    assert "ruby" in langs, langs
    for field in fields:
        assert field in schema["required"], field
        assert schema["properties"][field] == {"$ref": "#/$defs/script_stack"}, field
    script_fields = [k for k, v in schema["properties"].items() if v == {"$ref": "#/$defs/script_stack"}]
    assert sorted(script_fields) == sorted(fields), (script_fields, fields)


def test_doc_options_has_a_row_for_every_option_of_the_table():
    # src/core/options.def is the one list of options (the wrapper's usage
    # and the man page come from it); doc/options.md's table is written by
    # hand, with each option's default, and must not miss one.
    import re
    with open(os.path.join(gt.SOURCE_ROOT, "src", "core", "options.def")) as f:
        names = re.findall(r"^ZG_OPT_\w+\((\w+),", f.read(), re.M)
    with open(os.path.join(gt.SOURCE_ROOT, "doc", "options.md")) as f:
        rows = set(re.findall(r"^\| `(\w+)` \|", f.read(), re.M))
    assert len(names) >= 20, names
    missing = [n for n in names if n not in rows]
    assert not missing, missing
