//! Ephemeral mode, `serve --ephemeral` (SPEC §11): flag validation and defaults (§11.1–§11.2), the start-up
//! sequence (§11.3), the ready line (§11.4), the admin user and token (§11.5), the lifetime and stop, with the
//! exit codes of §11.8.
//!
//! The server itself is the ordinary one (`server::prepare` and `server::run`). The data directory, the ready
//! file, clean-up and the sweeping of stale directories (§11.7) are in `dirs.rs`, seeding in `seed.rs`,
//! packing in `pack.rs`. Not here: anything the project's own tests need (they call `serve` in process).

mod dirs;
mod pack;
mod seed;

pub use pack::{Packed, pack};
pub use seed::{MAX_SEEDS, Seeded};

use crate::cli::{ServeArgs, ServeSources, parse_on_off};
use crate::config::Config;
use dirs::{
    Cleanup, create_data_dir, prepare_ready_file, sweep_stale, temp_root, write_ready_file,
};
use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
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
