-- 0001: users, orgs, tokens, skills, versions, stars, grants. Append-only: never edit a released migration.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    email_lc      TEXT UNIQUE,
    display_name  TEXT,
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    is_pro        INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE org_members (
    org_id  TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash         TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    label        TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    approved_by  TEXT
);
CREATE INDEX tokens_user ON tokens(user_id);
CREATE INDEX tokens_approved_by ON tokens(approved_by);

CREATE TABLE skills (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    scope             TEXT,
    owner_user_id     TEXT REFERENCES users(id),
    visibility        TEXT NOT NULL DEFAULT 'public',
    description       TEXT NOT NULL DEFAULT '',
    repository        TEXT,
    latest_version_id TEXT,
    created_at        INTEGER,
    updated_at        INTEGER,
    row_created_at    INTEGER NOT NULL,
    index_seq         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX skills_scope ON skills(scope);
CREATE INDEX skills_index_seq ON skills(index_seq);

CREATE TABLE versions (
    id               TEXT PRIMARY KEY,
    skill_id         TEXT NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    version          TEXT NOT NULL,
    version_key      TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'uploaded', 'published')),
    manifest         TEXT NOT NULL,
    readme           TEXT,
    files            TEXT NOT NULL DEFAULT '[]',
    created_by       TEXT NOT NULL REFERENCES users(id),
    created_at       INTEGER NOT NULL,
    upload_size      INTEGER,
    upload_integrity TEXT,
    integrity        TEXT,
    sha512_hex       TEXT,
    tarball_size     INTEGER,
    file_count       INTEGER,
    file_entries     TEXT,
    scan             TEXT,
    audit_score      INTEGER,
    verdict          TEXT,
    published_at     INTEGER,
    downloads        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (skill_id, version_key)
);
CREATE INDEX versions_state ON versions(state, created_at);
CREATE INDEX versions_creator ON versions(created_by, state);
CREATE INDEX versions_blob ON versions(sha512_hex);

CREATE TABLE stars (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    skill_id   TEXT NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, skill_id)
);
CREATE INDEX stars_skill ON stars(skill_id);

CREATE TABLE grants (
    skill_id TEXT NOT NULL REFERENCES skills(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (skill_id, user_id)
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
