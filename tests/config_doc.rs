//! The configuration reference (`docs/configuration.md`) is the binary's own `--help` output: this test keeps
//! the generated blocks equal to it. `TANK_UPDATE_DOCS=1 cargo test --test config_doc` rewrites them.

use std::process::Command;

/// (heading, arguments) of every generated block, in document order.
const BLOCKS: [(&str, &[&str]); 5] = [
    ("tank-registry --help", &["--help"]),
    ("tank-registry serve --help", &["serve", "--help"]),
    ("tank-registry scan --help", &["scan", "--help"]),
    ("tank-registry backup --help", &["backup", "--help"]),
    ("tank-registry check --help", &["check", "--help"]),
];

fn help(args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tank-registry"));
    cmd.args(args);
    // Environment values appear in clap's help (`[env: TANK_X=value]`): render with none set.
    for (k, _) in std::env::vars() {
        if k.starts_with("TANK_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn block(heading: &str, body: &str) -> String {
    format!(
        "<!-- generated: {heading} -->\n```text\n{}\n```\n<!-- end generated -->",
        body.trim_end()
    )
}

#[test]
fn configuration_reference_matches_help() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let mut updated = doc.clone();
    let mut stale = Vec::new();
    for (heading, args) in BLOCKS {
        let start_marker = format!("<!-- generated: {heading} -->");
        let start = updated
            .find(&start_marker)
            .unwrap_or_else(|| panic!("docs/configuration.md has no block for `{heading}`"));
        let end = updated[start..].find("<!-- end generated -->").unwrap()
            + start
            + "<!-- end generated -->".len();
        let want = block(heading, &help(args));
        if updated[start..end] != want {
            stale.push(heading);
            updated.replace_range(start..end, &want);
        }
    }
    if std::env::var("TANK_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(path, &updated).unwrap();
        return;
    }
    assert!(
        stale.is_empty(),
        "docs/configuration.md is out of date for {stale:?}; run `TANK_UPDATE_DOCS=1 cargo test --test config_doc`"
    );
}
