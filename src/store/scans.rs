//! Stored reports of `POST /api/v1/scan` (SPEC §3.15–§3.16): a row per scan, owned by the token's user or
//! anonymous, served for 7 days and then swept.

use super::{Result, Store};
use rusqlite::{OptionalExtension, params};

/// How long a stored scan report is served (SPEC §3.15 "stored for 7 days").
pub const SCAN_REPORT_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct StoredScan {
    /// None for a report created anonymously (served to anyone holding its id).
    pub user_id: Option<String>,
    /// The §3.15 body as JSON text.
    pub report: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Store {
    pub fn insert_scan_report(
        &self,
        id: &str,
        user_id: Option<&str>,
        report: &str,
        now: i64,
    ) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO scan_reports (id, user_id, report, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, user_id, report, now, now + SCAN_REPORT_TTL_MS],
            )?;
            Ok(())
        })
    }

    /// A report that has not expired.
    pub fn scan_report(&self, id: &str, now: i64) -> Result<Option<StoredScan>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT user_id, report, created_at, expires_at FROM scan_reports WHERE id = ?1 AND expires_at > ?2",
                params![id, now],
                |r| {
                    Ok(StoredScan {
                        user_id: r.get(0)?,
                        report: r.get(1)?,
                        created_at: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
        })
    }

    /// Deletes expired reports (the sweeper).
    pub fn purge_expired_scan_reports(&self, now: i64) -> Result<usize> {
        self.write(|c| Ok(c.execute("DELETE FROM scan_reports WHERE expires_at <= ?1", [now])?))
    }
}
