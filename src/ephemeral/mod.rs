//! Ephemeral mode, `serve --ephemeral` (SPEC §11): flag validation and defaults (§11.1–§11.2), the start-up
//! sequence (§11.3), the ready line and ready file (§11.4), the admin user and token (§11.5), the lifetime,
//! stop and clean-up, and the sweeping of stale directories left by killed instances (§11.7), with the exit
//! codes of §11.8.
//!
//! The server itself is the ordinary one (`server::prepare` and `server::run`); seeding is in `seed.rs`,
//! packing in `pack.rs`. Not here: anything the project's own tests need (they call `serve` in process).

mod pack;
mod seed;

pub use pack::{Packed, pack};
pub use seed::{MAX_SEEDS, Seeded};

use crate::cli::{ServeArgs, ServeSources, parse_on_off};
use crate::config::Config;
use fs4::fs_std::FileExt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The empty marker file that makes a data directory an ephemeral one (SPEC §11.3 step 4).
pub const MARKER: &str = "EPHEMERAL";
/// Prefix of generated data directories: `tank-ephemeral-<pid>-<8 hex>` (SPEC §11.2).
const DIR_PREFIX: &str = "tank-ephemeral-";
/// Grace for in-flight requests at stop (SPEC §11.2).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const BANNER: &str = "WARNING: ephemeral mode: the admin token is printed and all data is deleted on exit; never use this in production.";
const BAD_TOKEN: &str =
    "--admin-token must be \"tank_\" followed by 32 to 64 characters of [0-9A-Za-z]";

/// A start-up failure: exit code and the lines for stderr (each printed as `error: <line>`).
struct Failure {
    code: u8,
    lines: Vec<String>,
}

impl Failure {
    fn usage(m: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            lines: vec![m.into()],
        }
    }
    fn op(m: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            lines: vec![m.into()],
        }
    }
    fn report(&self) -> u8 {
        for l in &self.lines {
            eprintln!("error: {l}");
        }
        self.code
    }
}

/// The validated ephemeral options (SPEC §11.1).
struct Options {
    seeds: Vec<PathBuf>,
    ready_file: Option<PathBuf>,
    admin_token: Option<String>,
    keep_data: bool,
    exit_on_stdin_close: bool,
    listen: String,
    /// `--data-dir` given as a flag (must be absent or empty).
    explicit_dir: Option<PathBuf>,
}

/// `tank_` followed by 32–64 characters of `[0-9A-Za-z]` (SPEC §11.5).
pub fn valid_preset_token(t: &str) -> bool {
    t.strip_prefix("tank_").is_some_and(|rest| {
        (32..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

fn on_off(flag: &str, v: &Option<String>) -> Result<bool, Failure> {
    match v {
        None => Ok(false),
        Some(s) => parse_on_off(s)
            .map(|o| o.is_on())
            .map_err(|e| Failure::usage(format!("{flag}: {e}"))),
    }
}

/// SPEC §11.3 step 1 (without the banner) and the defaults of §11.2.
fn options(config: &mut Config, args: &ServeArgs, src: &ServeSources) -> Result<Options, Failure> {
    let seeds: Vec<PathBuf> = if src.seed_from_env {
        args.seed
            .iter()
            .flat_map(|v| {
                v.to_string_lossy()
                    .split(':')
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .collect::<Vec<_>>()
            })
            .collect()
    } else {
        args.seed.clone()
    };
    if seeds.len() > MAX_SEEDS {
        return Err(Failure::usage(format!(
            "at most {MAX_SEEDS} --seed paths are allowed, got {}",
            seeds.len()
        )));
    }
    if let Some(t) = &args.admin_token
        && !valid_preset_token(t)
    {
        return Err(Failure::usage(BAD_TOKEN));
    }
    let keep_data = on_off("--keep-data", &args.keep_data)?;
    let exit_on_stdin_close = on_off("--exit-on-stdin-close", &args.exit_on_stdin_close)?;
    if args
        .ready_file
        .as_ref()
        .is_some_and(|f| f.as_os_str().is_empty())
    {
        return Err(Failure::usage("--ready-file must not be empty"));
    }
    let listen = if src.listen_set {
        args.listen.clone()
    } else {
        "127.0.0.1:0".to_string()
    };
    if !src.rate_limit_set {
        config.rate_limits.enabled = false;
    }
    config.durable = false;
    config.ephemeral = true;
    config.shutdown_grace = SHUTDOWN_GRACE;
    Ok(Options {
        seeds,
        ready_file: args.ready_file.clone(),
        admin_token: args.admin_token.clone(),
        keep_data,
        exit_on_stdin_close,
        listen,
        explicit_dir: src.data_dir_flag.then(|| config.data_dir.clone()),
    })
}

/// What is removed at exit (SPEC §11.7); dropped only through [`Cleanup::finish`].
struct Cleanup {
    data_dir: Option<PathBuf>,
    keep_data: bool,
    ready_file: Option<PathBuf>,
}

impl Cleanup {
    fn finish(&mut self) {
        if let Some(f) = self.ready_file.take()
            && let Err(e) = fs::remove_file(&f)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, "cannot delete the ready file");
        }
        if let Some(dir) = self.data_dir.take() {
            let r = if self.keep_data {
                // A kept directory is an ordinary data directory (SPEC §11.7).
                fs::remove_file(dir.join(MARKER))
            } else {
                fs::remove_dir_all(&dir)
            };
            if let Err(e) = r
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, dir = %dir.display(), "cannot clean up the data directory");
            }
        }
    }
}

/// The absolute form of `p` (relative to the working directory).
fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `$TMPDIR`, else `/tmp` (SPEC §11.2), made absolute.
fn temp_root() -> PathBuf {
    absolute(&std::env::temp_dir())
}

#[cfg(unix)]
fn mkdir_0700(p: &Path, recursive: bool) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(recursive)
        .mode(0o700)
        .create(p)
}

#[cfg(not(unix))]
fn mkdir_0700(p: &Path, recursive: bool) -> io::Result<()> {
    if recursive {
        fs::create_dir_all(p)
    } else {
        fs::create_dir(p)
    }
}

/// SPEC §11.3 step 2: deletes a stale ready file and checks that its directory takes a new file.
fn prepare_ready_file(file: &Path) -> Result<(), Failure> {
    let fail = |e: &dyn std::fmt::Display| {
        Failure::op(format!("cannot write ready file {}: {e}", file.display()))
    };
    match fs::symlink_metadata(file) {
        Ok(m) if m.is_dir() => return Err(fail(&"it is a directory")),
        Ok(_) => fs::remove_file(file).map_err(|e| fail(&e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(&e)),
    }
    // Writable: create and remove a probe named like the real temporary file.
    let probe = temp_name(file);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| fail(&e))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// `<FILE>.<16 random hex>.tmp` beside FILE (SPEC §11.4).
fn temp_name(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(format!(".{}.tmp", crate::blobs::random_hex(8)));
    PathBuf::from(name)
}

/// Writes `bytes` to FILE atomically: a 0600 temporary file in the same directory, renamed onto FILE.
fn write_ready_file(file: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_name(file);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| f.write_all(bytes));
    if let Err(e) = written.and_then(|_| fs::rename(&tmp, file)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// The effective user id, for the ownership test of stale directories.
#[cfg(unix)]
fn current_uid(tmp: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
        && let Some(euid) = line.split_whitespace().nth(2)
        && let Ok(uid) = euid.parse()
    {
        return Some(uid);
    }
    // Without /proc: the owner of a file we create.
    let f = tempfile::tempfile_in(tmp).ok()?;
    f.metadata().ok().map(|m| m.uid())
}

/// SPEC §11.7 "Stale directories": removes every `tank-ephemeral-*` directory in `tmp` that the current user
/// owns, that holds the marker and whose `serve.lock` no process holds. The pid in the name is not used (pid
/// reuse could otherwise protect a dead directory or expose a live one). Errors are logged at debug level.
#[cfg(unix)]
fn sweep_stale(tmp: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(tmp) else {
        tracing::debug!(dir = %tmp.display(), "cannot list the temporary directory");
        return;
    };
    let Some(uid) = current_uid(tmp) else {
        tracing::debug!("cannot determine the current user id; not sweeping");
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(meta) = fs::symlink_metadata(&dir) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        if !fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let lock = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join("serve.lock"))
        {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot open serve.lock");
                continue;
            }
        };
        if let Some(f) = &lock
            && !FileExt::try_lock_exclusive(f).unwrap_or(false)
        {
            continue;
        }
        // Removed while we hold its lock, so no instance can start on it meanwhile.
        match fs::remove_dir_all(&dir) {
            Ok(()) => tracing::debug!(dir = %dir.display(), "removed a stale ephemeral directory"),
            Err(e) => {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot remove a stale ephemeral directory")
            }
        }
        drop(lock);
    }
}

#[cfg(not(unix))]
fn sweep_stale(_tmp: &Path) {}

/// SPEC §11.3 step 4 (the directory): a new `tank-ephemeral-<pid>-<8 hex>` under the temporary directory, or
/// the explicit `--data-dir`, which must be absent or empty (and is then left untouched on refusal).
fn create_data_dir(explicit: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(dir) = explicit {
        match fs::symlink_metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                mkdir_0700(dir, true).map_err(|e| {
                    Failure::op(format!(
                        "cannot create ephemeral data dir {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            Ok(m) if m.is_dir() => {
                let empty = fs::read_dir(dir)
                    .map(|mut r| r.next().is_none())
                    .unwrap_or(false);
                if !empty {
                    return Err(Failure::op(format!(
                        "ephemeral data dir {} is not empty",
                        dir.display()
                    )));
                }
            }
            _ => {
                return Err(Failure::op(format!(
                    "ephemeral data dir {} is not empty",
                    dir.display()
                )));
            }
        }
        return Ok(dir.to_path_buf());
    }
    let root = temp_root();
    let dir = root.join(format!(
        "{DIR_PREFIX}{}-{}",
        std::process::id(),
        crate::blobs::random_hex(4)
    ));
    mkdir_0700(&dir, false).map_err(|e| {
        Failure::op(format!(
            "cannot create an ephemeral data dir in {}: {e}",
            root.display()
        ))
    })?;
    Ok(dir)
}

/// The ready line (SPEC §11.4): the fields in this order.
#[derive(serde::Serialize)]
struct ReadyLine<'a> {
    event: &'static str,
    url: &'a str,
    token: &'a str,
    user: &'static str,
    #[serde(rename = "dataDir")]
    data_dir: String,
    pid: u32,
    version: &'static str,
    seeded: SeededJson,
}

#[derive(serde::Serialize)]
struct SeededJson {
    skills: usize,
    versions: usize,
}

/// SIGTERM and SIGINT, registered at once so that neither kills the process during start-up.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Reads and discards standard input on a thread of its own; resolves at end of file or a read error.
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 4096];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot watch standard input");
    }
    rx
}

/// Steps 5–8 of SPEC §11.3: bind, open the data directory, the admin, the seeds. Returns the prepared server,
/// its listener, the admin token and what was seeded.
async fn start(
    config: Config,
    opts: &Options,
    lock: fs::File,
) -> Result<
    (
        crate::server::Prepared,
        tokio::net::TcpListener,
        String,
        Seeded,
    ),
    Failure,
> {
    // 5. Bind; connections wait in the backlog until step 9.
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .map_err(|e| Failure::op(format!("cannot listen on {}: {e}", opts.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::op(format!("cannot read the listen address: {e}")))?;
    // 6. Database, secret, in-memory index.
    let data = crate::server::DataDir::open_locked(&config, lock)
        .map_err(|e| Failure::op(e.to_string()))?;
    let prepared = crate::server::prepare(config, data, addr)
        .await
        .map_err(|e| Failure::op(e.to_string()))?;
    // 7. Admin user and token (SPEC §11.5): no password, so no argon2 work at start.
    let store = prepared.app.store.clone();
    let preset = opts.admin_token.clone();
    let token = tokio::task::spawn_blocking(move || -> Result<String, Failure> {
        let user = store
            .create_user(&crate::store::NewUser {
                username: "admin".into(),
                email: None,
                display_name: Some("Ephemeral Admin".into()),
                password_hash: None,
                is_admin: true,
                is_pro: false,
            })
            .map_err(|e| Failure::op(format!("cannot create the admin: {e}")))?;
        crate::admin::issue_token(
            &store,
            &user.id,
            crate::auth::ALL_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            "ephemeral".into(),
            None,
            preset,
        )
        .map_err(|e| Failure::op(format!("cannot create the admin token: {}", e.message)))
    })
    .await
    .map_err(|e| Failure::op(e.to_string()))??;
    // 8. Seeds, in the order given.
    let seeded = seed::seed_all(&prepared.app, &opts.seeds)
        .await
        .map_err(|e| Failure {
            code: 1,
            lines: e.0,
        })?;
    Ok((prepared, listener, token, seeded))
}

/// `serve --ephemeral`: runs until stopped and returns the process exit code (SPEC §11.8). `config` carries
/// the ordinary serve flags already applied.
pub fn run(mut config: Config, args: &ServeArgs, sources: &ServeSources) -> u8 {
    // 1. Flags and values; the banner follows once the signal handlers are installed.
    let opts = match options(&mut config, args, sources) {
        Ok(o) => o,
        Err(f) => return f.report(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Failure::op(format!("cannot start the runtime: {e}")).report(),
    };
    let code = runtime.block_on(run_async(config, opts));
    // Blocking work of an interrupted start-up (a scan) must not hold up the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn run_async(mut config: Config, opts: Options) -> u8 {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => return Failure::op(format!("cannot install signal handlers: {e}")).report(),
    };
    // After the handlers: from here on a signal stops start-up cleanly (SPEC §11.3).
    eprintln!("{BANNER}");
    // 2. The ready file's directory.
    if let Some(f) = &opts.ready_file
        && let Err(f) = prepare_ready_file(f)
    {
        return f.report();
    }
    // 3. Stale directories of killed instances.
    sweep_stale(&temp_root());
    // 4. Data directory, lock, marker.
    let dir = match create_data_dir(opts.explicit_dir.as_deref()) {
        Ok(d) => d,
        Err(f) => return f.report(),
    };
    let mut cleanup = Cleanup {
        data_dir: Some(dir.clone()),
        keep_data: opts.keep_data,
        ready_file: None,
    };
    let fail = |cleanup: &mut Cleanup, f: Failure| {
        let code = f.report();
        cleanup.finish();
        code
    };
    config.data_dir = dir.clone();
    let lock = match crate::server::DataDir::lock(&config) {
        Ok(l) => l,
        Err(e) => return fail(&mut cleanup, Failure::op(e.to_string())),
    };
    if let Err(e) = fs::write(config.ephemeral_marker_path(), b"") {
        return fail(
            &mut cleanup,
            Failure::op(format!(
                "cannot create {}: {e}",
                config.ephemeral_marker_path().display()
            )),
        );
    }

    // 5–8, interruptible.
    let started = tokio::select! {
        r = start(config, &opts, lock) => r,
        _ = signals.recv() => Err(Failure::op("interrupted before ready")),
    };
    let (prepared, listener, token, seeded) = match started {
        Ok(s) => s,
        Err(f) => return fail(&mut cleanup, f),
    };
    let app = prepared.app.clone();

    // 9. Accept and run the runtime tasks.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(crate::server::run(prepared, listener, async move {
        let _ = stop_rx.await;
    }));

    // 10. The ready file, then the ready line.
    let line = match serde_json::to_string(&ReadyLine {
        event: "ready",
        url: &app.public_url,
        token: &token,
        user: "admin",
        data_dir: dir.display().to_string(),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION"),
        seeded: SeededJson {
            skills: seeded.skills,
            versions: seeded.versions,
        },
    }) {
        Ok(l) => l + "\n",
        Err(e) => {
            let _ = stop_tx.send(());
            let _ = server.await;
            return fail(&mut cleanup, Failure::op(e.to_string()));
        }
    };
    drop(app);
    if let Some(f) = &opts.ready_file {
        if let Err(e) = write_ready_file(f, line.as_bytes()) {
            let _ = stop_tx.send(());
            let _ = server.await;
            return fail(
                &mut cleanup,
                Failure::op(format!("cannot write ready file {}: {e}", f.display())),
            );
        }
        cleanup.ready_file = Some(f.clone());
    }
    {
        let mut out = io::stdout().lock();
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|_| out.flush()) {
            tracing::warn!(error = %e, "cannot write the ready line to standard output");
        }
    }
    tracing::info!(dir = %dir.display(), "ephemeral instance ready");

    // Lifetime (SPEC §11.7): a signal, or end of standard input when asked to watch it.
    let stdin = async {
        if opts.exit_on_stdin_close {
            let _ = stdin_closed().await;
        } else {
            std::future::pending::<()>().await
        }
    };
    let crashed = tokio::select! {
        _ = signals.recv() => None,
        _ = stdin => None,
        r = &mut server => Some(r),
    };
    match crashed {
        None => {
            let _ = stop_tx.send(());
            // A second signal skips the rest of the grace period.
            tokio::select! {
                r = &mut server => {
                    if let Ok(Err(e)) = r {
                        tracing::error!(error = %e, "server stopped with an error");
                    }
                }
                _ = signals.recv() => {
                    tracing::warn!("second signal: stopping without waiting for in-flight requests");
                    server.abort();
                }
            }
            cleanup.finish();
            0
        }
        Some(r) => {
            let message = match r {
                Ok(Ok(())) => "the server stopped unexpectedly".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            fail(&mut cleanup, Failure::op(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_tokens() {
        assert!(valid_preset_token(&format!("tank_{}", "a".repeat(32))));
        assert!(valid_preset_token(&format!("tank_{}", "Z9".repeat(32))));
        assert!(!valid_preset_token(&format!("tank_{}", "a".repeat(31))));
        assert!(!valid_preset_token(&format!("tank_{}", "a".repeat(65))));
        assert!(!valid_preset_token("tank_short"));
        assert!(!valid_preset_token(&format!("tank_{}-", "a".repeat(40))));
        assert!(!valid_preset_token(&format!("tok_{}", "a".repeat(40))));
    }

    #[test]
    fn ready_line_keys_in_order() {
        let line = serde_json::to_string(&ReadyLine {
            event: "ready",
            url: "http://127.0.0.1:1",
            token: "tank_x",
            user: "admin",
            data_dir: "/tmp/x".into(),
            pid: 1,
            version: "0.1.0",
            seeded: SeededJson {
                skills: 0,
                versions: 0,
            },
        })
        .unwrap();
        assert_eq!(
            line,
            r#"{"event":"ready","url":"http://127.0.0.1:1","token":"tank_x","user":"admin","dataDir":"/tmp/x","pid":1,"version":"0.1.0","seeded":{"skills":0,"versions":0}}"#
        );
    }
}
