//! Command-line interface (clap derive only). Every serve flag also has `env = "TANK_…"`; doc comments are
//! the help text (SPEC §9).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tank-registry",
    version,
    about = "A self-hosted registry for AI agent skills, with a built-in security scanner."
)]
pub struct Cli {
    /// Data directory (database, blobs, uploads, index, secret key).
    #[arg(
        long,
        global = true,
        env = "TANK_DATA_DIR",
        default_value = "./tank-data"
    )]
    pub data_dir: PathBuf,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, global = true, env = "TANK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    pub fn is_on(self) -> bool {
        self == OnOff::On
    }
}

/// Parses the boolean words of SPEC §9.1: 1/true/on and 0/false/off.
pub fn parse_on_off(s: &str) -> Result<OnOff, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" => Ok(OnOff::On),
        "0" | "false" | "off" => Ok(OnOff::Off),
        _ => Err(format!("expected on or off, got {s:?}")),
    }
}

fn parse_trust_proxy(s: &str) -> Result<u8, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" => Ok(1),
        "0" | "false" | "off" => Ok(0),
        n => match n.parse::<u8>() {
            Ok(v) if (1..=10).contains(&v) => Ok(v),
            _ => Err(format!("expected 1-10, on or off, got {s:?}")),
        },
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the registry server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Grant or revoke read access to a private skill.
    #[command(subcommand)]
    Access(AccessCommand),
    /// Change skill settings.
    #[command(subcommand)]
    Skill(SkillCommand),
    /// Check the database and every blob (read-only); prints `ok` or one line per problem.
    Check,
    /// Rebuild the search index from the database (asks a running server to do it).
    Reindex,
    /// Write a consistent snapshot (database, blobs, secret key) to an absent or empty directory; safe while
    /// the server runs. Restore by starting with --data-dir DEST_DIR.
    Backup {
        /// Destination directory (must be absent or empty).
        dest_dir: PathBuf,
    },
    /// Scan a skill tarball offline (no data directory needed). Exit status: 0 PASS or PASS_WITH_NOTES,
    /// 1 FLAGGED, 2 FAIL, 3 error.
    Scan(ScanArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The .tgz to scan, or - for standard input (at most 50 MiB).
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub format: ScanFormat,
    /// A JSON file used as the scan's manifest (permissions, description, name).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Extra scanner blocklist entries, one per line.
    #[arg(long, env = "TANK_SCANNER_BLOCKLIST")]
    pub scanner_blocklist: Option<PathBuf>,
    /// Wall-clock budget for the scan in seconds (5-300).
    #[arg(long, env = "TANK_SCAN_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(5..=300))]
    pub scan_timeout_secs: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Socket address to listen on.
    #[arg(long, env = "TANK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Externally reachable base URL used in every absolute URL the server emits (default http://<listen>).
    #[arg(long, env = "TANK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Rate limiting on or off.
    #[arg(long, env = "TANK_RATE_LIMIT", value_parser = parse_on_off, default_value = "on")]
    pub rate_limit: OnOff,
    /// Anonymous requests per IP per hour.
    #[arg(long, env = "TANK_RATE_LIMIT_ANON", default_value_t = 100)]
    pub rate_limit_anon: u32,
    /// Authenticated requests per token per hour.
    #[arg(long, env = "TANK_RATE_LIMIT_AUTH", default_value_t = 1000)]
    pub rate_limit_auth: u32,
    /// Requests per token of a pro user per hour.
    #[arg(long, env = "TANK_RATE_LIMIT_PRO", default_value_t = 10000)]
    pub rate_limit_pro: u32,
    /// Anonymous scans per IP per hour.
    #[arg(long, env = "TANK_RATE_LIMIT_SCAN_ANON", default_value_t = 10)]
    pub rate_limit_scan_anon: u32,
    /// Lifetime in days of tokens issued by CLI login (1-3650).
    #[arg(long, env = "TANK_CLI_TOKEN_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub cli_token_days: u32,
    /// Number of trusted reverse proxies in front of the server (bare flag: 1); off by default.
    #[arg(long, env = "TANK_TRUST_PROXY", num_args = 0..=1, default_missing_value = "1", value_parser = parse_trust_proxy)]
    pub trust_proxy: Option<u8>,
    /// Wall-clock budget per scan in seconds (5-300).
    #[arg(long, env = "TANK_SCAN_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(5..=300))]
    pub scan_timeout_secs: u64,
    /// Scanner threads (1-64; default: CPUs, at most 4).
    #[arg(long, env = "TANK_SCAN_WORKERS", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scan_workers: Option<u32>,
    /// Extra scanner blocklist entries, one per line.
    #[arg(long, env = "TANK_SCANNER_BLOCKLIST")]
    pub scanner_blocklist: Option<PathBuf>,
    /// Serve /metrics without authentication.
    #[arg(long, env = "TANK_METRICS_PUBLIC", value_parser = parse_on_off, num_args = 0..=1, default_missing_value = "on", default_value = "off")]
    pub metrics_public: OnOff,
    /// Run a throwaway instance for CI (a temporary data directory removed at exit, an admin whose token is
    /// printed on stdout, listening on a free port); never use it in production.
    #[arg(long)]
    pub ephemeral: bool,
    /// With --ephemeral: publish a skill directory, or every skill directory in it, before the first request
    /// (repeatable, at most 64; the variable separates paths with ':').
    #[arg(long, env = "TANK_SEED")]
    pub seed: Vec<PathBuf>,
    /// With --ephemeral: also write the ready line to this file (atomically).
    #[arg(long, env = "TANK_READY_FILE")]
    pub ready_file: Option<PathBuf>,
    /// With --ephemeral: the admin token to use ("tank_" and 32-64 characters of [0-9A-Za-z]); default random.
    #[arg(long, env = "TANK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// With --ephemeral: keep the data directory at exit.
    #[arg(long, env = "TANK_KEEP_DATA", num_args = 0..=1, default_missing_value = "on")]
    pub keep_data: Option<String>,
    /// With --ephemeral: stop when standard input reaches end of file.
    #[arg(long, env = "TANK_EXIT_ON_STDIN_CLOSE", num_args = 0..=1, default_missing_value = "on")]
    pub exit_on_stdin_close: Option<String>,
}

/// Where some `serve` values came from: ephemeral mode treats defaults, environment variables and flags
/// differently (SPEC §11.1, §11.2).
#[derive(Debug, Clone, Default)]
pub struct ServeSources {
    /// `--data-dir` was given on the command line (`TANK_DATA_DIR` does not count in ephemeral mode).
    pub data_dir_flag: bool,
    /// `--listen` was given as a flag or by `TANK_LISTEN`.
    pub listen_set: bool,
    /// `--rate-limit` was given as a flag or by `TANK_RATE_LIMIT`.
    pub rate_limit_set: bool,
    /// The seeds came from `TANK_SEED` (one value to split on ':').
    pub seed_from_env: bool,
    /// The ephemeral-only flags given on the command line, as `--name`, in the order of SPEC §11.1.
    pub ephemeral_only_flags: Vec<&'static str>,
}

impl ServeSources {
    /// Reads the sources from the matches of the whole command line (`serve` is a subcommand).
    pub fn from_matches(top: &clap::ArgMatches) -> ServeSources {
        use clap::parser::ValueSource;
        let Some(("serve", m)) = top.subcommand() else {
            return ServeSources::default();
        };
        // `value_source` panics (debug builds) for an id the command does not define.
        let source = |m: &clap::ArgMatches, id: &str| {
            if m.ids().any(|i| i.as_str() == id) {
                m.value_source(id)
            } else {
                None
            }
        };
        let on_cli = |id: &str| {
            source(m, id) == Some(ValueSource::CommandLine)
                || source(top, id) == Some(ValueSource::CommandLine)
        };
        let set = |id: &str| {
            matches!(
                source(m, id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        let ephemeral_only_flags = [
            ("seed", "--seed"),
            ("ready_file", "--ready-file"),
            ("admin_token", "--admin-token"),
            ("keep_data", "--keep-data"),
            ("exit_on_stdin_close", "--exit-on-stdin-close"),
        ]
        .into_iter()
        .filter(|(id, _)| on_cli(id))
        .map(|(_, flag)| flag)
        .collect();
        ServeSources {
            data_dir_flag: on_cli("data_dir"),
            listen_set: set("listen"),
            rate_limit_set: set("rate_limit"),
            seed_from_env: source(m, "seed") == Some(ValueSource::EnvVariable),
            ephemeral_only_flags,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints the user id.
    Create {
        /// Username: lower-case letters, digits and inner hyphens, 1-39 characters.
        name: String,
        /// E-mail address (unique, case-insensitive).
        #[arg(long)]
        email: Option<String>,
        /// Display name (at most 100 characters).
        #[arg(long)]
        display_name: Option<String>,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Mark the user as pro (higher rate limit).
        #[arg(long)]
        pro: bool,
        /// Read the password from the first line of standard input (8-1024 characters).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's fields.
    Update {
        /// Username.
        name: String,
        /// New e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// New display name.
        #[arg(long)]
        display_name: Option<String>,
        /// Administrator on or off.
        #[arg(long, value_parser = parse_on_off)]
        admin: Option<OnOff>,
        /// Pro on or off.
        #[arg(long, value_parser = parse_on_off)]
        pro: Option<OnOff>,
        /// Disable (on) or enable (off) the user; disabling ends their sessions and invalidates their tokens.
        #[arg(long, value_parser = parse_on_off)]
        disabled: Option<OnOff>,
        /// Read a new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; prints only the token.
    Create {
        /// Owner of the token.
        #[arg(long)]
        user: String,
        /// Comma-separated scopes from skills:read, skills:publish, skills:admin.
        #[arg(long, default_value = "skills:read,skills:publish")]
        scopes: String,
        /// Expiry in days (1-3650); default: no expiry.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in_days: Option<u32>,
        /// Label (at most 64 characters).
        #[arg(long, default_value = "admin-cli")]
        label: String,
    },
    /// List a user's tokens (never the token itself).
    List {
        #[arg(long)]
        user: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token and every token issued through its approvals.
    Revoke {
        /// Token id (tok_…).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation; prints the org id.
    Create {
        /// Organisation slug (same rules as usernames).
        slug: String,
        /// Initial member.
        #[arg(long)]
        owner: String,
    },
    /// Add a member (idempotent).
    AddMember {
        /// Organisation slug.
        slug: String,
        /// Username of the member.
        user: String,
    },
    /// Remove a member (idempotent).
    RemoveMember {
        /// Organisation slug.
        slug: String,
        /// Username of the member.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Let USER read the private skill SKILL.
    Grant {
        /// Skill name with a published version, e.g. @acme/tool.
        skill: String,
        /// Username.
        user: String,
    },
    /// Remove USER's read access to SKILL.
    Revoke {
        /// Skill name with a published version, e.g. @acme/tool.
        skill: String,
        /// Username.
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SkillCommand {
    /// Set a published skill's visibility.
    Visibility {
        /// Skill name with a published version, e.g. @acme/tool.
        name: String,
        /// The new visibility.
        #[arg(value_parser = ["public", "private"])]
        visibility: String,
    },
}
