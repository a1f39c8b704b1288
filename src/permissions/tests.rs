//! Unit tests of `permissions` (kept beside it so the module stays readable).

use super::*;
use serde_json::json;

fn v(s: &str) -> semver::Version {
    semver::Version::parse(s).unwrap()
}

fn s(list: &[&str]) -> Vec<String> {
    list.iter().map(|x| x.to_string()).collect()
}

fn out(list: &[&str]) -> Permissions {
    Permissions {
        outbound: s(list),
        ..Default::default()
    }
}

fn read(list: &[&str]) -> Permissions {
    Permissions {
        fs_read: s(list),
        ..Default::default()
    }
}

fn write(list: &[&str]) -> Permissions {
    Permissions {
        fs_write: s(list),
        ..Default::default()
    }
}

fn subproc() -> Permissions {
    Permissions {
        subprocess: true,
        ..Default::default()
    }
}

/// Runs the full §5 decision as the publish handler will: pick the baseline, then check.
fn allowed(published: &[(&str, Permissions)], new_version: &str, new: &Permissions) -> bool {
    let published: Vec<(semver::Version, Permissions)> = published
        .iter()
        .map(|(ver, p)| (v(ver), p.clone()))
        .collect();
    let nv = v(new_version);
    match pick_baseline(&published, &nv) {
        None => true,
        Some((bv, bp)) => check_escalation(bv, bp, &nv, new).is_empty(),
    }
}

fn none() -> Permissions {
    Permissions::default()
}

// ---- SPEC §5 table, one test per row ----

#[test]
fn escalation_row_first_version() {
    let all = Permissions {
        outbound: s(&["*"]),
        fs_read: s(&["**"]),
        fs_write: s(&["**"]),
        subprocess: true,
    };
    assert!(allowed(&[], "1.0.0", &all));
}

#[test]
fn escalation_row_patch_outbound_rejected() {
    assert!(!allowed(
        &[("1.0.0", none())],
        "1.0.1",
        &out(&["api.x.com"])
    ));
    let issues = check_escalation(&v("1.0.0"), &none(), &v("1.0.1"), &out(&["api.x.com"]));
    assert_eq!(
        issues,
        vec![Issue::new(
            issue_path!["manifest", "permissions", "network", "outbound", 0],
            "New outbound host api.x.com requires a major version bump (baseline 1.0.0)."
        )]
    );
}

#[test]
fn escalation_row_patch_fs_read_rejected() {
    assert!(!allowed(
        &[("1.0.0", none())],
        "1.0.1",
        &read(&["./data/**"])
    ));
    let issues = check_escalation(&v("1.2.0"), &none(), &v("1.2.1"), &read(&["./data/**"]));
    assert_eq!(
        issues,
        vec![Issue::new(
            issue_path!["manifest", "permissions", "filesystem", "read", 0],
            "New filesystem read path ./data/** requires a minor version bump (baseline 1.2.0)."
        )]
    );
}

#[test]
fn escalation_row_patch_subprocess_rejected() {
    assert!(!allowed(&[("1.0.0", none())], "1.0.1", &subproc()));
    let issues = check_escalation(&v("1.2.0"), &none(), &v("1.2.1"), &subproc());
    assert_eq!(
        issues,
        vec![Issue::new(
            issue_path!["manifest", "permissions", "subprocess"],
            "Enabling subprocess requires a major version bump (baseline 1.2.0)."
        )]
    );
}

#[test]
fn escalation_row_patch_outbound_removal_allowed() {
    assert!(allowed(
        &[("1.0.0", out(&["a.com", "b.com"]))],
        "1.0.1",
        &out(&["a.com"])
    ));
}

#[test]
fn escalation_row_patch_covered_wildcard_host_allowed() {
    assert!(allowed(
        &[("1.0.0", out(&["*.x.com"]))],
        "1.0.1",
        &out(&["api.x.com"])
    ));
}

#[test]
fn escalation_row_patch_covered_write_path_allowed() {
    assert!(allowed(
        &[("1.0.0", write(&["./out/**"]))],
        "1.0.1",
        &write(&["./out/reports"])
    ));
}

#[test]
fn escalation_row_minor_fs_write_allowed() {
    assert!(allowed(
        &[("1.0.0", none())],
        "1.1.0",
        &write(&["./out/**"])
    ));
}

#[test]
fn escalation_row_minor_outbound_rejected() {
    assert!(!allowed(
        &[("1.0.0", none())],
        "1.1.0",
        &out(&["api.x.com"])
    ));
}

#[test]
fn escalation_row_minor_subprocess_rejected() {
    assert!(!allowed(&[("1.0.0", none())], "1.1.0", &subproc()));
}

#[test]
fn escalation_row_major_everything_allowed() {
    let all = Permissions {
        outbound: s(&["api.x.com"]),
        fs_read: s(&["./in/**"]),
        fs_write: s(&["./out/**"]),
        subprocess: true,
    };
    assert!(allowed(&[("1.0.0", none())], "2.0.0", &all));
}

#[test]
fn escalation_row_baseline_is_highest_lower_version() {
    let published = [("1.2.0", none()), ("2.0.0", subproc())];
    assert!(!allowed(&published, "1.2.1", &subproc()));
}

#[test]
fn escalation_row_no_lower_version() {
    let all = Permissions {
        outbound: s(&["*"]),
        fs_read: s(&["**"]),
        fs_write: s(&["**"]),
        subprocess: true,
    };
    assert!(allowed(&[("2.0.0", none())], "1.5.0", &all));
}

#[test]
fn escalation_row_prerelease_to_release_is_patch() {
    assert!(!allowed(
        &[("1.0.0-rc.1", none())],
        "1.0.0",
        &out(&["api.x.com"])
    ));
}

#[test]
fn escalation_row_release_to_minor_prerelease_is_minor() {
    assert!(!allowed(
        &[("1.0.0", none())],
        "1.1.0-beta.1",
        &out(&["api.x.com"])
    ));
    // ... but a minor prerelease does allow filesystem additions.
    assert!(allowed(
        &[("1.0.0", none())],
        "1.1.0-beta.1",
        &write(&["./out/**"])
    ));
}

#[test]
fn escalation_row_major_prerelease_is_major() {
    assert!(allowed(&[("1.9.0", none())], "2.0.0-alpha.1", &subproc()));
}

#[test]
fn escalation_row_no_zero_x_rule() {
    assert!(!allowed(
        &[("0.1.0", none())],
        "0.2.0",
        &out(&["api.x.com"])
    ));
}

#[test]
fn escalation_row_subprocess_removal_allowed() {
    assert!(allowed(&[("1.0.0", subproc())], "1.0.1", &none()));
}

// ---- messages, order, baselines ----

#[test]
fn escalation_issue_order_and_indexes() {
    let base = Permissions {
        outbound: s(&["a.com"]),
        fs_read: s(&["./in/**"]),
        ..Default::default()
    };
    let new = Permissions {
        outbound: s(&["a.com", "b.com", "c.com"]),
        fs_read: s(&["./in/x", "./secret"]),
        fs_write: s(&["./out"]),
        subprocess: true,
    };
    let issues = check_escalation(&v("1.2.0"), &base, &v("1.2.1"), &new);
    let paths: Vec<_> = issues.iter().map(|i| i.path.clone()).collect();
    assert_eq!(
        paths,
        vec![
            issue_path!["manifest", "permissions", "network", "outbound", 1],
            issue_path!["manifest", "permissions", "network", "outbound", 2],
            issue_path!["manifest", "permissions", "subprocess"],
            issue_path!["manifest", "permissions", "filesystem", "read", 1],
            issue_path!["manifest", "permissions", "filesystem", "write", 0],
        ]
    );
    assert_eq!(
        issues[4].message,
        "New filesystem write path ./out requires a minor version bump (baseline 1.2.0)."
    );
    // Minor: only outbound and subprocess remain.
    let minor = check_escalation(&v("1.2.0"), &base, &v("1.3.0"), &new);
    assert_eq!(minor.len(), 3);
    assert_eq!(
        minor[2].message,
        "Enabling subprocess requires a major version bump (baseline 1.2.0)."
    );
}

#[test]
fn pick_baseline_uses_precedence_and_ignores_build() {
    let published = vec![
        (v("1.0.0"), 'a'),
        (v("1.2.0+build.5"), 'b'),
        (v("2.0.0"), 'c'),
        (v("1.2.1-rc.1"), 'd'),
    ];
    assert_eq!(
        pick_baseline(&published, &v("1.2.1")).map(|x| x.1),
        Some('d')
    );
    assert_eq!(
        pick_baseline(&published, &v("1.2.1-rc.1")).map(|x| x.1),
        Some('b')
    );
    // Same precedence as a published one (differs in build only) is not lower.
    assert_eq!(
        pick_baseline(&published, &v("1.2.0+other")).map(|x| x.1),
        Some('a')
    );
    assert_eq!(pick_baseline(&published, &v("1.0.0")), None);
    assert_eq!(pick_baseline::<char>(&[], &v("1.0.0")), None);
}

#[test]
fn bump_levels() {
    assert_eq!(bump_level(&v("1.0.0"), &v("1.0.1")), Bump::Patch);
    assert_eq!(bump_level(&v("1.0.0-rc.1"), &v("1.0.0")), Bump::Patch);
    assert_eq!(bump_level(&v("1.0.0"), &v("1.1.0-beta.1")), Bump::Minor);
    assert_eq!(bump_level(&v("0.1.0"), &v("0.2.0")), Bump::Minor);
    assert_eq!(bump_level(&v("1.9.0"), &v("2.0.0-alpha.1")), Bump::Major);
}

// ---- coverage ----

#[test]
fn host_star_covers_everything() {
    assert!(host_covered(&s(&["*"]), "anything.example"));
    assert!(host_covered(&s(&["*"]), "localhost"));
    assert!(!host_covered(&[], "a.com"));
}

#[test]
fn host_wildcard_suffix_not_apex() {
    let list = s(&["*.d.com"]);
    assert!(host_covered(&list, "x.d.com"));
    assert!(host_covered(&list, "a.b.c.d.com"));
    assert!(!host_covered(&list, "d.com"));
    assert!(!host_covered(&list, "xd.com"));
    assert!(!host_covered(&list, "*"));
    // A narrower wildcard is covered by a wider one, not the other way round.
    assert!(host_covered(&list, "*.api.d.com"));
    assert!(!host_covered(&s(&["*.api.d.com"]), "*.d.com"));
}

#[test]
fn host_normalisation() {
    assert!(host_covered(&s(&["API.X.com."]), "api.x.com"));
    assert!(host_covered(&s(&["api.x.com"]), "Api.X.Com."));
    assert!(host_covered(
        &s(&["https://api.x.com:8443/v1/path?q=1"]),
        "api.x.com"
    ));
    assert!(host_covered(
        &s(&["api.x.com"]),
        "wss://user@API.x.com:443/socket"
    ));
    assert!(host_covered(&s(&["*.x.com"]), "https://api.x.com./"));
    assert!(host_covered(&s(&["http://[::1]:8080/"]), "[::1]"));
    assert!(!host_covered(&s(&["api.x.com"]), "api.x.co"));
    assert!(!host_covered(&s(&["x.com"]), "api.x.com"));
}

#[test]
fn path_coverage() {
    let list = s(&["./out/**"]);
    assert!(path_covered(&list, "./out/reports"));
    assert!(path_covered(&list, "out/reports/a.txt"));
    assert!(path_covered(&list, "./out"));
    assert!(path_covered(&list, "out/**"));
    assert!(!path_covered(&list, "./outside"));
    assert!(!path_covered(&list, "./other/x"));
    assert!(!path_covered(&list, "**"));
    assert!(path_covered(&s(&["**"]), "/etc/passwd"));
    assert!(path_covered(&s(&["/**"]), "./anything"));
    assert!(path_covered(&s(&["./**"]), "x/y"));
    assert!(path_covered(&s(&["./data/file.txt"]), "data/file.txt"));
    assert!(!path_covered(&s(&["./data/file.txt"]), "data/file.txt.bak"));
    assert!(path_covered(&s(&["/etc/**"]), "/etc/hosts"));
    assert!(!path_covered(&s(&["/etc/**"]), "etc/hosts"));
}

#[test]
fn from_json_is_lenient() {
    assert_eq!(Permissions::from_json(None), Permissions::default());
    assert_eq!(
        Permissions::from_json(Some(&json!("x"))),
        Permissions::default()
    );
    let p = Permissions::from_json(Some(&json!({
        "network": {"outbound": ["a.com", 3, "b.com"]},
        "filesystem": {"read": ["./in"], "write": "nope"},
        "subprocess": "true"
    })));
    assert_eq!(
        p,
        Permissions {
            outbound: s(&["a.com", "b.com"]),
            fs_read: s(&["./in"]),
            fs_write: vec![],
            subprocess: false,
        }
    );
    assert!(Permissions::from_json(Some(&json!({"subprocess": true}))).subprocess);
    assert!(Permissions::from_json(Some(&json!({}))).is_empty());
}
