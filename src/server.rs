//! Server start-up (SPEC §9.2), runtime tasks (sweeper, download flush) and graceful shutdown.

use crate::app::{App, AppState, Downloads, ScanPool, VersionLocks};
use crate::blobs::{BlobStore, LocalBlobs};
use crate::config::{Config, default_public_url};
use crate::domain::now_ms;
use crate::store::{Durability, Store};
use fs4::fs_std::FileExt;
use std::fs::{self, File};
use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("another server is using {0}")]
    Locked(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("secret.key has {0} bytes, expected 32")]
    BadSecret(u64),
}

/// An opened data directory: the exclusive `serve.lock`, the database and blob store (SPEC §9.2 steps 1–3).
pub struct DataDir {
    pub store: Arc<Store>,
    pub blobs: Arc<LocalBlobs>,
    pub secret: Vec<u8>,
    _lock: File,
}

fn io_err(what: &str, path: &Path, e: io::Error) -> StartError {
    StartError::Io(format!("{what} {}: {e}", path.display()))
}

fn create_dir_0700(path: &Path) -> Result<(), StartError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !path.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|e| io_err("cannot create", path, e))?;
        }
    }
    #[cfg(not(unix))]
    fs::create_dir_all(path).map_err(|e| io_err("cannot create", path, e))?;
    Ok(())
}

/// Reads or creates the 32-byte HMAC key (mode 0600).
fn load_secret(path: &Path, fsync: bool) -> Result<Vec<u8>, StartError> {
    match fs::read(path) {
        Ok(b) if b.len() == 32 => Ok(b),
        Ok(b) => Err(StartError::BadSecret(b.len() as u64)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            use rand::RngCore;
            let mut key = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let tmp = path.with_extension("tmp");
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(&tmp)
                .map_err(|e| io_err("cannot create", &tmp, e))?;
            io::Write::write_all(&mut f, &key).map_err(|e| io_err("cannot write", &tmp, e))?;
            if fsync {
                f.sync_all().map_err(|e| io_err("cannot sync", &tmp, e))?;
            }
            fs::rename(&tmp, path).map_err(|e| io_err("cannot rename", &tmp, e))?;
            Ok(key)
        }
        Err(e) => Err(io_err("cannot read", path, e)),
    }
}

impl DataDir {
    /// Creates the layout, takes `serve.lock`, opens the database and the secret.
    pub fn open(config: &Config) -> Result<DataDir, StartError> {
        let lock = DataDir::lock(config)?;
        DataDir::open_locked(config, lock)
    }

    /// SPEC §9.2 step 1: creates the data directory (0700) and takes the exclusive lock on `serve.lock`,
    /// which the caller hands to [`DataDir::open_locked`]. Ephemeral instances create their marker file
    /// in between (SPEC §11.3 step 4).
    pub fn lock(config: &Config) -> Result<File, StartError> {
        create_dir_0700(&config.data_dir)?;
        let lock_path = config.lock_path();
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err("cannot open", &lock_path, e))?;
        if !FileExt::try_lock_exclusive(&lock).unwrap_or(false) {
            return Err(StartError::Locked(config.data_dir.display().to_string()));
        }
        Ok(lock)
    }

    /// SPEC §9.2 steps 1–3 after the lock: `blobs/`, `uploads/`, the database and the secret.
    pub fn open_locked(config: &Config, lock: File) -> Result<DataDir, StartError> {
        for d in [config.blobs_dir(), config.uploads_dir()] {
            fs::create_dir_all(&d).map_err(|e| io_err("cannot create", &d, e))?;
        }
        let durability = if config.durable {
            Durability::Full
        } else {
            Durability::Off
        };
        let store = Arc::new(Store::open(&config.db_path(), durability)?);
        let secret = load_secret(&config.secret_path(), config.durable)?;
        let blobs = Arc::new(LocalBlobs::new(config.blobs_dir(), config.durable));
        Ok(DataDir {
            store,
            blobs,
            secret,
            _lock: lock,
        })
    }
}

/// Start-up clean-up (SPEC §4.4 item 4): temp files, upload files without a live row, orphan blobs,
/// stale rows.
fn startup_cleanup(config: &Config, store: &Store, blobs: &LocalBlobs) -> Result<(), StartError> {
    let now = now_ms();
    blobs
        .remove_temp_files()
        .map_err(|e| StartError::Io(format!("cannot clean blobs: {e}")))?;
    for (vid, _, _) in store.expired_rows(now)? {
        store.delete_expired_row(&vid, now)?;
    }
    let live = store.live_unpublished_ids(now)?;
    let uploads = config.uploads_dir();
    for entry in fs::read_dir(&uploads).map_err(|e| io_err("cannot read", &uploads, e))? {
        let entry = entry.map_err(|e| io_err("cannot read", &uploads, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let keep = name
            .strip_suffix(".tgz")
            .is_some_and(|id| !id.contains('.') && live.contains(id));
        if !keep {
            let _ = fs::remove_file(entry.path());
        }
    }
    let referenced = store.referenced_blobs()?;
    for hex in blobs
        .list()
        .map_err(|e| StartError::Io(format!("cannot list blobs: {e}")))?
    {
        if !referenced.contains(&hex) {
            let _ = blobs.delete(&hex);
        }
    }
    Ok(())
}

/// Runs the server on `listener` until `shutdown` resolves, then drains (SPEC §9.2).
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let data = DataDir::open(&config)?;
    serve_data(config, data, listener, shutdown).await
}

/// As [`serve`], with an already opened data directory.
pub async fn serve_data(
    config: Config,
    data: DataDir,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Io(format!("cannot read the listen address: {e}")))?;
    let prepared = prepare(config, data, addr).await?;
    run(prepared, listener, shutdown).await
}

/// A server that is ready to accept: the application state and the data directory's lock, held until
/// [`run`] returns.
pub struct Prepared {
    pub app: AppState,
    _lock: File,
}

/// SPEC §9.2 steps 4–5 for a listener bound to `addr`: clean-up, the search index (on disk, or in memory for
/// ephemeral instances, SPEC §11.2), the public URL, the setup token and the application state. Accepts
/// nothing yet; ephemeral start-up creates its admin and seeds between this and [`run`] (SPEC §11.3).
pub async fn prepare(
    config: Config,
    data: DataDir,
    addr: std::net::SocketAddr,
) -> Result<Prepared, StartError> {
    startup_cleanup(&config, &data.store, &data.blobs)?;
    let search = if config.ephemeral {
        let db = config.db_path();
        let store = data.store.clone();
        tokio::task::spawn_blocking(move || {
            let live = crate::store::LiveCache::open(&db)?;
            store.load_download_totals()?;
            crate::search::SearchIndex::open_in_ram(Some(live))
        })
        .await
        .map_err(|e| StartError::Io(e.to_string()))?
        .map(Arc::new)
        .map_err(|e| StartError::Io(e.to_string()))?
    } else {
        crate::search::open_for_server(&config, data.store.clone())
            .await
            .map_err(|e| StartError::Io(e.to_string()))?
    };
    let public_url = match &config.public_url {
        Some(u) => u.clone(),
        None => {
            let (u, unspecified) = default_public_url(addr);
            if unspecified {
                tracing::warn!(
                    "listening on an unspecified address; the public URL defaults to {u}"
                );
            }
            u
        }
    };
    // Ephemeral instances create their admin before accepting and have no setup token (SPEC §11.2).
    let setup_token = if !config.ephemeral && data.store.count_users()? == 0 {
        let token = config
            .setup_token
            .clone()
            .unwrap_or_else(crate::auth::random_base62_43);
        // The only log line allowed to carry a secret (SPEC §9.2 step 5).
        tracing::warn!("No users yet. Create the first admin at {public_url}/setup?token={token}");
        Some(token)
    } else {
        None
    };
    let DataDir {
        store,
        blobs,
        secret,
        _lock,
    } = data;
    let app: AppState = Arc::new(App {
        public_url,
        store,
        blobs,
        secret,
        locks: Arc::new(VersionLocks::default()),
        downloads: Downloads::default(),
        scans: ScanPool::new(config.scan_workers),
        setup_token,
        throttle: Default::default(),
        search,
        limiter: crate::ratelimit::Limiter::new(&config.rate_limits),
        metrics: Default::default(),
        config,
    });
    Ok(Prepared { app, _lock })
}

/// SPEC §9.2 step 6 and runtime: starts the runtime tasks, logs `listening on …`, accepts until `shutdown`
/// resolves, then drains for at most `shutdown_grace` and flushes download counts.
pub async fn run(
    prepared: Prepared,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let Prepared { app, _lock } = prepared;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Io(format!("cannot read the listen address: {e}")))?;
    let tasks = spawn_runtime_tasks(app.clone());
    tracing::info!("listening on {addr} (public URL {})", app.public_url);

    let router = crate::http::router(app.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let grace = app.config.shutdown_grace;
    let server = accept_loop(listener, app.clone(), router, stop_rx.clone());
    let mut server = std::pin::pin!(server);
    let mut stop_rx2 = stop_rx.clone();
    tokio::select! {
        _ = &mut server => {}
        _ = async { let _ = stop_rx2.wait_for(|s| *s).await; tokio::time::sleep(grace).await; } => {
            tracing::warn!("in-flight requests did not finish within the grace period");
        }
    }
    drop(stop_rx);
    for t in tasks {
        t.abort();
    }
    let store = app.store.clone();
    let app2 = app.clone();
    let _ = tokio::task::spawn_blocking(move || app2.downloads.flush(&store)).await;
    Ok(())
}

/// `config.header_timeout` (30 s) bounds the time to send a complete request head; the same bound applies to an
/// idle keep-alive connection waiting for its next request (hyper arms the timer as soon as it waits for a
/// head). This protects against slow clients that hold connections open byte by byte (issue 6); request bodies
/// have their own 60 s no-progress rule (SPEC §2.5, `http::idle`).
///
/// Accepts HTTP/1.1 connections until `stop` turns true, then lets every open connection finish its
/// in-flight request (graceful shutdown) and returns when the last one has closed. Our own loop rather than
/// `axum::serve`, which offers no way to set hyper's header read timeout.
async fn accept_loop(
    listener: TcpListener,
    app: AppState,
    router: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // Every connection task holds a receiver; `closed()` resolves when the last one is dropped.
    let (open_tx, open_rx) = tokio::sync::watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
        };
        let _ = stream.set_nodelay(true);
        let (app, router, mut stop, open) =
            (app.clone(), router.clone(), stop.clone(), open_rx.clone());
        let header_timeout = app.config.header_timeout;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    // The peer address for the client IP of SPEC §2.1.
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let (app, router) = (app.clone(), router.clone());
                    async move {
                        let req = req.map(axum::body::Body::new);
                        Ok::<_, std::convert::Infallible>(
                            crate::http::wrap(&app, router, req).await,
                        )
                    }
                },
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(open);
        });
    }
    drop(listener);
    drop(open_rx);
    open_tx.closed().await;
}

fn spawn_runtime_tasks(app: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let flush_app = app.clone();
    let flush = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let a = flush_app.clone();
            let r = tokio::task::spawn_blocking(move || {
                a.downloads.flush(&a.store)?;
                // Reloaded here after another connection changed the database (they were dropped then).
                a.store.load_download_totals()
            })
            .await;
            if let Ok(Err(e)) = r {
                tracing::error!(error = %e, "cannot flush download counts");
            }
        }
    });
    let search = tokio::spawn(crate::search::run_writer(
        app.search.clone(),
        app.store.clone(),
    ));
    let sweep_app = app;
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            sweep_app.limiter.sweep(std::time::Instant::now());
            if let Err(e) = sweep(&sweep_app).await {
                tracing::error!(error = %e, "sweeper failed");
            }
            let store = sweep_app.store.clone();
            if let Ok(Err(e)) =
                tokio::task::spawn_blocking(move || store.purge_expired_sessions(now_ms())).await
            {
                tracing::error!(error = %e, "cannot purge expired sessions");
            }
            let store = sweep_app.store.clone();
            if let Ok(Err(e)) =
                tokio::task::spawn_blocking(move || store.purge_expired_scan_reports(now_ms()))
                    .await
            {
                tracing::error!(error = %e, "cannot purge expired scan reports");
            }
        }
    });
    vec![flush, search, sweeper]
}

/// Deletes expired unpublished rows and their upload files, each under its (skill, version) lock (SPEC §4.2).
pub async fn sweep(app: &App) -> Result<(), crate::error::AppError> {
    let store = app.store.clone();
    let now = now_ms();
    let expired = tokio::task::spawn_blocking(move || store.expired_rows(now)).await??;
    for (vid, name, vkey) in expired {
        let _guard = app.locks.lock(&name, &vkey).await;
        let store = app.store.clone();
        let id = vid.clone();
        let deleted =
            tokio::task::spawn_blocking(move || store.delete_expired_row(&id, now_ms())).await??;
        if deleted {
            let _ = tokio::fs::remove_file(app.config.upload_path(&vid)).await;
        }
    }
    Ok(())
}
