//! Admin subcommands (SPEC §9.4, §9.5 `check`): they open `registry.db` directly and are safe while the
//! server runs. Results go to stdout; errors are returned for `main` to print as `error: …`.

use crate::auth::{self, ALL_SCOPES, SCOPE_ADMIN};
use crate::blobs::{BlobStore, LocalBlobs};
use crate::cli::{AccessCommand, OrgCommand, SkillCommand, TokenCommand, UserCommand};
use crate::config::Config;
use crate::domain::{Visibility, format_ts, now_ms};
use crate::store::{Durability, NewToken, NewUser, Store, StoreError, UserUpdate};
use serde_json::json;
use sha2::{Digest, Sha512};
use std::io::BufRead;

/// An admin command failure with its exit code (SPEC §9.1: 1 operational, 2 usage).
#[derive(Debug)]
pub struct AdminError {
    pub code: i32,
    pub message: String,
}

impl AdminError {
    pub fn usage(m: impl Into<String>) -> AdminError {
        AdminError {
            code: 2,
            message: m.into(),
        }
    }
    pub fn op(m: impl Into<String>) -> AdminError {
        AdminError {
            code: 1,
            message: m.into(),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::op(e.to_string())
    }
}

type Out = Result<String, AdminError>;

pub fn open_store(config: &Config) -> Result<Store, AdminError> {
    if !config.db_path().exists() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            AdminError::op(format!("cannot create {}: {e}", config.data_dir.display()))
        })?;
    }
    Ok(Store::open(&config.db_path(), Durability::Full)?)
}

/// `^[a-z0-9](?:[a-z0-9-]{0,37}[a-z0-9])?$` (SPEC §9.4): usernames and org slugs.
pub fn valid_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 39
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn check_email(e: &str) -> Result<(), AdminError> {
    if !e.contains('@') || e.chars().count() > 254 {
        return Err(AdminError::usage(format!("invalid email {e:?}")));
    }
    Ok(())
}

fn check_display(d: &str) -> Result<(), AdminError> {
    if d.chars().count() > 100 {
        return Err(AdminError::usage(
            "display name is longer than 100 characters",
        ));
    }
    Ok(())
}

/// Reads the first line of stdin (without the newline) as a password of 8–1024 characters.
fn password_from_stdin() -> Result<String, AdminError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| AdminError::op(format!("cannot read the password: {e}")))?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw).to_string();
    let n = pw.chars().count();
    if !(8..=1024).contains(&n) {
        return Err(AdminError::usage(
            "the password must be 8 to 1024 characters",
        ));
    }
    Ok(pw)
}

/// argon2id with m = 19,456 KiB, t = 2, p = 1 (SPEC §2.8).
pub fn hash_password(pw: &str) -> Result<String, AdminError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let params =
        argon2::Params::new(19_456, 2, 1, None).map_err(|e| AdminError::op(e.to_string()))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut OsRng);
    Ok(a.hash_password(pw.as_bytes(), &salt)
        .map_err(|e| AdminError::op(e.to_string()))?
        .to_string())
}

/// The field rules shared by `user create` and `user update` (SPEC §9.4); reads and hashes the password when
/// `--password-stdin` is given.
fn check_user_fields(
    email: &Option<String>,
    display_name: &Option<String>,
    password_stdin: bool,
) -> Result<Option<String>, AdminError> {
    if let Some(e) = email {
        check_email(e)?;
    }
    if let Some(d) = display_name {
        check_display(d)?;
    }
    if password_stdin {
        Ok(Some(hash_password(&password_from_stdin()?)?))
    } else {
        Ok(None)
    }
}

pub fn user(config: &Config, cmd: UserCommand) -> Out {
    match cmd {
        UserCommand::Create {
            name,
            email,
            display_name,
            admin,
            pro,
            password_stdin,
        } => {
            if !valid_slug(&name) {
                return Err(AdminError::usage(format!("invalid username {name:?}")));
            }
            let password_hash = check_user_fields(&email, &display_name, password_stdin)?;
            let store = open_store(config)?;
            let u = store.create_user(&NewUser {
                username: name,
                email,
                display_name,
                password_hash,
                is_admin: admin,
                is_pro: pro,
            })?;
            Ok(format!("{}\n", u.id))
        }
        UserCommand::Update {
            name,
            email,
            display_name,
            admin,
            pro,
            disabled,
            password_stdin,
        } => {
            let password_hash = check_user_fields(&email, &display_name, password_stdin)?;
            let store = open_store(config)?;
            store.update_user(
                &name,
                &UserUpdate {
                    email,
                    display_name,
                    password_hash,
                    is_admin: admin.map(|a| a.is_on()),
                    is_pro: pro.map(|a| a.is_on()),
                    disabled: disabled.map(|a| a.is_on()),
                },
            )?;
            Ok(String::new())
        }
        UserCommand::List { json } => {
            let store = open_store(config)?;
            let users = store.list_users()?;
            if json {
                let arr: Vec<_> = users
                    .iter()
                    .map(|u| {
                        json!({"id": u.id, "name": u.username, "displayName": u.display_name, "email": u.email,
                               "admin": u.is_admin, "pro": u.is_pro, "disabled": u.disabled,
                               "createdAt": format_ts(u.created_at)})
                    })
                    .collect();
                return Ok(format!("{}\n", serde_json::Value::Array(arr)));
            }
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    vec![
                        u.username.clone(),
                        u.display_name.clone().unwrap_or_default(),
                        u.email.clone().unwrap_or_default(),
                        yes_no(u.is_admin),
                        yes_no(u.is_pro),
                        yes_no(u.disabled),
                        format_ts(u.created_at),
                    ]
                })
                .collect();
            Ok(table(
                &[
                    "NAME",
                    "DISPLAY NAME",
                    "EMAIL",
                    "ADMIN",
                    "PRO",
                    "DISABLED",
                    "CREATED",
                ],
                &rows,
            ))
        }
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(head.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

/// Stores a new API token for `user_id` (hashed, SPEC §2.8) and returns its plaintext: `preset` when given
/// (ephemeral `--admin-token`, SPEC §11.5, validated by the caller), else a generated one.
pub fn issue_token(
    store: &Store,
    user_id: &str,
    scopes: Vec<String>,
    label: String,
    expires_at: Option<i64>,
    preset: Option<String>,
) -> Result<String, AdminError> {
    let token = preset.unwrap_or_else(auth::generate_token);
    store.create_token(&NewToken {
        user_id: user_id.to_string(),
        hash: auth::sha256_hex(&token),
        prefix: auth::token_prefix(&token),
        label,
        scopes,
        expires_at,
        approved_by: None,
    })?;
    Ok(token)
}

pub fn token(config: &Config, cmd: TokenCommand) -> Out {
    match cmd {
        TokenCommand::Create {
            user,
            scopes,
            expires_in_days,
            label,
        } => {
            let scopes: Vec<String> = scopes.split(',').map(|s| s.trim().to_string()).collect();
            if scopes.is_empty() || scopes.iter().any(|s| !ALL_SCOPES.contains(&s.as_str())) {
                return Err(AdminError::usage(
                    "scopes must be from skills:read, skills:publish, skills:admin",
                ));
            }
            if label.is_empty() || label.chars().count() > 64 {
                return Err(AdminError::usage("the label must be 1 to 64 characters"));
            }
            let store = open_store(config)?;
            let u = store
                .user_by_name(&user)?
                .ok_or_else(|| AdminError::op(format!("no user named {user}")))?;
            if scopes.iter().any(|s| s == SCOPE_ADMIN) && !u.is_admin {
                return Err(AdminError::op(
                    "skills:admin can only be granted to admin users",
                ));
            }
            let token = issue_token(
                &store,
                &u.id,
                scopes,
                label,
                expires_in_days.map(|d| now_ms() + d as i64 * 86_400_000),
                None,
            )?;
            Ok(format!("{token}\n"))
        }
        TokenCommand::List { user, json } => {
            let store = open_store(config)?;
            let u = store
                .user_by_name(&user)?
                .ok_or_else(|| AdminError::op(format!("no user named {user}")))?;
            let now = now_ms();
            let tokens = store.list_tokens(&u.id)?;
            if json {
                let arr: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({"id": t.id, "label": t.label, "prefix": t.prefix, "scopes": t.scopes,
                               "createdAt": format_ts(t.created_at), "expiresAt": t.expires_at.map(format_ts),
                               "lastUsedAt": t.last_used_at.map(format_ts), "revokedAt": t.revoked_at.map(format_ts),
                               "status": t.status(now), "approvedBy": t.approved_by})
                    })
                    .collect();
                return Ok(format!("{}\n", serde_json::Value::Array(arr)));
            }
            let opt = |v: Option<i64>| v.map(format_ts).unwrap_or_else(|| "-".into());
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    vec![
                        t.id.clone(),
                        t.label.clone(),
                        t.prefix.clone(),
                        t.scopes.join(","),
                        format_ts(t.created_at),
                        opt(t.expires_at),
                        opt(t.last_used_at),
                        t.status(now).to_string(),
                        t.approved_by.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            Ok(table(
                &[
                    "ID",
                    "LABEL",
                    "PREFIX",
                    "SCOPES",
                    "CREATED",
                    "EXPIRES",
                    "LAST USED",
                    "STATUS",
                    "APPROVED BY",
                ],
                &rows,
            ))
        }
        TokenCommand::Revoke { id } => {
            open_store(config)?.revoke_token(&id)?;
            Ok(String::new())
        }
    }
}

pub fn org(config: &Config, cmd: OrgCommand) -> Out {
    let store = open_store(config)?;
    match cmd {
        OrgCommand::Create { slug, owner } => {
            if !valid_slug(&slug) {
                return Err(AdminError::usage(format!(
                    "invalid organisation slug {slug:?}"
                )));
            }
            Ok(format!("{}\n", store.create_org(&slug, &owner)?))
        }
        OrgCommand::AddMember { slug, user } => {
            store.set_org_member(&slug, &user, true)?;
            Ok(String::new())
        }
        OrgCommand::RemoveMember { slug, user } => {
            store.set_org_member(&slug, &user, false)?;
            Ok(String::new())
        }
    }
}

pub fn access(config: &Config, cmd: AccessCommand) -> Out {
    let store = open_store(config)?;
    let (skill, user, grant) = match cmd {
        AccessCommand::Grant { skill, user } => (skill, user, true),
        AccessCommand::Revoke { skill, user } => (skill, user, false),
    };
    if !crate::domain::is_valid_skill_name(&skill) {
        return Err(AdminError::usage(format!("invalid skill name {skill:?}")));
    }
    store.set_grant(&skill, &user, grant)?;
    Ok(String::new())
}

pub fn skill(config: &Config, cmd: SkillCommand) -> Out {
    let SkillCommand::Visibility { name, visibility } = cmd;
    if !crate::domain::is_valid_skill_name(&name) {
        return Err(AdminError::usage(format!("invalid skill name {name:?}")));
    }
    let v = Visibility::parse(&visibility)
        .ok_or_else(|| AdminError::usage("visibility must be public or private"))?;
    open_store(config)?.set_visibility(&name, v)?;
    Ok(String::new())
}

/// `check` (SPEC §9.5), without the search index (which arrives with the search issue): database integrity,
/// every published version's blob and its SHA-512, orphan blobs and stale uploads as warnings.
pub fn check(config: &Config) -> Out {
    if !config.db_path().exists() {
        return Err(AdminError::op(format!(
            "no database in {}",
            config.data_dir.display()
        )));
    }
    let store = open_store(config)?;
    let mut problems = store.integrity_problems()?;
    let mut warnings = Vec::new();
    let blobs = LocalBlobs::new(config.blobs_dir(), false);
    let published = store.all_published()?;
    for (name, version, hex, integrity) in &published {
        match blobs.read(hex) {
            Err(_) => problems.push(format!("missing blob for {name}@{version}")),
            Ok(bytes) => {
                let digest = Sha512::digest(&bytes);
                let ok = hex::encode(digest) == *hex
                    && crate::domain::integrity_of(&digest) == *integrity;
                if !ok {
                    problems.push(format!("integrity mismatch for {name}@{version}"));
                }
            }
        }
    }
    // A running ephemeral instance keeps its index in memory (SPEC §11.2).
    if config.ephemeral_marker_path().exists() {
        warnings.push("warning: the search index is in the memory of the ephemeral server".into());
    } else {
        problems.extend(crate::search::check_index(config, &store)?);
    }
    let referenced = store.referenced_blobs()?;
    for hex in blobs.list().unwrap_or_default() {
        if !referenced.contains(&hex) {
            warnings.push(format!("warning: orphan blob {hex}"));
        }
    }
    let live = store.live_unpublished_ids(now_ms())?;
    if let Ok(rd) = std::fs::read_dir(config.uploads_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let live_upload = name
                .strip_suffix(".tgz")
                .is_some_and(|id| live.contains(id));
            if !live_upload {
                warnings.push(format!("warning: stale upload {name}"));
            }
        }
    }
    let mut out = String::new();
    for w in &warnings {
        out.push_str(w);
        out.push('\n');
    }
    if problems.is_empty() {
        out.push_str("ok\n");
        Ok(out)
    } else {
        for p in &problems {
            out.push_str(p);
            out.push('\n');
        }
        Err(AdminError {
            code: 1,
            message: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(valid_slug("alice"));
        assert!(valid_slug("a"));
        assert!(valid_slug("a-b-9"));
        assert!(!valid_slug("-a"));
        assert!(!valid_slug("a-"));
        assert!(!valid_slug("Alice"));
        assert!(!valid_slug(&"a".repeat(40)));
        assert!(valid_slug(&"a".repeat(39)));
    }
}
