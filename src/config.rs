//! Validated server configuration. Every data-dir path is a method here; nothing else builds them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RateLimits {
    pub enabled: bool,
    pub anon: u32,
    pub auth: u32,
    pub pro: u32,
    pub scan_anon: u32,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// None: derived from the bound address at start (SPEC §2.1).
    pub public_url: Option<String>,
    pub rate_limits: RateLimits,
    pub cli_token_days: u32,
    pub trust_proxy: u8,
    pub scan_timeout: Duration,
    pub scan_workers: usize,
    pub metrics_public: bool,
    /// fsync and `synchronous=FULL` (off only for ephemeral instances, SPEC §11.2).
    pub durable: bool,
    /// How long in-flight requests may finish after a stop signal.
    pub shutdown_grace: Duration,
    /// Lifetime of a CLI login request: 300 s (SPEC §3.19); tests shorten it.
    pub login_ttl: Duration,
    /// Time to send a request head, and the longest idle keep-alive: 30 s (issue 6); tests shorten it.
    pub header_timeout: Duration,
    /// A request body without progress for this long is aborted: 60 s (SPEC §2.5); tests shorten it.
    pub body_idle_timeout: Duration,
    /// A preset first-run setup token (tests only; a real server makes a new one on every start).
    pub setup_token: Option<String>,
    /// An ephemeral instance (SPEC §11): search index in memory, no setup token.
    pub ephemeral: bool,
}

impl Config {
    /// A configuration with the defaults of SPEC §9.2 for `data_dir` (tests adjust fields).
    pub fn new(data_dir: impl AsRef<Path>) -> Config {
        let dir = data_dir.as_ref();
        let data_dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|c| c.join(dir))
                .unwrap_or_else(|_| dir.to_path_buf())
        };
        Config {
            data_dir,
            public_url: None,
            rate_limits: RateLimits {
                enabled: true,
                anon: 100,
                auth: 1000,
                pro: 10000,
                scan_anon: 10,
            },
            cli_token_days: 90,
            trust_proxy: 0,
            scan_timeout: Duration::from_secs(20),
            scan_workers: std::thread::available_parallelism()
                .map(|n| n.get().min(4))
                .unwrap_or(1),
            metrics_public: false,
            durable: true,
            shutdown_grace: Duration::from_secs(30),
            login_ttl: Duration::from_secs(300),
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            setup_token: None,
            ephemeral: false,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("registry.db")
    }
    pub fn secret_path(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.data_dir.join("serve.lock")
    }
    pub fn blobs_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("index")
    }
    /// The empty marker of an ephemeral instance's data directory (SPEC §11.3 step 4, §11.7).
    pub fn ephemeral_marker_path(&self) -> PathBuf {
        self.data_dir.join(crate::ephemeral::MARKER)
    }
    /// `uploads/<versionId>.tgz`.
    pub fn upload_path(&self, version_id: &str) -> PathBuf {
        self.uploads_dir().join(format!("{version_id}.tgz"))
    }
}

/// Validates a public URL (SPEC §2.1): absolute http(s), no user info, query or fragment, path empty or `/`.
/// Returns it without a trailing `/`.
pub fn validate_public_url(s: &str) -> Result<String, String> {
    let u = url::Url::parse(s).map_err(|e| format!("invalid public URL {s:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("public URL {s:?} must use http or https"));
    }
    if !u.username().is_empty()
        || u.password().is_some()
        || u.query().is_some()
        || u.fragment().is_some()
    {
        return Err(format!(
            "public URL {s:?} must not have user info, a query or a fragment"
        ));
    }
    if u.host_str().is_none() || !(u.path() == "/" || u.path().is_empty()) {
        return Err(format!("public URL {s:?} must have a host and no path"));
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// Default public URL for a bound address (SPEC §2.1).
pub fn default_public_url(addr: SocketAddr) -> (String, bool) {
    if addr.ip().is_unspecified() {
        (format!("http://localhost:{}", addr.port()), true)
    } else {
        (format!("http://{addr}"), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls() {
        assert_eq!(
            validate_public_url("https://tank.example.com/").unwrap(),
            "https://tank.example.com"
        );
        assert!(validate_public_url("ftp://x").is_err());
        assert!(validate_public_url("https://u:p@x").is_err());
        assert!(validate_public_url("https://x/sub").is_err());
        assert!(validate_public_url("https://x/?a=1").is_err());
        assert!(validate_public_url("relative").is_err());
        let (u, warn) = default_public_url("0.0.0.0:8080".parse().unwrap());
        assert_eq!(u, "http://localhost:8080");
        assert!(warn);
    }
}
