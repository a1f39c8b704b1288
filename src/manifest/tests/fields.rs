//! Manifest validation of the structured fields: permissions, repository, skill dependencies, atoms,
//! includes, audit and MCP servers.

use super::*;

#[test]
fn permissions_shapes() {
    ok("permissions", json!({}));
    ok(
        "permissions",
        json!({"network": {}, "filesystem": {}, "subprocess": true}),
    );
    bad(
        "permissions",
        json!([]),
        issue_path!["manifest", "permissions"],
    );
    bad(
        "permissions",
        json!({"subprocess": "yes"}),
        issue_path!["manifest", "permissions", "subprocess"],
    );
    bad(
        "permissions",
        json!({"network": {"outbound": "a.com"}}),
        issue_path!["manifest", "permissions", "network", "outbound"],
    );
    bad(
        "permissions",
        json!({"network": {"outbound": null}}),
        issue_path!["manifest", "permissions", "network", "outbound"],
    );
    bad(
        "permissions",
        json!({"filesystem": {"read": [1]}}),
        issue_path!["manifest", "permissions", "filesystem", "read", 0],
    );
}

#[test]
fn permissions_entry_limits() {
    let hosts: Vec<String> = (0..100).map(|i| format!("h{i}.com")).collect();
    ok("permissions", json!({"network": {"outbound": hosts}}));
    let hosts: Vec<String> = (0..101).map(|i| format!("h{i}.com")).collect();
    bad(
        "permissions",
        json!({"network": {"outbound": hosts}}),
        issue_path!["manifest", "permissions", "network", "outbound"],
    );
    let paths: Vec<String> = (0..101).map(|i| format!("./p{i}")).collect();
    bad(
        "permissions",
        json!({"filesystem": {"write": paths}}),
        issue_path!["manifest", "permissions", "filesystem", "write"],
    );
    // Host entries: 1–253 characters, no whitespace.
    ok(
        "permissions",
        json!({"network": {"outbound": ["a".repeat(253)]}}),
    );
    for h in [
        String::new(),
        "a".repeat(254),
        "a .com".into(),
        "a.com\t".into(),
        "a\u{a0}b".into(),
    ] {
        bad(
            "permissions",
            json!({"network": {"outbound": ["ok.com", h]}}),
            issue_path!["manifest", "permissions", "network", "outbound", 1],
        );
    }
    // Path entries: 1–1024 characters, no NUL; whitespace is fine.
    ok(
        "permissions",
        json!({"filesystem": {"read": ["./my docs/**", "é".repeat(1024)]}}),
    );
    for p in [String::new(), "é".repeat(1025), "a\0b".into()] {
        bad(
            "permissions",
            json!({"filesystem": {"read": [p]}}),
            issue_path!["manifest", "permissions", "filesystem", "read", 0],
        );
    }
}

#[test]
fn repository_schemes() {
    for u in [
        "https://github.com/acme/hello",
        "http://example.com/x",
        "git://example.com/x.git",
        "git+https://github.com/acme/hello.git",
        "git+ssh://git@github.com/acme/hello.git",
        "ssh://git@example.com:2222/x.git",
    ] {
        ok("repository", json!(u));
    }
    for u in [
        "ftp://example.com/x",
        "github.com/acme/hello",
        "/acme/hello",
        "git@github.com:acme/hello.git",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "",
    ] {
        bad(
            "repository",
            json!(u),
            issue_path!["manifest", "repository"],
        );
    }
    bad(
        "repository",
        json!(null),
        issue_path!["manifest", "repository"],
    );
    let long = format!("https://example.com/{}", "a".repeat(2048 - 20));
    ok("repository", json!(long));
    let long = format!("https://example.com/{}", "a".repeat(2049 - 20));
    bad(
        "repository",
        json!(long),
        issue_path!["manifest", "repository"],
    );
}

#[test]
fn skills_dependencies() {
    ok("skills", json!({}));
    ok("skills", json!({"@acme/x": "^1.0.0", "y": "x".repeat(256)}));
    let m = bad(
        "skills",
        json!({"Bad Name": "1.0.0"}),
        issue_path!["manifest", "skills", "Bad Name"],
    );
    assert!(m.contains("Bad Name"));
    bad(
        "skills",
        json!({"x": ""}),
        issue_path!["manifest", "skills", "x"],
    );
    bad(
        "skills",
        json!({"x": "x".repeat(257)}),
        issue_path!["manifest", "skills", "x"],
    );
    bad(
        "skills",
        json!({"x": 1}),
        issue_path!["manifest", "skills", "x"],
    );
    bad("skills", json!(["x"]), issue_path!["manifest", "skills"]);
    let deps: Map<String, Value> = (0..200).map(|i| (format!("d{i}"), json!("1"))).collect();
    ok("skills", Value::Object(deps));
    let deps: Map<String, Value> = (0..201).map(|i| (format!("d{i}"), json!("1"))).collect();
    bad(
        "skills",
        Value::Object(deps),
        issue_path!["manifest", "skills"],
    );
}

#[test]
fn atoms_rules() {
    ok("atoms", json!([]));
    ok("atoms", Value::Array(vec![json!({}); 200]));
    bad(
        "atoms",
        Value::Array(vec![json!({}); 201]),
        issue_path!["manifest", "atoms"],
    );
    bad(
        "atoms",
        json!([{}, "x"]),
        issue_path!["manifest", "atoms", 1],
    );
    bad("atoms", json!({}), issue_path!["manifest", "atoms"]);
}

#[test]
fn includes_rules() {
    ok("includes", json!(["a.md", "é".repeat(1024)]));
    ok("includes", Value::Array(vec![json!("a"); 1000]));
    bad(
        "includes",
        Value::Array(vec![json!("a"); 1001]),
        issue_path!["manifest", "includes"],
    );
    bad(
        "includes",
        json!(["a", "é".repeat(1025)]),
        issue_path!["manifest", "includes", 1],
    );
    bad(
        "includes",
        json!([1]),
        issue_path!["manifest", "includes", 0],
    );
    bad(
        "includes",
        json!("a.md"),
        issue_path!["manifest", "includes"],
    );
}

#[test]
fn audit_min_score() {
    ok("audit", json!({"min_score": 0}));
    ok("audit", json!({"min_score": 10}));
    ok("audit", json!({"min_score": 6.5}));
    for s in [json!(-1), json!(10.01), json!(11), json!("7"), json!(null)] {
        bad(
            "audit",
            json!({"min_score": s}),
            issue_path!["manifest", "audit", "min_score"],
        );
    }
    let m = bad(
        "audit",
        json!({}),
        issue_path!["manifest", "audit", "min_score"],
    );
    assert_eq!(m, "Required");
    bad("audit", json!(5), issue_path!["manifest", "audit"]);
}

#[test]
fn mcp_server_forms() {
    ok(
        "mcp_server",
        json!({"command": "npx", "args": ["-y", "srv"], "env": {"A": "b"}, "requires_auth": false}),
    );
    ok(
        "mcp_server",
        json!({"remote": "https://mcp.example.com/sse", "env": {}, "requires_auth": true}),
    );
    ok("mcp_server", json!({"remote": "http://localhost:3000/mcp"}));
    bad(
        "mcp_server",
        json!({}),
        issue_path!["manifest", "mcp_server"],
    );
    bad(
        "mcp_server",
        json!({"env": {}}),
        issue_path!["manifest", "mcp_server"],
    );
    let m = bad(
        "mcp_server",
        json!({"command": "x", "remote": "https://a.com"}),
        issue_path!["manifest", "mcp_server"],
    );
    assert_eq!(m, "Exactly one of command or remote is required.");
    bad(
        "mcp_server",
        json!({"command": ""}),
        issue_path!["manifest", "mcp_server", "command"],
    );
    bad(
        "mcp_server",
        json!({"command": 1}),
        issue_path!["manifest", "mcp_server", "command"],
    );
    bad(
        "mcp_server",
        json!({"remote": "ws://a.com"}),
        issue_path!["manifest", "mcp_server", "remote"],
    );
    bad(
        "mcp_server",
        json!({"remote": "a.com/x"}),
        issue_path!["manifest", "mcp_server", "remote"],
    );
    let m = bad(
        "mcp_server",
        json!({"remote": "https://a.com", "args": []}),
        issue_path!["manifest", "mcp_server", "args"],
    );
    assert_eq!(m, "Unrecognized key: args");
    bad(
        "mcp_server",
        json!({"command": "x", "args": [1]}),
        issue_path!["manifest", "mcp_server", "args", 0],
    );
    bad(
        "mcp_server",
        json!({"command": "x", "env": {"A": 1}}),
        issue_path!["manifest", "mcp_server", "env", "A"],
    );
    bad(
        "mcp_server",
        json!({"command": "x", "requires_auth": "no"}),
        issue_path!["manifest", "mcp_server", "requires_auth"],
    );
    bad(
        "mcp_server",
        json!("npx srv"),
        issue_path!["manifest", "mcp_server"],
    );
}
