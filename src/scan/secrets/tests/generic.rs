//! CRD-008, CRD-009 and CRD-010: true positives and "not a finding" examples of SPEC §8.3 and §8.8.

use super::{ALNUM, of, rnd, scan};
use crate::scan::Severity::{Critical, High, Info, Low};
use base64::Engine;

#[test]
fn crd008_generic_assignment() {
    let v = "my-super-secret-jwt-key-that-should-not-be-here";
    let f = scan(
        "app.py",
        &format!("import os\nJWT_SECRET = \"{v}\"\n"),
        true,
        &[v],
    );
    assert_eq!(of(&f, "CRD-008"), vec![(High, Some(2))]);
    let x = &f[0];
    assert_eq!(x.rule_type, "secret_generic");
    assert_eq!(x.confidence, 0.6);
    assert!(x.message.contains("JWT_SECRET"), "{}", x.message);
    assert!(x.evidence.as_deref().unwrap().starts_with("my-s…(sha256:"));
    // A random token under a credential name, in the usual syntaxes.
    let tok = rnd(70, ALNUM, 32);
    for text in [
        format!("GITHUB_TOKEN = \"{tok}\"\n"),
        format!("const apiKey = '{tok}';\n"),
        format!("{{\"client_secret\": \"{tok}\"}}\n"),
        format!("api_key: str = \"{tok}\"\n"),
        format!("password := `{tok}`\n"),
        format!("headers[\"X-Api-Key\"] = \"{tok}\"\n"),
    ] {
        let f = scan("config.py", &text, true, &[&tok]);
        assert_eq!(of(&f, "CRD-008"), vec![(High, Some(1))], "{text}");
        assert!(of(&f, "CRD-010").is_empty(), "{text}");
    }
    // The token of an HTTP auth header value.
    let text = format!("headers = {{\"Authorization\": \"Bearer {tok}\"}}\n");
    let f = scan("client.py", &text, true, &[&tok]);
    assert_eq!(of(&f, "CRD-008"), vec![(High, Some(1))]);
    let ph = format!("sk-{}", "x".repeat(40));
    let text = format!("headers = {{\"Authorization\": \"Bearer {ph}\"}}\n");
    let f = scan("client.py", &text, true, &[&ph]);
    assert_eq!(of(&f, "CRD-003"), vec![(Info, Some(1))]);
    assert_eq!(f.len(), 1);
    // A shell fence in Markdown.
    let md = format!("# Setup\n\n```bash\nexport SERVICE_TOKEN={tok}\n```\n");
    let f = scan("SKILL.md", &md, false, &[&tok]);
    assert_eq!(of(&f, "CRD-008"), vec![(High, Some(4))]);
    // YAML and .env scalars.
    let f = scan(
        "conf/app.yaml",
        &format!("db:\n  password: {tok}\n"),
        false,
        &[&tok],
    );
    assert_eq!(of(&f, "CRD-008"), vec![(High, Some(2))]);
    let f = scan(
        "deploy.sh",
        &format!("#!/bin/sh\nexport API_TOKEN={tok}\n"),
        true,
        &[&tok],
    );
    assert_eq!(of(&f, "CRD-008"), vec![(High, Some(2))]);
}

#[test]
fn crd008_not_findings() {
    for text in [
        "token_url = \"https://oauth2.googleapis.com/token\"\n",
        "api_version = \"2023-06-01\"\n",
        "API_KEY = os.getenv(\"API_KEY\")\n",
        "key = os.environ[\"OPENAI_API_KEY\"]\n",
        "auth_header = f\"Bearer {token}\"\n",
        "const authUrl = `${base}/oauth/authorize/v2`;\n",
        "private_key_path = \"keys/service-account.json\"\n",
        "author_email = \"jane.doe.42@mail.example\"\n",
        "file_sha256 = \"Zx81kQ0pLm2vN7bR4tYw9cJ3\"\n",
        "token_hash = \"Zx81kQ0pLm2vN7bR4tYw9cJ3\"\n",
        "password = \"aaaaaaaaaaaaaaaa\"\n",
        "auth = \"Basic abc def ghi jkl\"\n",
        "auth_type = \"oauth2_client_credentials\"\n",
        "secretName = \"my-app-tls-secret-v2\"\n",
    ] {
        let f = scan("a.py", text, true, &[]);
        assert!(f.iter().all(|x| x.severity == Info), "{text}: {f:?}");
    }
    let f = scan(
        "c.json",
        "{\"apiKey\": \"your-api-key-here\"}\n",
        false,
        &[],
    );
    assert_eq!(of(&f, "CRD-008"), vec![(Info, Some(1))]);
    assert!(f[0].message.contains("placeholder"));
    // `shared_secret` is not a `sha` name (chosen).
    let tok = rnd(71, ALNUM, 24);
    let f = scan(
        "a.py",
        &format!("shared_secret = \"{tok}\"\n"),
        true,
        &[&tok],
    );
    assert_eq!(of(&f, "CRD-008"), vec![(High, Some(1))]);
}

#[test]
fn crd009_env_files() {
    let key = format!("sk-{}{}", "proj-", rnd(72, ALNUM, 48));
    let f = scan(
        ".env",
        &format!("# local\nDEBUG=true\nOPENAI_API_KEY={key}\n"),
        false,
        &[&key],
    );
    assert_eq!(of(&f, "CRD-009"), vec![(Critical, Some(3))]);
    assert_eq!(of(&f, "CRD-003"), vec![(Critical, Some(3))]);
    let x = f.iter().find(|x| x.rule_id == "CRD-009").unwrap();
    assert_eq!(x.rule_type, "env_file_with_values");
    assert!(x.message.contains("OPENAI_API_KEY") && x.message.contains("DEBUG"));
    // A template is not an env file; its placeholder is nothing at all.
    let f = scan(".env.example", "OPENAI_API_KEY=your-key-here\n", false, &[]);
    assert!(f.is_empty(), "{f:?}");
    // Values without a vendor key: high; only references: nothing; only placeholders: a note.
    let pw = rnd(73, ALNUM, 16);
    let f = scan(
        "app/prod.env",
        &format!("DB_HOST=db\nDB_PASSWORD=\"{pw}\"\n"),
        false,
        &[&pw],
    );
    assert_eq!(of(&f, "CRD-009"), vec![(High, Some(2))]);
    assert!(
        scan(
            ".env.local",
            "TOKEN=${TOKEN}\nKEY=$KEY\nEMPTY=\n",
            false,
            &[]
        )
        .is_empty()
    );
    assert!(scan(".envrc", "export PATH=$PATH:bin\nuse nix\n", false, &[]).is_empty());
    let f = scan(".envrc", "export API_KEY=changeme\n", false, &[]);
    assert_eq!(of(&f, "CRD-009"), vec![(Info, Some(1))]);
}

#[test]
fn crd009_credential_files() {
    let npm = format!("np{}{}", "m_", rnd(74, ALNUM, 36));
    let text =
        format!("registry=https://registry.example/\n//registry.example/:_authToken={npm}\n");
    let f = scan(".npmrc", &text, false, &[&npm]);
    assert_eq!(of(&f, "CRD-009"), vec![(Critical, Some(2))]);
    let f = scan(
        ".npmrc",
        "//registry.example/:_authToken=${NPM_TOKEN}\n",
        false,
        &[],
    );
    assert!(of(&f, "CRD-009").is_empty());
    let pw = rnd(75, ALNUM, 20);
    let f = scan(
        ".pypirc",
        &format!("[pypi]\nusername = me\npassword = {pw}\n"),
        false,
        &[&pw],
    );
    assert_eq!(of(&f, "CRD-009"), vec![(High, Some(3))]);
    let f = scan(
        ".netrc",
        &format!("machine api.example\n  login me\n  password {pw}\n"),
        false,
        &[&pw],
    );
    assert_eq!(of(&f, "CRD-009"), vec![(High, Some(3))]);
    let f = scan(
        ".git-credentials",
        &format!("https://me:{pw}@git.example\n"),
        false,
        &[&pw],
    );
    assert_eq!(of(&f, "CRD-009"), vec![(Critical, Some(1))]);
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("me:{pw}"));
    let docker = format!(
        "{{\n  \"auths\": {{\n    \"reg.example\": {{\n      \"auth\": \"{auth}\"\n    }}\n  }}\n}}\n"
    );
    let f = scan("home/.docker/config.json", &docker, false, &[&auth]);
    assert_eq!(of(&f, "CRD-009"), vec![(High, Some(4))]);
    let f = scan("config.json", &docker, false, &[&auth]);
    assert!(of(&f, "CRD-009").is_empty());
}

#[test]
fn crd010_high_entropy_literal() {
    let text = "const c = \"9fK2mXq8Lr4TzW7vB3nY6hJd1sGp5cQaE0uR\";\n";
    let f = scan(
        "lib/x.js",
        text,
        true,
        &["9fK2mXq8Lr4TzW7vB3nY6hJd1sGp5cQaE0uR"],
    );
    assert_eq!(of(&f, "CRD-010"), vec![(Low, Some(1))]);
    assert_eq!(f[0].rule_type, "high_entropy_string");
    assert_eq!(f[0].confidence, 0.5);
    // Code files only.
    assert!(scan("notes.md", text, false, &[]).is_empty());
    let b64 = base64::engine::general_purpose::STANDARD.encode("print('Having fun!')");
    let sha1 = rnd(76, "0123456789abcdef", 40);
    let sha512 = rnd(77, &format!("{ALNUM}+/"), 86);
    for t in [
        format!("  \"integrity\": \"sha512-{sha512}==\",\n"),
        format!("exec(base64.b64decode(\"{b64}\"))\n"),
        format!("rev = \"{sha1}\"\n"),
        format!("id = \"{}\"\n", "3f2b8c1e-9d4a-4b7e-8f6a-1c2d3e4f5a6b"),
        format!("const d = \"{}\"; // digest\n", rnd(78, ALNUM, 40)),
        format!("bytes.fromhex(\"{}\")\n", rnd(79, "0123456789ABCDEF", 64)),
        "B64 = \"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/\"\n".to_string(),
    ] {
        let f = scan("a.py", &t, true, &[]);
        assert!(f.is_empty(), "{t}: {f:?}");
    }
}
