//! The offline `tank-registry scan FILE` command (SPEC §9.3): read the archive (a path or stdin, ≤ 50 MiB)
//! and an optional manifest, scan, print the chosen format, and map the verdict to the exit status.

use super::report::Verdict;
use super::{ScanInput, format, scan};
use crate::cli::{ScanArgs, ScanFormat};
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// The largest archive the command reads (the upload limit, SPEC §2.5).
const MAX_ARCHIVE: u64 = 52_428_800;
/// The largest `--manifest` file (the scan endpoint's manifest part limit, §3.15).
const MAX_MANIFEST: u64 = 1024 * 1024;

/// Exit status 3: everything that is not a scan result (§9.3).
pub const EXIT_ERROR: u8 = 3;

/// Runs the command: `Ok((stdout, exit status))` for a scan result, `Err(message)` for exit 3.
pub fn run(args: &ScanArgs) -> Result<(String, u8), String> {
    let tarball = read_limited(&args.file, MAX_ARCHIVE)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let manifest = match &args.manifest {
        None => None,
        Some(p) => {
            let bytes = read_limited(p, MAX_MANIFEST)
                .map_err(|e| format!("cannot read --manifest {}: {e}", p.display()))?;
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| format!("--manifest {} is not valid JSON: {e}", p.display()))?;
            if !v.is_object() {
                return Err(format!("--manifest {} is not a JSON object", p.display()));
            }
            Some(v)
        }
    };
    let report = scan(&ScanInput {
        tarball: &tarball,
        manifest: manifest.as_ref(),
        readme: None,
        protected_names: &[],
        timeout: Duration::from_secs(args.scan_timeout_secs),
    });
    let label = if args.file == Path::new("-") {
        "-".to_string()
    } else {
        args.file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| args.file.display().to_string())
    };
    let out = match args.format {
        ScanFormat::Text => format::text(&report, &label),
        ScanFormat::Json => pretty(&report.to_json(None)),
        ScanFormat::Sarif => pretty(&format::sarif(&report, &label)),
    };
    Ok((out, exit_status(report.verdict)))
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// §9.3: 0 PASS or PASS_WITH_NOTES, 1 FLAGGED, 2 FAIL.
pub fn exit_status(v: Verdict) -> u8 {
    match v {
        Verdict::Pass | Verdict::PassWithNotes => 0,
        Verdict::Flagged => 1,
        Verdict::Fail => 2,
    }
}

/// Reads a file (or stdin for `-`) refusing more than `max` bytes.
fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let reader: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        let f = std::fs::File::open(path).map_err(|e| e.kind().to_string())?;
        if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err("it is a directory".into());
        }
        Box::new(f)
    };
    reader
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.kind().to_string())?;
    if buf.len() as u64 > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(buf)
}
