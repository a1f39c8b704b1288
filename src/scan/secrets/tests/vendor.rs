//! CRD-001–CRD-007: each rule's true positive and "not a finding" example from SPEC §8.3.

use super::{ALNUM, B64, UPPER32, URLSAFE, of, rnd, scan};
use crate::scan::Severity::{Critical, High, Info};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[test]
fn crd001_aws_key_id() {
    // The SPEC's true positive, split so the source holds no key.
    let id = format!("{}{}", "AKIA", "QYLPMN5HHHFPZAM2");
    let text = format!("import os\nAWS_ACCESS_KEY_ID = \"{id}\"\n");
    let f = scan("config.py", &text, true, &[&id]);
    assert_eq!(of(&f, "CRD-001"), vec![(Critical, Some(2))]);
    let c = &f[0];
    assert_eq!(c.rule_type, "secret_aws");
    assert_eq!(c.confidence, 0.95);
    assert_eq!(c.evidence.as_deref().map(|e| &e[..4]), Some("AKIA"));
    // Not CRD-008 as well: the vendor rule claimed the value.
    assert!(of(&f, "CRD-008").is_empty());
    // Generated ids of the other prefixes.
    for (i, p) in ["ASIA", "ABIA", "ACCA"].iter().enumerate() {
        let id = format!("{p}{}", rnd(i as u64 + 10, UPPER32, 16));
        let f = scan("a.txt", &format!("key {id}\n"), false, &[&id]);
        assert_eq!(of(&f, "CRD-001"), vec![(Critical, Some(1))], "{p}");
    }
    let f = scan(
        "README.md",
        "AWS access key ids start with AKIA.\n",
        false,
        &[],
    );
    assert!(f.is_empty(), "{f:?}");
    // A placeholder id is a note.
    let ph = format!("AKIA{}", "X".repeat(16));
    let f = scan("a.py", &format!("k = \"{ph}\"\n"), true, &[&ph]);
    assert_eq!(of(&f, "CRD-001"), vec![(Info, Some(1))]);
}

#[test]
fn crd001_documentation_pair_is_high() {
    let id = format!("{}{}{}", "AKIA", "IOSFODNN7", "EXAMPLE");
    let secret = format!("{}{}{}", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCY", "EXAMPLEKEY");
    let text =
        format!("# settings\nAWS_ACCESS_KEY_ID = \"{id}\"\nAWS_SECRET_ACCESS_KEY = \"{secret}\"\n");
    let f = scan("config.py", &text, true, &[&id, &secret]);
    assert_eq!(of(&f, "CRD-001"), vec![(High, Some(2)), (High, Some(3))]);
    for x in &f {
        assert!(x.message.contains("documentation"), "{}", x.message);
    }
    assert!(of(&f, "CRD-008").is_empty());
    assert!(of(&f, "CRD-010").is_empty());
}

#[test]
fn crd001_secret_key_needs_aws_context_within_five_lines() {
    let secret = rnd(3, ALNUM, 40);
    let near = format!("aws:\n\n\n\n\n  key: {secret}\n");
    let f = scan("deploy.yaml", &near, false, &[&secret]);
    assert_eq!(of(&f, "CRD-001"), vec![(Critical, Some(6))]);
    let far = format!("aws:\n\n\n\n\n\n  value: {secret}\n");
    let f = scan("deploy.yaml", &far, false, &[&secret]);
    assert!(of(&f, "CRD-001").is_empty(), "{f:?}");
    // Hex (a SHA-1) and base64 of text near `secret` are not keys.
    let sha1 = rnd(4, "0123456789abcdef", 40);
    let text = format!("secret_sha = \"{sha1}\"\n");
    assert!(of(&scan("a.py", &text, true, &[]), "CRD-001").is_empty());
    let b64 = base64::engine::general_purpose::STANDARD.encode("import os; os.system('whoami')");
    assert_eq!(b64.len(), 40);
    let text = format!("secret = \"{b64}\"\n");
    assert!(of(&scan("a.py", &text, true, &[]), "CRD-001").is_empty());
}

#[test]
fn crd002_github() {
    let tok = format!("gh{}{}", "p_", rnd(5, ALNUM, 36));
    let text = format!("GITHUB_TOKEN = \"{tok}\"\n");
    let f = scan("setup.py", &text, true, &[&tok]);
    assert_eq!(of(&f, "CRD-002"), vec![(Critical, Some(1))]);
    assert_eq!(f[0].rule_type, "secret_github");
    assert!(f[0].message.contains("GitHub"));
    let pat = format!("github{}{}", "_pat_", rnd(6, &format!("{ALNUM}_"), 82));
    let f = scan("a.md", &format!("use {pat}\n"), false, &[&pat]);
    assert_eq!(of(&f, "CRD-002"), vec![(Critical, Some(1))]);
    for p in ["gho_", "ghu_", "ghs_", "ghr_"] {
        let t = format!("{p}{}", rnd(7, ALNUM, 36));
        assert_eq!(
            of(&scan("a.sh", &t, true, &[&t]), "CRD-002"),
            vec![(Critical, Some(1))]
        );
    }
    // "ghp_" + 36 × "x": a note.
    let ph = format!("ghp_{}", "x".repeat(36));
    let f = scan("a.py", &format!("GITHUB_TOKEN = \"{ph}\"\n"), true, &[&ph]);
    assert_eq!(of(&f, "CRD-002"), vec![(Info, Some(1))]);
    assert!(of(&f, "CRD-008").is_empty());
    let f = scan("a.md", "export GITHUB_TOKEN=ghp_<your-token>\n", false, &[]);
    assert_eq!(of(&f, "CRD-002"), vec![(Info, Some(1))]);
}

#[test]
fn crd003_llm_providers() {
    let google = format!(
        "AI{}{}",
        "za",
        rnd(8, &format!("{ALNUM}_-"), 35).replace('-', "x")
    );
    let md = format!("# Setup\n\n```python\nGOOGLE_API_KEY = \"{google}\"\n```\n");
    let f = scan("SKILL.md", &md, false, &[&google]);
    assert_eq!(of(&f, "CRD-003"), vec![(Critical, Some(4))]);
    assert_eq!(f[0].rule_type, "secret_llm_provider");
    let cases = [
        format!("sk-{}{}", "proj-", rnd(9, &format!("{ALNUM}_-"), 120)),
        format!("sk-{}{}", "svcacct-", rnd(10, ALNUM, 40)),
        format!("sk-{}{}", "ant-api03-", rnd(11, &format!("{ALNUM}_-"), 93)),
        format!(
            "sk-{}{}FJ{}",
            rnd(12, ALNUM, 20),
            "T3Blbk",
            rnd(13, ALNUM, 20)
        ),
        format!("gs{}{}", "k_", rnd(14, ALNUM, 52)),
        format!(
            "hf{}{}",
            "_",
            rnd(
                15,
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                34
            )
        ),
    ];
    for (i, key) in cases.iter().enumerate() {
        let text = format!("\n\nclient = Client(api_key=\"{key}\")\n");
        let f = scan("agent.py", &text, true, &[key]);
        assert_eq!(of(&f, "CRD-003"), vec![(Critical, Some(3))], "case {i}");
        assert!(of(&f, "CRD-008").is_empty(), "case {i}");
    }
    // `"sk-" + 40 × "x"`: a CRD-003 note, nothing else.
    let ph = format!("sk-{}", "x".repeat(40));
    let f = scan("a.py", &format!("API_KEY = \"{ph}\"\n"), true, &[&ph]);
    assert_eq!(of(&f, "CRD-003"), vec![(Info, Some(1))]);
    assert_eq!(f.len(), 1, "{f:?}");
    // A prose mention is nothing.
    assert!(scan("a.md", "OpenAI keys start with sk-proj-…\n", false, &[]).is_empty());
}

#[test]
fn crd004_saas() {
    let hook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        rnd(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
        rnd(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
        rnd(18, ALNUM, 24)
    );
    let f = scan(
        "notify.js",
        &format!("const url = '{hook}';\n"),
        true,
        &[&hook],
    );
    assert_eq!(of(&f, "CRD-004"), vec![(Critical, Some(1))]);
    assert_eq!(f[0].rule_type, "secret_saas");
    let doc = "https://hooks.slack.com/services/T000/B000/XXXXXXXX";
    let f = scan("README.md", &format!("Webhook: {doc}\n"), false, &[]);
    assert_eq!(of(&f, "CRD-004"), vec![(Info, Some(1))]);
    let digits = "0123456789";
    let cases = [
        (
            format!("xox{}{}", "b-", rnd(19, &format!("{ALNUM}-"), 40)),
            Critical,
        ),
        (
            format!(
                "https://discord.com/api/{}{}/{}",
                "webhooks/",
                rnd(20, digits, 18),
                rnd(21, ALNUM, 60)
            ),
            Critical,
        ),
        (
            format!("{}:AA{}", rnd(22, digits, 10), rnd(23, ALNUM, 33)),
            Critical,
        ),
        (format!("sk_{}{}", "live_", rnd(24, ALNUM, 24)), Critical),
        (format!("sk_{}{}", "test_", rnd(25, ALNUM, 24)), High),
        (
            format!("S{}{}", "K", rnd(26, "0123456789abcdef", 32)),
            Critical,
        ),
        (
            format!("S{}{}.{}", "G.", rnd(27, ALNUM, 22), rnd(28, ALNUM, 43)),
            Critical,
        ),
        (format!("np{}{}", "m_", rnd(29, ALNUM, 36)), Critical),
        (
            format!("pypi-{}{}", "AgEIcHlwaS5vcmc", rnd(30, ALNUM, 60)),
            Critical,
        ),
        (format!("glp{}{}", "at-", rnd(31, ALNUM, 20)), Critical),
        (format!("tan{}{}", "k_", rnd(32, ALNUM, 43)), Critical),
    ];
    for (key, sev) in &cases {
        let f = scan("cfg.txt", &format!("value {key} end\n"), false, &[key]);
        assert_eq!(of(&f, "CRD-004"), vec![(*sev, Some(1))], "{}", &key[..8]);
    }
}

fn pem_body(seed: u64, lines: usize) -> Vec<String> {
    (0..lines).map(|i| rnd(seed + i as u64, B64, 64)).collect()
}

#[test]
fn crd005_private_key() {
    let body = pem_body(40, 4);
    let pem = format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        body.join("\n")
    );
    let text = format!("# key\n{pem}");
    let f = scan("id_rsa", &text, false, &[&body[0]]);
    assert_eq!(of(&f, "CRD-005"), vec![(Critical, Some(2))]);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule_type, "secret_private_key");
    assert!(f[0].message.contains("RSA"));
    // Quoted body lines in code are part of the key, not CRD-010 literals.
    let quoted: Vec<String> = body.iter().map(|l| format!("    \"{l}\",")).collect();
    let code = format!(
        "KEY = [\n    \"-----BEGIN EC PRIVATE KEY-----\",\n{}\n]\n",
        quoted.join("\n")
    );
    let f = scan("k.py", &code, true, &[&body[0]]);
    assert_eq!(of(&f, "CRD-005"), vec![(Critical, Some(2))]);
    assert!(of(&f, "CRD-010").is_empty(), "{f:?}");
    // One string with `\n` escapes, in code.
    let one = format!(
        "KEY = \"-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----\\n\"\n",
        body[1]
    );
    let f = scan("k.py", &one, true, &[&body[1]]);
    assert_eq!(of(&f, "CRD-005"), vec![(Critical, Some(1))]);
    // Encrypted PEM headers do not count toward the 3 lines.
    let enc = format!(
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{}\n\n{}\n",
        rnd(50, "0123456789ABCDEF", 32),
        body[2]
    );
    assert_eq!(
        of(&scan("k.pem", &enc, false, &[&body[2]]), "CRD-005"),
        vec![(Critical, Some(1))]
    );
    let prose = "The file starts with `-----BEGIN OPENSSH PRIVATE KEY-----`.\n";
    let f = scan("SKILL.md", prose, false, &[]);
    assert_eq!(of(&f, "CRD-005"), vec![(Info, Some(1))]);
}

fn jwt(header: &str, payload: &str, sig: &str) -> String {
    format!(
        "{}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    )
}

#[test]
fn crd006_jwt() {
    let tok = jwt(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"sub":"svc-42","role":"admin","iat":1700000000}"#,
        &rnd(60, URLSAFE, 43),
    );
    let text = format!("module.exports = {{\n  session: '{tok}',\n}};\n");
    let f = scan("config.js", &text, true, &[&tok]);
    assert_eq!(of(&f, "CRD-006"), vec![(High, Some(2))]);
    assert_eq!(f[0].rule_type, "secret_jwt");
    assert!(f[0].message.contains("HS256"));
    assert!(of(&f, "CRD-008").is_empty() && of(&f, "CRD-010").is_empty());
    // The jwt.io sample token.
    let sample = jwt(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#,
        super::super::embedded::JWT_IO_SIGNATURE,
    );
    let f = scan("README.md", &format!("Example: {sample}\n"), false, &[]);
    assert_eq!(of(&f, "CRD-006"), vec![(Info, Some(1))]);
    // alg none → note; a header without alg → not a JWT.
    let none = jwt(
        r#"{"alg":"none"}"#,
        r#"{"sub":"someone-here"}"#,
        &rnd(61, URLSAFE, 20),
    );
    assert_eq!(
        of(&scan("a.txt", &none, false, &[]), "CRD-006"),
        vec![(Info, Some(1))]
    );
    let no_alg = jwt(
        r#"{"typ":"JWT","kid":"k1"}"#,
        r#"{"sub":"someone-here"}"#,
        &rnd(62, URLSAFE, 43),
    );
    assert!(of(&scan("a.txt", &no_alg, false, &[]), "CRD-006").is_empty());
}

#[test]
fn crd007_connection_string() {
    let text =
        "DATABASE_URL = \"postgresql://admin:SuperSecret123@db.example.com:5432/production\"\n";
    let f = scan("settings.py", text, true, &["SuperSecret123"]);
    assert_eq!(of(&f, "CRD-007"), vec![(Critical, Some(1))]);
    assert_eq!(f[0].rule_type, "secret_connection_string");
    assert!(
        f[0].message.contains("db.example.com:5432"),
        "{}",
        f[0].message
    );
    assert!(f[0].evidence.as_deref().unwrap().starts_with("post…"));
    assert_eq!(f.len(), 1, "{f:?}");
    for ok in [
        "DB = \"postgres://postgres:${DB_PASSWORD}@localhost/app\"\n",
        "REDIS = \"redis://user:pass@localhost:6379\"\n",
        "url = f\"mysql://{user}:{password}@{host}/db\"\n",
        "AMQP=amqp://guest:<password>@mq.internal:5672\n",
        "git clone https://user:token@git.example/org/repo\n",
        "PG = 'postgres://postgres:postgres@localhost:5432/dev'\n",
        "MQ = 'amqp://app:app@localhost'\n",
    ] {
        let f = scan("a.py", ok, true, &[]);
        assert!(f.iter().all(|x| x.severity == Info), "{ok}: {f:?}");
    }
    // A short real password stays a finding (length-adjusted entropy, module docs).
    let f = scan(
        "a.yaml",
        "url: mongodb+srv://app:Zx9#kq2@c0.mongo.internal/x\n",
        false,
        &["Zx9#kq2"],
    );
    assert_eq!(of(&f, "CRD-007"), vec![(Critical, Some(1))]);
}
