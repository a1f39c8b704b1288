-- 0003: reports of POST /api/v1/scan, kept 7 days (SPEC §3.15, §3.16). The uploaded bytes are not kept.
CREATE TABLE scan_reports (
    id         TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    report     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX scan_reports_expiry ON scan_reports(expires_at);
