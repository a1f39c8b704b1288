//! Unit tests of `ingest` (kept beside it so the module stays readable).

use crate::archive::testutil::*;
use crate::scan::tests::run_scan;
use crate::scan::{ScanReport, Severity};

fn rules(r: &ScanReport) -> Vec<(&'static str, Severity)> {
    r.findings
        .iter()
        .chain(&r.notes)
        .filter(|f| f.stage_id == "stage0" && f.rule_id.starts_with("ARC"))
        .map(|f| (f.rule_id, f.severity))
        .collect()
}

fn has(r: &ScanReport, rule: &str) -> bool {
    r.findings.iter().chain(&r.notes).any(|f| f.rule_id == rule)
}

#[test]
fn arc001_traversal() {
    let mut b = TarBuilder::new();
    b.file("SKILL.md", b"x").raw_file(b"../../.bashrc", b"evil");
    let r = run_scan(&b.tgz());
    assert_eq!(rules(&r), vec![("ARC-001", Severity::Critical)]);
    let bl = r.blocking.unwrap();
    assert_eq!(bl.rule_id, "ARC-001");
    assert_eq!(
        bl.message,
        "Archive entry \"../../.bashrc\" escapes the package root (ARC-001)."
    );
    assert_eq!(r.file_count, 1, "the unsafe entry is not in the file set");
    for p in [&b"/etc/x"[..], b"C:\\x", b"\\\\srv\\share"] {
        let mut b = TarBuilder::new();
        b.raw_file(p, b"x");
        assert!(has(&run_scan(&b.tgz()), "ARC-001"), "{p:?}");
    }
    // A NUL can only travel in a pax path (the ustar name field is NUL-terminated).
    let mut b = TarBuilder::new();
    b.pax_file("x", "a/\0b", b"x");
    assert!(has(&run_scan(&b.tgz()), "ARC-001"));
}

#[test]
fn arc001_near_miss() {
    let r = run_scan(&build_tgz(&[("docs/v1..2/notes.md", b"x")]));
    assert!(!has(&r, "ARC-001"));
    assert!(r.blocking.is_none());
    assert_eq!(r.file_count, 1);
}

#[test]
fn arc002_links() {
    let mut b = TarBuilder::new();
    b.symlink("data", "/etc/passwd");
    let r = run_scan(&b.tgz());
    assert_eq!(rules(&r), vec![("ARC-002", Severity::Critical)]);
    assert_eq!(
        r.blocking.unwrap().message,
        "Archive entry \"data\" is a symbolic link to \"/etc/passwd\" (ARC-002)."
    );
    let mut b = TarBuilder::new();
    b.symlink("a/b/link", "../../../x");
    assert_eq!(
        rules(&run_scan(&b.tgz())),
        vec![("ARC-002", Severity::Critical)]
    );
    let mut b = TarBuilder::new();
    b.file("a/x.md", b"x").symlink("a/b/link", "../x.md");
    assert_eq!(
        rules(&run_scan(&b.tgz())),
        vec![("ARC-002", Severity::High)]
    );
    let mut b = TarBuilder::new();
    b.file("x.md", b"x").hardlink("y.md", "x.md");
    let r = run_scan(&b.tgz());
    assert_eq!(rules(&r), vec![("ARC-002", Severity::High)]);
    assert!(r.blocking.unwrap().message.contains("hard link"));
}

#[test]
fn arc002_near_miss_dirs_and_long_names() {
    let long = format!("{}/SKILL.md", "deep".repeat(40));
    let mut b = TarBuilder::new();
    b.dir("docs/")
        .file(&long, b"x")
        .pax_file("p", "pax/name.md", b"y");
    let r = run_scan(&b.tgz());
    assert!(rules(&r).is_empty(), "{:?}", rules(&r));
    assert!(r.blocking.is_none());
    assert_eq!(r.file_count, 2);
}

#[test]
fn arc003_special() {
    let mut b = TarBuilder::new();
    b.fifo("pipe");
    let r = run_scan(&b.tgz());
    assert_eq!(rules(&r), vec![("ARC-003", Severity::High)]);
    assert_eq!(
        r.blocking.unwrap().message,
        "Archive entry \"pipe\" is a FIFO (ARC-003)."
    );
    let mut b = TarBuilder::new();
    b.char_device("dev/tty").entry(b"vol", b'V', b"", b"");
    assert_eq!(
        rules(&run_scan(&b.tgz())),
        vec![("ARC-003", Severity::High), ("ARC-003", Severity::High)]
    );
    let r = run_scan(&build_tgz(&[("dev/null.txt", b"")]));
    assert!(rules(&r).is_empty());
}

#[test]
fn arc004_bomb() {
    let big = vec![0u8; 100 * 1024 * 1024];
    let t = build_tgz(&[("SKILL.md", b"x"), ("zeros.bin", &big)]);
    assert!(t.len() < 200 * 1024);
    let r = run_scan(&t);
    assert!(has(&r, "ARC-004"));
    let bl = r.blocking.unwrap();
    assert_eq!(bl.rule_id, "ARC-004");
    assert!(bl.message.contains("\"zeros.bin\""));
    assert_eq!(r.file_count, 1);
}

#[test]
fn arc004_near_miss_repetitive_markdown() {
    let md = "## Section\n\nThe same paragraph again and again.\n".repeat(6000);
    let t = build_tgz(&[("SKILL.md", md.as_bytes())]);
    assert!(md.len() > 250_000 && t.len() < 10_000);
    let r = run_scan(&t);
    assert!(!has(&r, "ARC-004"));
    assert!(r.blocking.is_none());
}

#[test]
fn arc004_entry_count() {
    let mut b = TarBuilder::new();
    for i in 0..10_001 {
        b.file(&format!("f{i}"), b"");
    }
    let r = run_scan(&b.tgz());
    assert_eq!(r.blocking.unwrap().rule_id, "ARC-004");
    assert_eq!(r.file_count, 10_000);
}

#[test]
fn arc005_unreadable() {
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest of a zip".to_vec();
    let good = build_tgz(&[("SKILL.md", b"hello"), ("b.txt", &[b'b'; 5000])]);
    let mut tar = TarBuilder::new();
    tar.file("a", b"x");
    let mut bad = TarBuilder::new();
    bad.file("SKILL.md", b"ok").bad_checksum_file("b", b"x");
    for (name, input) in [
        ("zip", zip),
        ("plain tar", tar.tar()),
        ("truncated", good[..good.len() - 10].to_vec()),
        ("bad checksum", bad.tgz()),
        ("empty", vec![]),
    ] {
        let r = run_scan(&input);
        assert_eq!(rules(&r)[0], ("ARC-005", Severity::Critical), "{name}");
        let bl = r.blocking.expect(name);
        assert_eq!(bl.rule_id, "ARC-005");
        assert_eq!(
            bl.message,
            "The uploaded file is not a readable .tar.gz archive."
        );
    }
    // Unreadable wins over an earlier ARC-001 for the client message.
    let mut b = TarBuilder::new();
    b.raw_file(b"../x", b"x").bad_checksum_file("b", b"x");
    let r = run_scan(&b.tgz());
    assert!(has(&r, "ARC-001"));
    assert_eq!(r.blocking.unwrap().rule_id, "ARC-005");
    // Entries read before the error are still scanned (§8.1).
    assert_eq!(run_scan(&bad.tgz()).file_count, 1);
    // Corrupt CRC: flip a byte of the gzip trailer.
    let mut crc = good.clone();
    let n = crc.len();
    crc[n - 8] ^= 0xff;
    assert!(has(&run_scan(&crc), "ARC-005"));
}

#[test]
fn arc005_near_miss_zero_padding() {
    let mut b = TarBuilder::new();
    b.file("SKILL.md", b"x");
    let mut tar = b.tar();
    tar.extend_from_slice(&[0u8; 20 * 512]);
    let r = run_scan(&gzip(&tar));
    assert!(!has(&r, "ARC-005"));
    assert!(r.blocking.is_none());
}

#[test]
fn arc006_blocked_types() {
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.resize(200, 0);
    let mut pe = b"MZ".to_vec();
    pe.resize(0x80, 0);
    pe[0x3c] = 0x40;
    pe[0x40..0x44].copy_from_slice(b"PE\0\0");
    for (p, d) in [
        ("bin/helper", &elf[..]),
        ("tool", &pe[..]),
        ("lib/x.so.1", b"text"),
        ("a.PYC", b"x"),
        ("m.wasm", b"x"),
    ] {
        let r = run_scan(&build_tgz(&[(p, d)]));
        assert_eq!(rules(&r), vec![("ARC-006", Severity::Critical)], "{p}");
        assert!(r.blocking.is_none());
    }
}

#[test]
fn arc006_near_miss() {
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
        .collect();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let mut mz = b"MZ".to_vec();
    mz.resize(0x80, 0);
    let r = run_scan(&build_tgz(&[
        ("data/sample.dat", &random),
        ("icon.png", png),
        ("notes.so.txt", b"x"),
        ("mz.bin", &mz),
    ]));
    assert!(!has(&r, "ARC-006"), "{:?}", rules(&r));
}

#[test]
fn arc007_duplicates() {
    let mut b = TarBuilder::new();
    b.file("SKILL.md", b"one").file("./SKILL.md", b"two");
    let r = run_scan(&b.tgz());
    assert_eq!(rules(&r), vec![("ARC-007", Severity::High)]);
    assert_eq!(
        r.blocking.unwrap().message,
        "Archive entry \"SKILL.md\" appears more than once (ARC-007)."
    );
    assert_eq!(r.file_count, 1);
    let mut b = TarBuilder::new();
    b.file("README.md", b"one").file("readme.md", b"two");
    let r = run_scan(&b.tgz());
    assert_eq!(rules(&r), vec![("ARC-007", Severity::High)]);
    assert!(r.blocking.unwrap().message.contains("differs only in case"));
}

#[test]
fn arc007_near_miss() {
    let mut b = TarBuilder::new();
    b.dir("a/")
        .dir("a/")
        .file("a/README.md", b"1")
        .file("b/README.md", b"2");
    let r = run_scan(&b.tgz());
    assert!(rules(&r).is_empty());
    assert!(r.blocking.is_none());
}

#[test]
fn large_files_are_kept_as_heads() {
    let big: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i % 251) as u8 | 1)
        .collect();
    let t = build_tgz(&[("bundle.js", &big)]);
    let r = run_scan(&t);
    assert_eq!(r.file_count, 1);
    assert!(r.blocking.is_none());
}
