"""The official Python client (tank-sdk 0.16.2, module `tankpkg`) against a running tank-registry.

Run by tests/compat/run.sh, which starts the release binary and passes, through the environment:
TANK_COMPAT_URL (the server's public URL), TANK_COMPAT_TOKEN (alice: read+publish, member of org acme),
TANK_COMPAT_OUTSIDER_TOKEN (bob: read+publish, not a member), TANK_COMPAT_READ_TOKEN (alice, skills:read only).

Skills are published over plain HTTP (httpx) with the 3-step flow the real CLI uses (SPEC §3.4–§3.6); every
read goes through `tankpkg.TankClient`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

import tankpkg
from tankpkg import (
    SkillContent,
    TankAuthError,
    TankClient,
    TankNotFoundError,
    UserInfo,
    VersionDetail,
)

URL = os.environ["TANK_COMPAT_URL"].rstrip("/")
ALICE = os.environ["TANK_COMPAT_TOKEN"]
BOB = os.environ["TANK_COMPAT_OUTSIDER_TOKEN"]
ALICE_READ = os.environ["TANK_COMPAT_READ_TOKEN"]
ORG = os.environ.get("TANK_COMPAT_ORG", "acme")

PUBLIC = f"@{ORG}/compat-skill"
PRIVATE = f"@{ORG}/compat-private"
PUBLIC_ENC = PUBLIC.replace("@", "%40").replace("/", "%2F")

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
VERDICTS = {"PASS", "PASS_WITH_NOTES", "FLAGGED", "FAIL"}

PERMISSIONS = {"network": {"outbound": ["api.example.com"]}, "subprocess": False}
DEPENDENCIES = {f"@{ORG}/helper": "^1.0.0"}


def skill_files(version: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    files = {
        "SKILL.md": (
            "---\nname: compat-skill\ndescription: Formats weather reports for travellers.\n---\n\n"
            f"# Compat skill {version}\n\nFormats weather reports for travellers, briefly.\n"
        ),
        "scripts/run.py": f'print("compat skill {version}")\n',
        # Non-ASCII on purpose: the file endpoint must serve UTF-8 with a charset the client honours.
        "references/guide.md": f"# Guide {version}\n\nCafé ☕ — naïve résumé, ✓ done.\n",
    }
    files.update(extra or {})
    return files


def build_tgz(files: dict[str, str]) -> bytes:
    """A .tgz of regular files, built with Python's tarfile (what a Python-based publisher would do)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(files):
            data = files[path].encode("utf-8")
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_767_225_600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def client(token: str | None, config_dir: str) -> TankClient:
    # An empty config_dir: no ~/.tank/config.json token can leak into "anonymous" clients.
    return TankClient(token=token, registry_url=URL, config_dir=config_dir, max_retries=0)


def publish_http(token: str, manifest: dict, tgz: bytes, files: list[str], *, anon: TankClient | None = None) -> dict:
    """POST /api/v1/skills → PUT uploadUrl → POST /api/v1/skills/confirm; returns the confirm body."""
    auth = {"Authorization": f"Bearer {token}"}
    integrity = sri(tgz)
    with httpx.Client(timeout=30.0, follow_redirects=False) as http:
        r = http.post(f"{URL}/api/v1/skills", json={"manifest": manifest, "files": files}, headers=auth)
        assert r.status_code == 201, r.text
        start = r.json()
        assert start["uploadUrl"].startswith(f"{URL}/api/v1/uploads/ver_"), start
        assert start["versionId"].startswith("ver_")
        assert start["skillId"].startswith("skill_")
        assert start["expiresIn"] == 3600
        assert TIMESTAMP.match(start["expiresAt"]), start

        # The upload carries no Authorization header, like the real CLI.
        r = http.put(start["uploadUrl"], content=tgz, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        assert r.json() == {"ok": True, "size": len(tgz), "integrity": integrity}

        if anon is not None:
            # Uploaded but unconfirmed: invisible to readers.
            with pytest.raises(TankNotFoundError):
                anon.version_detail(manifest["name"], manifest["version"])

        r = http.post(
            f"{URL}/api/v1/skills/confirm",
            json={
                "versionId": start["versionId"],
                "integrity": integrity,
                "fileCount": len(files),
                "tarballSize": len(tgz),
            },
            headers=auth,
        )
        assert r.status_code == 200, r.text
        body = r.json()
    assert body["success"] is True
    assert body["name"] == manifest["name"]
    assert body["version"] == manifest["version"]
    assert body["status"] == "published"
    assert body["integrity"] == integrity
    assert body["verdict"] in VERDICTS
    assert body["scanVerdict"] == body["verdict"].lower()
    assert isinstance(body["auditScore"], int) and 0 <= body["auditScore"] <= 10
    assert TIMESTAMP.match(body["publishedAt"]), body
    return body


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("tank-config"))


@pytest.fixture(scope="module")
def alice(config_dir):
    with client(ALICE, config_dir) as c:
        yield c


@pytest.fixture(scope="module")
def bob(config_dir):
    with client(BOB, config_dir) as c:
        yield c


@pytest.fixture(scope="module")
def anon(config_dir):
    with client(None, config_dir) as c:
        yield c


@pytest.fixture(scope="module")
def published(anon):
    """Publishes @acme/compat-skill 1.0.0 and 1.1.0 (public) and @acme/compat-private 1.0.0 (private)."""
    out: dict[str, dict] = {}
    v1_files = skill_files("1.0.0")
    v2_files = skill_files("1.1.0", {"references/api.md": "# API\n\nGET /forecast\n"})
    specs = [
        (PUBLIC, "1.0.0", "Formats weather reports (first release).", v1_files, "public"),
        (PUBLIC, "1.1.0", "Formats weather reports for travellers.", v2_files, "public"),
        (PRIVATE, "1.0.0", "A private skill of the acme org.", skill_files("1.0.0"), "private"),
    ]
    for name, version, description, files, visibility in specs:
        manifest = {
            "name": name,
            "version": version,
            "description": description,
            "visibility": visibility,
            "permissions": PERMISSIONS,
            "skills": DEPENDENCIES,
        }
        tgz = build_tgz(files)
        confirm = publish_http(ALICE, manifest, tgz, sorted(files), anon=anon)
        assert confirm["visibility"] == visibility
        out[f"{name}@{version}"] = {
            "tgz": tgz,
            "files": files,
            "description": description,
            "confirm": confirm,
        }
    return out


def test_sdk_version():
    assert tankpkg.__version__ == "0.16.2"


def test_republish_is_409(published):
    tgz = published[f"{PUBLIC}@1.0.0"]["tgz"]
    r = httpx.post(
        f"{URL}/api/v1/skills",
        json={"manifest": {"name": PUBLIC, "version": "1.0.0"}},
        headers={"Authorization": f"Bearer {ALICE}"},
        timeout=30.0,
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "VERSION_EXISTS"
    assert len(tgz) > 0


def test_whoami(alice, config_dir):
    me = alice.whoami()
    assert isinstance(me, UserInfo)
    assert me.user_id.startswith("usr_") and len(me.user_id) == 4 + 26
    assert me.name == "alice"
    assert me.email == "alice@example.com"

    with client(ALICE_READ, config_dir) as read_only:
        me2 = read_only.whoami()
    assert me2 == me, "a skills:read token identifies the same user"

    # A well-formed but unknown token, and a token without the tank_ prefix: 401 → None.
    with client("tank_" + "0" * 43, config_dir) as bad:
        assert bad.whoami() is None
    with client("not-a-tank-token", config_dir) as bad:
        assert bad.whoami() is None
    # Invalid credentials are never downgraded to anonymous on reads either (SPEC §2.8).
    with client("tank_" + "0" * 43, config_dir) as bad:
        with pytest.raises(TankAuthError):
            bad.info(PUBLIC)


def test_info(published, alice, anon):
    for c in (anon, alice):
        info = c.info(PUBLIC)
        assert info["name"] == PUBLIC
        assert info["latestVersion"] == "1.1.0"
        assert info["description"] == "Formats weather reports for travellers."
        assert info["visibility"] == "public"
        assert info["publisher"] == {"name": "alice", "displayName": "Alice Doe"}
        assert info["auditStatus"] == "completed"
        assert info["permissions"] == PERMISSIONS
        assert isinstance(info["auditScore"], int) and 0 <= info["auditScore"] <= 10
        assert info["verdict"] == published[f"{PUBLIC}@1.1.0"]["confirm"]["verdict"]
        assert TIMESTAMP.match(info["createdAt"]) and TIMESTAMP.match(info["updatedAt"])
        assert info["createdAt"] <= info["updatedAt"]
        assert [v["version"] for v in info["versions"]] == ["1.1.0", "1.0.0"]
        assert "Formats weather reports for travellers" in info["readme"]
    with pytest.raises(TankNotFoundError):
        anon.info(f"@{ORG}/does-not-exist")


def test_versions(published, anon):
    data = anon.versions(PUBLIC)
    assert data["name"] == PUBLIC
    versions = data["versions"]
    assert [v["version"] for v in versions] == ["1.1.0", "1.0.0"]
    for v in versions:
        entry = published[f"{PUBLIC}@{v['version']}"]
        assert v["integrity"] == sri(entry["tgz"])
        assert v["tarballSize"] == len(entry["tgz"])
        assert v["fileCount"] == len(entry["files"])
        assert v["auditStatus"] == "completed"
        assert v["publishedAt"] == entry["confirm"]["publishedAt"]
        assert v["auditScore"] == entry["confirm"]["auditScore"]
        assert v["verdict"] == entry["confirm"]["verdict"]
        assert v["scanVerdict"] == v["verdict"].lower()
    with pytest.raises(TankNotFoundError):
        anon.versions(f"@{ORG}/does-not-exist")


def test_version_detail(published, anon):
    entry = published[f"{PUBLIC}@1.0.0"]
    d = anon.version_detail(PUBLIC, "1.0.0")
    assert isinstance(d, VersionDetail)
    assert d.name == PUBLIC
    assert d.version == "1.0.0"
    assert d.integrity == sri(entry["tgz"])
    assert d.audit_status == "completed"
    assert d.audit_score == entry["confirm"]["auditScore"]
    assert d.scan_verdict == entry["confirm"]["scanVerdict"]
    assert isinstance(d.scan_findings, list)
    for f in d.scan_findings:
        assert f["severity"] in {"critical", "high", "medium", "low"}
    assert d.permissions == PERMISSIONS
    assert d.dependencies == DEPENDENCIES
    assert d.description == entry["description"], "description comes from this version's manifest"
    assert d.published_at == entry["confirm"]["publishedAt"]
    # Public skill: absolute, query-less URL on this server, name encoded as one segment.
    assert d.download_url == f"{URL}/api/v1/skills/{PUBLIC_ENC}/1.0.0/tarball"
    assert isinstance(d.downloads, int)

    with pytest.raises(TankNotFoundError):
        anon.version_detail(PUBLIC, "9.9.9")
    with pytest.raises(TankNotFoundError):
        anon.version_detail(PUBLIC, "v1.0.0")


def test_download(published, anon, tmp_path):
    for version in ("1.0.0", "1.1.0"):
        tgz = published[f"{PUBLIC}@{version}"]["tgz"]
        before = anon.version_detail(PUBLIC, version).downloads
        data = anon.download(PUBLIC, version)  # the SDK's own integrity check must pass
        assert data == tgz
        assert hashlib.sha512(data).digest() == hashlib.sha512(tgz).digest()
        after = anon.version_detail(PUBLIC, version).downloads
        assert after == before + 1, "each tarball GET counts once; version detail does not count"

    data = anon.download(PUBLIC, "1.0.0", dest=str(tmp_path))
    written = tmp_path / f"@{ORG}-compat-skill-1.0.0.tgz"
    assert written.read_bytes() == data == published[f"{PUBLIC}@1.0.0"]["tgz"]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == sorted(published[f"{PUBLIC}@1.0.0"]["files"])

    with pytest.raises(TankNotFoundError):
        anon.download(PUBLIC, "2.0.0")


def test_list_files(published, anon):
    assert anon.list_files(PUBLIC, "1.0.0") == ["SKILL.md", "references/guide.md", "scripts/run.py"]
    # Without a version: the latest (1.1.0 adds references/api.md); byte-wise sorted.
    assert anon.list_files(PUBLIC) == [
        "SKILL.md",
        "references/api.md",
        "references/guide.md",
        "scripts/run.py",
    ]
    with pytest.raises(TankNotFoundError):
        anon.list_files(PUBLIC, "3.0.0")


def test_read_file(published, anon):
    files = published[f"{PUBLIC}@1.0.0"]["files"]
    for path, text in files.items():
        assert anon.read_file(PUBLIC, "1.0.0", path) == text, path
    assert "Café ☕" in anon.read_file(PUBLIC, "1.0.0", "references/guide.md")
    assert anon.read_file(PUBLIC, "1.1.0", "references/api.md") == "# API\n\nGET /forecast\n"
    with pytest.raises(TankNotFoundError):
        anon.read_file(PUBLIC, "1.0.0", "references/api.md")  # only in 1.1.0
    with pytest.raises(TankNotFoundError):
        anon.read_file(PUBLIC, "1.0.0", "nope.txt")


def test_read_skill(published, anon):
    files = published[f"{PUBLIC}@1.0.0"]["files"]
    s = anon.read_skill(PUBLIC, "1.0.0")
    assert isinstance(s, SkillContent)
    assert s.name == PUBLIC and s.version == "1.0.0"
    assert s.content == files["SKILL.md"]
    assert s.scripts == {"run.py": files["scripts/run.py"]}
    assert s.references == {"guide.md": files["references/guide.md"]}
    assert s.files == ["SKILL.md", "references/guide.md", "scripts/run.py"]

    latest = anon.read_skill(PUBLIC)
    files2 = published[f"{PUBLIC}@1.1.0"]["files"]
    assert latest.version == "1.1.0"
    assert latest.content == files2["SKILL.md"]
    assert latest.references == {
        "api.md": files2["references/api.md"],
        "guide.md": files2["references/guide.md"],
    }
    assert latest.scripts == {"run.py": files2["scripts/run.py"]}


def test_stars(published, alice, bob, anon, config_dir):
    assert alice.get_star_count(PUBLIC) == {"starred": False, "stars": 0, "isStarred": False, "count": 0}

    assert alice.star(PUBLIC) is None
    assert alice.get_star_count(PUBLIC) == {"starred": True, "stars": 1, "isStarred": True, "count": 1}
    alice.star(PUBLIC)  # idempotent
    assert alice.get_star_count(PUBLIC)["count"] == 1

    bob.star(PUBLIC)
    assert bob.get_star_count(PUBLIC) == {"starred": True, "stars": 2, "isStarred": True, "count": 2}
    assert alice.info(PUBLIC)["stars"] == 2

    alice.unstar(PUBLIC)
    assert alice.get_star_count(PUBLIC) == {"starred": False, "stars": 1, "isStarred": False, "count": 1}
    alice.unstar(PUBLIC)  # idempotent
    assert alice.get_star_count(PUBLIC)["count"] == 1
    assert bob.get_star_count(PUBLIC)["isStarred"] is True

    # skills:read is enough to star.
    with client(ALICE_READ, config_dir) as read_only:
        read_only.star(PUBLIC)
        assert read_only.get_star_count(PUBLIC) == {"starred": True, "stars": 2, "isStarred": True, "count": 2}
        read_only.unstar(PUBLIC)
    bob.unstar(PUBLIC)
    assert bob.get_star_count(PUBLIC)["count"] == 0
    assert anon.info(PUBLIC)["stars"] == 0

    # Anonymous callers get 401 (before the skill lookup); unknown skills 404.
    for call in (anon.star, anon.unstar, anon.get_star_count):
        with pytest.raises(TankAuthError):
            call(PUBLIC)
    with pytest.raises(TankAuthError):
        anon.get_star_count(f"@{ORG}/does-not-exist")
    with pytest.raises(TankNotFoundError):
        alice.star(f"@{ORG}/does-not-exist")


def test_private_skill_hidden_from_outsiders(published, anon, bob):
    for c in (anon, bob):
        with pytest.raises(TankNotFoundError):
            c.info(PRIVATE)
        with pytest.raises(TankNotFoundError):
            c.versions(PRIVATE)
        with pytest.raises(TankNotFoundError):
            c.version_detail(PRIVATE, "1.0.0")
        with pytest.raises(TankNotFoundError):
            c.download(PRIVATE, "1.0.0")
        with pytest.raises(TankNotFoundError):
            c.list_files(PRIVATE, "1.0.0")
        with pytest.raises(TankNotFoundError):
            c.read_file(PRIVATE, "1.0.0", "SKILL.md")
        with pytest.raises(TankNotFoundError):
            c.read_skill(PRIVATE)
    with pytest.raises(TankNotFoundError):
        bob.get_star_count(PRIVATE)
    # The bare tarball URL without a capability is 404 too.
    r = httpx.get(f"{URL}/api/v1/skills/{PRIVATE.replace('@', '%40').replace('/', '%2F')}/1.0.0/tarball")
    assert r.status_code == 404
    assert r.json()["error"] == "NOT_FOUND"


def test_private_skill_readable_by_member(published, alice):
    entry = published[f"{PRIVATE}@1.0.0"]
    info = alice.info(PRIVATE)
    assert info["name"] == PRIVATE
    assert info["visibility"] == "private"
    assert info["latestVersion"] == "1.0.0"

    d = alice.version_detail(PRIVATE, "1.0.0")
    assert d.integrity == sri(entry["tgz"])
    url = urlparse(d.download_url)
    assert f"{url.scheme}://{url.netloc}" == URL
    q = parse_qs(url.query)
    assert q["uid"][0] == alice.whoami().user_id
    assert re.fullmatch(r"[0-9a-f]{64}", q["signature"][0])
    assert int(q["expires"][0]) > 0

    # The SDK downloads the capability URL without an Authorization header.
    assert alice.download(PRIVATE, "1.0.0") == entry["tgz"]
    r = httpx.get(d.download_url, follow_redirects=False)
    assert r.status_code == 200 and r.content == entry["tgz"]

    s = alice.read_skill(PRIVATE)
    assert s.version == "1.0.0"
    assert s.content == entry["files"]["SKILL.md"]
    assert s.scripts == {"run.py": entry["files"]["scripts/run.py"]}
    assert s.references == {"guide.md": entry["files"]["references/guide.md"]}

    alice.star(PRIVATE)
    assert alice.get_star_count(PRIVATE)["count"] == 1
    alice.unstar(PRIVATE)
    assert alice.get_star_count(PRIVATE)["count"] == 0


def test_search(published, anon, alice, bob):
    """The client's `search` (issue "Search"): fresh publishes are findable at once by description words,
    results carry the fields the clients read, and private skills appear only for members."""
    res = anon.search("travellers")
    assert res["page"] == 1 and res["limit"] == 20
    names = [r["name"] for r in res["results"]]
    assert names == [PUBLIC], res
    hit = res["results"][0]
    assert hit["latestVersion"] == "1.1.0"
    assert hit["description"] == "Formats weather reports for travellers."
    assert hit["publisher"] == "alice"
    assert isinstance(hit["downloads"], int) and isinstance(hit["auditScore"], int)
    assert hit["scanVerdict"] == hit["verdict"].lower()
    assert res["total"] == 1
    # Scope listing: the private skill is neither listed nor counted for outsiders.
    scope = PUBLIC.split("/")[0]
    anon_scope = anon.search(scope)
    assert [r["name"] for r in anon_scope["results"]] == [PUBLIC] and anon_scope["total"] == 1
    bob_scope = bob.search(scope)
    assert bob_scope["total"] == 1
    member = alice.search(scope)
    assert sorted(r["name"] for r in member["results"]) == sorted([PUBLIC, PRIVATE]) and member["total"] == 2
    # A typo still finds it; pagination is clamped, never an error.
    assert PUBLIC in [r["name"] for r in anon.search("travelers")["results"]]
    page = anon.search("weather", page=99999, limit=500)
    assert page["page"] == 10000 and page["limit"] == 50 and page["results"] == []
    assert anon.search("zzzzqqq")["total"] == 0
