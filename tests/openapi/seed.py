"""Publishes @acme/hello-world 1.0.0 through the API (start, PUT, confirm), so that the documented examples
of the OpenAPI document (name `@acme/hello-world`, version `1.0.0`, file `SKILL.md`) hit real data and the
success responses are checked against their schemas too.

Usage: seed.py URL TOKEN
"""

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request


def tgz(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def call(method, url, token=None, body=None, content_type="application/json"):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.load(resp)


def main():
    url, token = sys.argv[1], sys.argv[2]
    manifest = {"name": "@acme/hello-world", "version": "1.0.0", "description": "Greets the user."}
    tarball = tgz({
        "SKILL.md": "---\nname: hello-world\ndescription: Greets the user.\n---\n\n# Hello\n\nSay hello.\n",
        "tank.json": json.dumps(manifest),
    })
    status, started = call("POST", f"{url}/api/v1/skills", token, {"manifest": manifest})
    assert status == 201, started
    status, up = call("PUT", started["uploadUrl"], body=tarball, content_type="application/gzip")
    assert status == 200, up
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    status, done = call("POST", f"{url}/api/v1/skills/confirm", token,
                        {"versionId": started["versionId"], "integrity": integrity})
    assert status == 200 and done["status"] == "published", done
    print(f"seeded {done['name']}@{done['version']} ({done['verdict']})")


if __name__ == "__main__":
    main()
