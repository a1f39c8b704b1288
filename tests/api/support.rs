//! `TestServer`: the real server on `127.0.0.1:0` with a temporary data directory, plus role handles and
//! helpers for the publish flow. Admin work goes through the same functions as the CLI.

#![allow(dead_code)]

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use std::path::{Path, PathBuf};
use tank_registry::cli::{OrgCommand, TokenCommand, UserCommand};
use tank_registry::config::Config;
use tokio::sync::oneshot;

pub struct TestServer {
    pub url: String,
    pub config: Config,
    pub client: Client,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path().join("data"));
        config.rate_limits.enabled = false;
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let cfg = config.clone();
        let task = tokio::spawn(async move {
            tank_registry::serve(cfg, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server failed");
        });
        // The listener is bound before spawning: no sleeps needed. Wait until start-up clean-up is done.
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for _ in 0..200 {
            if client.get(format!("{url}/api/health")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        TestServer {
            url,
            config,
            client,
            _dir: dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    pub fn create_user(&self, name: &str, admin: bool) -> String {
        tank_registry::admin::user(
            &self.config,
            UserCommand::Create {
                name: name.into(),
                email: Some(format!("{name}@example.com")),
                display_name: None,
                admin,
                pro: false,
                password_stdin: false,
            },
        )
        .expect("user create")
        .trim()
        .to_string()
    }

    pub fn token(&self, user: &str, scopes: &str) -> String {
        self.token_with(user, scopes, None)
    }

    pub fn token_with(&self, user: &str, scopes: &str, days: Option<u32>) -> String {
        tank_registry::admin::token(
            &self.config,
            TokenCommand::Create {
                user: user.into(),
                scopes: scopes.into(),
                expires_in_days: days,
                label: "test".into(),
            },
        )
        .expect("token create")
        .trim()
        .to_string()
    }

    /// A user with a read+publish token.
    pub fn user_with_token(&self, name: &str) -> String {
        self.create_user(name, false);
        self.token(name, "skills:read,skills:publish")
    }

    pub fn create_org(&self, slug: &str, owner: &str) {
        tank_registry::admin::org(
            &self.config,
            OrgCommand::Create {
                slug: slug.into(),
                owner: owner.into(),
            },
        )
        .expect("org create");
    }

    pub fn add_member(&self, slug: &str, user: &str) {
        tank_registry::admin::org(
            &self.config,
            OrgCommand::AddMember {
                slug: slug.into(),
                user: user.into(),
            },
        )
        .expect("org add-member");
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.url)
        };
        let mut r = self.client.request(method, url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        json_of(self.req(Method::GET, path, token).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        json_of(
            self.req(Method::POST, path, token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Publish start; returns (status, body).
    pub async fn start_publish(&self, token: &str, manifest: Value) -> (StatusCode, Value) {
        self.post("/api/v1/skills", Some(token), json!({"manifest": manifest}))
            .await
    }

    pub async fn upload(&self, upload_url: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        json_of(
            self.client
                .put(upload_url)
                .header("content-type", "application/octet-stream")
                .body(bytes)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn confirm(
        &self,
        token: &str,
        version_id: &str,
        bytes: &[u8],
    ) -> (StatusCode, Value) {
        self.post(
            "/api/v1/skills/confirm",
            Some(token),
            json!({"versionId": version_id, "integrity": integrity(bytes)}),
        )
        .await
    }

    /// The whole 3-step publish; panics unless every step succeeds. Returns the confirm body.
    pub async fn publish(&self, token: &str, manifest: Value, tarball: Vec<u8>) -> Value {
        let (s, start) = self.start_publish(token, manifest).await;
        assert_eq!(s, StatusCode::CREATED, "start: {start}");
        let (s, up) = self
            .upload(start["uploadUrl"].as_str().unwrap(), tarball.clone())
            .await;
        assert_eq!(s, StatusCode::OK, "upload: {up}");
        let (s, body) = self
            .confirm(token, start["versionId"].as_str().unwrap(), &tarball)
            .await;
        assert_eq!(s, StatusCode::OK, "confirm: {body}");
        body
    }

    /// Files in a data-dir subdirectory (recursively), for "nothing was stored" assertions.
    pub fn files_under(&self, sub: &str) -> Vec<PathBuf> {
        fn walk(p: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path, out);
                    } else {
                        out.push(path);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.data_dir().join(sub), &mut out);
        out
    }

    /// Runs a read-only SQL count against the live database.
    pub fn count(&self, sql: &str) -> i64 {
        let c = rusqlite::Connection::open(self.config.db_path()).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

pub fn integrity(bytes: &[u8]) -> String {
    tank_registry::domain::integrity_of(&Sha512::digest(bytes))
}

/// A small, clean skill tarball.
pub fn skill_tgz(name: &str, version: &str) -> Vec<u8> {
    let skill_md = format!(
        "---\nname: {name}\ndescription: A test skill that greets people politely.\n---\n\n# {name}\n\nGreets the user in several languages, politely and briefly.\n"
    );
    let tank_json =
        json!({"name": name, "version": version, "description": "Greets people."}).to_string();
    tank_registry::archive::testutil::build_tgz(&[
        ("SKILL.md", skill_md.as_bytes()),
        ("tank.json", tank_json.as_bytes()),
        ("scripts/run.py", b"print('hello')\n"),
    ])
}
