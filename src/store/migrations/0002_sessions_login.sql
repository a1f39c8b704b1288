-- 0002: web sessions and CLI login requests (SPEC §2.8, §3.19–§3.21).
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE login_requests (
    id               TEXT PRIMARY KEY,
    poll_hash        TEXT NOT NULL UNIQUE,
    auth_hash        TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    consumed_at      INTEGER,
    device_name      TEXT,
    state            TEXT,
    client_ip        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    decided_by_user  TEXT REFERENCES users(id) ON DELETE CASCADE,
    approved_by      TEXT,
    decided_at       INTEGER
);
CREATE INDEX login_requests_expiry ON login_requests(expires_at);
