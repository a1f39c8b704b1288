"""Validates `tank-registry scan --format sarif` against the SARIF 2.1.0 schema (SPEC §8.7).

Packs every sample under fixtures/scan (and a few inline packages) into a .tgz, scans it with the release
binary, checks the exit status against the verdict (§9.3), validates the SARIF log against the schema and
checks the §8.7 details the schema does not cover.
"""
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import jsonschema

BIN, SCHEMA, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
EXIT = {"PASS": 0, "PASS_WITH_NOTES": 0, "FLAGGED": 1, "FAIL": 2}


def tgz_of_dir(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for dirpath, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                full = os.path.join(dirpath, name)
                tar.add(full, arcname=os.path.relpath(full, root))
    return buf.getvalue()


def tgz_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def samples():
    yield "inline/no-skill-md", tgz_of({"skill.py": b"print('hi')\n"})
    yield "inline/not-an-archive", b"PK\x03\x04 this is not a tgz"
    for kind in ("malicious", "benign"):
        base = os.path.join(FIXTURES, kind)
        if not os.path.isdir(base):
            continue
        for name in sorted(os.listdir(base)):
            yield f"{kind}/{name}", tgz_of_dir(os.path.join(base, name))


def main():
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema)
    failures, count, results_seen = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, data in samples():
            path = os.path.join(tmp, label.replace("/", "_") + ".tgz")
            with open(path, "wb") as f:
                f.write(data)
            p = subprocess.run([BIN, "scan", path, "--format", "sarif"], capture_output=True, timeout=60)
            count += 1
            try:
                log = json.loads(p.stdout)
            except ValueError:
                failures.append(f"{label}: output is not JSON (exit {p.returncode}): {p.stderr[:300]!r}")
                continue
            errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
            for e in errors[:5]:
                failures.append(f"{label}: schema: {'/'.join(map(str, e.path))}: {e.message[:200]}")
            run = log["runs"][0]
            verdict = run["properties"]["verdict"]
            if p.returncode != EXIT[verdict]:
                failures.append(f"{label}: exit {p.returncode} for verdict {verdict}")
            rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
            if len(rules) != len(set(rules)):
                failures.append(f"{label}: duplicate rules")
            for r in run["results"]:
                results_seen += 1
                if rules[r["ruleIndex"]] != r["ruleId"]:
                    failures.append(f"{label}: ruleIndex of {r['ruleId']} points at {rules[r['ruleIndex']]}")
                fp = r["partialFingerprints"]["tankFinding/v1"]
                if len(fp) != 32:
                    failures.append(f"{label}: fingerprint {fp!r}")
                want = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
                if r["level"] != want[r["properties"]["severity"]]:
                    failures.append(f"{label}: level {r['level']} for {r['properties']['severity']}")
    print(f"sarif: {count} scans validated, {results_seen} results")
    if count < 3 or results_seen == 0:
        failures.append("too few scans or no results at all: the test would prove nothing")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
