//! Thin entry point: parse the command line, initialise logging, run the command, map to an exit code.

use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;
use tank_registry::cli::{Cli, Command, LogFormat, ServeArgs, ServeSources};
use tank_registry::config::{Config, RateLimits, validate_public_url};

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TANK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let sources = ServeSources::from_matches(&matches);
    init_tracing(cli.log_format);
    let mut config = Config::new(&cli.data_dir);
    let result = match cli.command {
        Command::Serve(args) => return serve(config, args, &sources),
        Command::User(c) => tank_registry::admin::user(&config, c),
        Command::Token(c) => tank_registry::admin::token(&config, c),
        Command::Org(c) => tank_registry::admin::org(&config, c),
        Command::Access(c) => tank_registry::admin::access(&config, c),
        Command::Skill(c) => tank_registry::admin::skill(&config, c),
        Command::Reindex => tank_registry::search::reindex(&config),
        Command::Scan(args) => return scan(&args),
        Command::Backup { dest_dir } => tank_registry::backup::run(&config, &dest_dir),
        Command::Check => {
            config.durable = false;
            match tank_registry::admin::check(&config) {
                Ok(out) => Ok(out),
                Err(e) if e.code == 1 && e.message.ends_with('\n') => {
                    print!("{}", e.message);
                    return ExitCode::from(1);
                }
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code as u8)
        }
    }
}

/// clap's usage errors exit 2, but for `scan` 2 means FAIL: there they exit 3 (SPEC §9.3).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || !std::env::args().skip(1).any(|a| a == "scan")
    {
        e.exit();
    }
    let _ = e.print();
    ExitCode::from(tank_registry::scan::offline::EXIT_ERROR)
}

/// `--scanner-blocklist FILE` (SPEC §8.3 stage 5): extra entries in the bundled list's format; a bad line is
/// an error that names it, and then nothing is added.
fn load_blocklist(path: &std::path::Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --scanner-blocklist {}: {e}", path.display()))?;
    tank_registry::scan::supply::load_extra_blocklist(&text)
        .map_err(|e| format!("invalid --scanner-blocklist {}: {e}", path.display()))
}

fn scan(args: &tank_registry::cli::ScanArgs) -> ExitCode {
    if let Some(path) = &args.scanner_blocklist
        && let Err(e) = load_blocklist(path)
    {
        eprintln!("error: {e}");
        return ExitCode::from(tank_registry::scan::offline::EXIT_ERROR);
    }
    match tank_registry::scan::offline::run(args) {
        Ok((out, status)) => {
            print!("{out}");
            ExitCode::from(status)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(tank_registry::scan::offline::EXIT_ERROR)
        }
    }
}

/// Applies the `serve` flags of SPEC §9.2 to `config`; an invalid public URL is an error.
fn apply_serve_args(config: &mut Config, args: &ServeArgs) -> Result<(), String> {
    if let Some(u) = &args.public_url {
        config.public_url = Some(validate_public_url(u)?);
    }
    config.rate_limits = RateLimits {
        enabled: args.rate_limit.is_on(),
        anon: args.rate_limit_anon,
        auth: args.rate_limit_auth,
        pro: args.rate_limit_pro,
        scan_anon: args.rate_limit_scan_anon,
    };
    config.cli_token_days = args.cli_token_days;
    config.trust_proxy = args.trust_proxy.unwrap_or(0);
    if let Some(path) = &args.scanner_blocklist {
        load_blocklist(path)?;
    }
    config.scan_timeout = std::time::Duration::from_secs(args.scan_timeout_secs);
    if let Some(w) = args.scan_workers {
        config.scan_workers = w as usize;
    }
    config.metrics_public = args.metrics_public.is_on();
    Ok(())
}

fn serve(mut config: Config, args: ServeArgs, sources: &ServeSources) -> ExitCode {
    let fail = |m: String| {
        eprintln!("error: {m}");
        ExitCode::from(1)
    };
    if args.ephemeral {
        // SPEC §11.8: an invalid flag value is a usage error in ephemeral mode.
        if let Err(e) = apply_serve_args(&mut config, &args) {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        return ExitCode::from(tank_registry::ephemeral::run(config, &args, sources));
    }
    // SPEC §11.1: the ephemeral-only flags are usage errors without --ephemeral; their variables are ignored.
    if let Some(flag) = sources.ephemeral_only_flags.first() {
        eprintln!("error: {flag} requires --ephemeral");
        return ExitCode::from(2);
    }
    if let Err(e) = apply_serve_args(&mut config, &args) {
        return fail(e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async move {
        let data = match tank_registry::DataDir::open(&config) {
            Ok(d) => d,
            Err(e) => return fail(e.to_string()),
        };
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => return fail(format!("cannot listen on {}: {e}", args.listen)),
        };
        match tank_registry::server::serve_data(config, data, listener, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e.to_string()),
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
