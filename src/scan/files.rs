//! The shared file set of SPEC §8.2, produced by stage 0 and read by every later stage, plus the manifest
//! views every stage needs (effective manifest, declared permissions). Stages never re-read the archive.

use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Files over this size are not content-scanned (SPEC §8.2, STR-008).
pub const CONTENT_LIMIT: u64 = 5 * 1024 * 1024;
/// A file is binary if its first 8 KiB contain a NUL byte (SPEC §8.2).
pub const BINARY_PROBE: usize = 8 * 1024;
/// How much of a file that is too large to content-scan is kept (magic numbers for ARC-006 / ARC-008).
pub const HEAD_KEEP: usize = 64 * 1024;

/// The manifest files looked up at the package root, in order (SPEC §8.2 "Effective manifest").
pub const MANIFEST_FILES: [&str; 3] = ["tank.json", "skills.json", "SKILL.json"];

#[derive(Debug, Clone)]
pub struct ScanFile {
    /// Normalised package-relative path (§3.11).
    pub path: String,
    /// Size in bytes as stored in the archive.
    pub size: u64,
    /// The whole content when `complete`, else the first `HEAD_KEEP` bytes.
    pub bytes: Vec<u8>,
    /// False for files over `CONTENT_LIMIT`: those are not content-scanned (STR-008).
    pub complete: bool,
    /// NUL in the first 8 KiB; binary files are seen only by stage 0, stage 1 and SUP-006.
    pub binary: bool,
}

impl ScanFile {
    pub fn new(path: String, size: u64, bytes: Vec<u8>) -> ScanFile {
        let complete = size <= CONTENT_LIMIT && bytes.len() as u64 == size;
        let binary = bytes[..bytes.len().min(BINARY_PROBE)].contains(&0);
        ScanFile {
            path,
            size,
            bytes,
            complete,
            binary,
        }
    }

    /// The text of a complete, non-binary file, decoded as UTF-8 with replacement (§8.2).
    pub fn text(&self) -> Option<Cow<'_, str>> {
        (self.complete && !self.binary).then(|| String::from_utf8_lossy(&self.bytes))
    }

    /// The last path segment.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// True when the file is at the package root.
    pub fn is_root(&self) -> bool {
        !self.path.contains('/')
    }
}

/// Content unpacked from a package file by ARC-008, for stages 2–4 (not yet in this build) to re-scan at
/// the container's path with the message prefix `In packed data (<inner path>): `.
#[derive(Debug, Clone)]
pub struct PackedContent {
    pub container: String,
    pub inner_path: String,
    pub bytes: Vec<u8>,
    pub depth: u8,
}

#[derive(Debug, Clone, Default)]
pub struct FileSet {
    /// Sorted byte-wise by path, unique paths (last duplicate won).
    pub files: Vec<ScanFile>,
    pub packed: Vec<PackedContent>,
    /// Byte length of the compressed tarball.
    pub tarball_len: u64,
    /// `is_referenced` answers for every non-runtime path of `files`, built on first use (after stage 0
    /// has filled the set). Leave it at its default when building a `FileSet`.
    pub ref_index: RefIndex,
    /// Syntax trees shared between stage 2 and stage 3 (`syntax::TreeCache`). Leave it at its default.
    pub trees: super::syntax::TreeCache,
}

/// See `FileSet::ref_index`. Asking each non-runtime path separately read every runtime code file once
/// per path and per stage (issue #4: quadratic in the file count); the index reads each text once.
#[derive(Debug, Clone, Default)]
pub struct RefIndex(OnceLock<HashMap<String, bool>>);

/// Root files whose text references a path (§8.2 "unless it is referenced").
const REF_ROOTS: [&str; 5] = [
    "SKILL.md",
    "tank.json",
    "skills.json",
    "SKILL.json",
    "package.json",
];
/// Code files whose text references a path when they are runtime files.
const REF_CODE: [&str; 14] = [
    ".py", ".pyw", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts", ".sh", ".bash",
    ".zsh", ".ps1",
];

/// What references `path`: the path, the path without its extension, and its dotted module path.
fn ref_needles(path: &str) -> [String; 3] {
    let no_ext = match path.rfind('.') {
        Some(i) if i > path.rfind('/').map_or(0, |j| j + 1) => &path[..i],
        _ => path,
    };
    [
        path.to_string(),
        no_ext.to_string(),
        no_ext.replace('/', "."),
    ]
}

impl FileSet {
    pub fn get(&self, path: &str) -> Option<&ScanFile> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// A root file whose name equals `name` ignoring ASCII case; an exact match is preferred.
    pub fn root_ci(&self, name: &str) -> Option<&ScanFile> {
        self.get(name).or_else(|| {
            self.files
                .iter()
                .find(|f| f.is_root() && f.path.eq_ignore_ascii_case(name))
        })
    }

    /// Root `tank.json`, `skills.json`, `SKILL.json` parsed, in that order (None for a missing file or
    /// one that is not a JSON object).
    pub fn root_manifests(&self) -> Vec<(&'static str, Option<Value>)> {
        MANIFEST_FILES
            .iter()
            .filter_map(|name| {
                let f = self.get(name)?;
                let v = serde_json::from_slice::<Value>(&f.bytes)
                    .ok()
                    .filter(|v| f.complete && v.is_object());
                Some((*name, v))
            })
            .collect()
    }

    /// SPEC §8.2: the request manifest if given, else the first root manifest file that parses as an object.
    pub fn effective_manifest<'a>(&self, request: Option<&'a Value>) -> Option<Cow<'a, Value>> {
        if let Some(m) = request {
            return Some(Cow::Borrowed(m));
        }
        self.root_manifests()
            .into_iter()
            .find_map(|(_, v)| v)
            .map(Cow::Owned)
    }

    /// SPEC §8.2 declared permissions: the `permissions` value of the first of (request manifest, root
    /// `tank.json`, `skills.json`, `SKILL.json`) that has a `permissions` key, with the name of its source
    /// (`None` for the request manifest).
    pub fn declared_permissions(
        &self,
        request: Option<&Value>,
    ) -> Option<(Option<&'static str>, Value)> {
        if let Some(p) = request.and_then(|m| m.get("permissions")) {
            return Some((None, p.clone()));
        }
        self.root_manifests()
            .into_iter()
            .find_map(|(name, v)| v?.get("permissions").map(|p| (Some(name), p.clone())))
    }

    /// The root `SKILL.md` (case-insensitive name).
    pub fn skill_md(&self) -> Option<&ScanFile> {
        self.root_ci("SKILL.md")
    }
}

/// Directory or file names that make a path non-runtime (SPEC §8.2 "Non-runtime files").
const NON_RUNTIME_NAMES: [&str; 18] = [
    "test",
    "tests",
    "__tests__",
    "spec",
    "specs",
    "fixture",
    "fixtures",
    "example",
    "examples",
    "sample",
    "samples",
    "demo",
    "demos",
    "doc",
    "docs",
    "site",
    "website",
    "testdata",
];

/// §8.2: a path with a non-runtime directory component or file name, or named `test_*.py`, `*_test.*`,
/// `*.test.*`, `*.spec.*`. (`testdata` is an addition, chosen: Go's fixture directory.) Whether the file
/// is *referenced* (which makes it runtime again) is `FileSet::is_referenced`.
pub fn is_non_runtime_path(path: &str) -> bool {
    let segs: Vec<&str> = path.split('/').collect();
    let name = segs.last().copied().unwrap_or("");
    let stem = name.split('.').next().unwrap_or(name);
    segs.iter()
        .any(|s| NON_RUNTIME_NAMES.contains(&s.to_ascii_lowercase().as_str()))
        || NON_RUNTIME_NAMES.contains(&stem.to_ascii_lowercase().as_str())
        || (name.starts_with("test_") && name.ends_with(".py"))
        || stem.ends_with("_test")
        || name.contains(".test.")
        || name.contains(".spec.")
}

impl FileSet {
    /// §8.2 "unless it is referenced": the path (with or without extension, or as a Python dotted module)
    /// occurs in the root `SKILL.md`, a root manifest (`tank.json`, `skills.json`, `SKILL.json`,
    /// `package.json`) or a runtime code file. Not yet covered: Markdown files linked from `SKILL.md` and
    /// command strings of agent configuration / IDE files (stage 2/3 work; they parse those files).
    pub fn is_referenced(&self, path: &str) -> bool {
        let index = self.ref_index.0.get_or_init(|| self.build_ref_index());
        match index.get(path) {
            Some(r) => *r,
            None => self.is_referenced_scan(path),
        }
    }

    /// `is_referenced` for one path by reading the texts (paths outside the index).
    fn is_referenced_scan(&self, path: &str) -> bool {
        let needles = ref_needles(path);
        let hit = |t: &str| needles.iter().any(|n| t.contains(n.as_str()));
        for r in REF_ROOTS {
            if let Some(t) = self.root_ci(r).and_then(|f| f.text())
                && hit(&t)
            {
                return true;
            }
        }
        self.files.iter().any(|f| {
            f.path != path
                && REF_CODE.iter().any(|e| f.path.ends_with(e))
                && !is_non_runtime_path(&f.path)
                && f.text().is_some_and(|t| hit(&t))
        })
    }

    /// The answers for every non-runtime path of the set: one multi-literal search per text. Empty
    /// (every path asked separately) when the search cannot be built.
    fn build_ref_index(&self) -> HashMap<String, bool> {
        let paths: Vec<&str> = self
            .files
            .iter()
            .map(|f| f.path.as_str())
            .filter(|p| is_non_runtime_path(p))
            .collect();
        if paths.is_empty() {
            return HashMap::new();
        }
        // Pattern i belongs to paths[i / 3].
        let patterns: Vec<String> = paths
            .iter()
            .flat_map(|p| ref_needles(p))
            .map(|n| regex::escape(&n))
            .collect();
        let Ok(set) = regex::RegexSetBuilder::new(&patterns)
            .size_limit(64 << 20)
            .build()
        else {
            return HashMap::new();
        };
        let mut hit = vec![false; paths.len()];
        let mut mark = |text: &str, except: Option<&str>| {
            for i in set.matches(text).iter() {
                if except != Some(paths[i / 3]) {
                    hit[i / 3] = true;
                }
            }
        };
        for r in REF_ROOTS {
            if let Some(t) = self.root_ci(r).and_then(|f| f.text()) {
                mark(&t, None);
            }
        }
        for f in &self.files {
            if REF_CODE.iter().any(|e| f.path.ends_with(e))
                && !is_non_runtime_path(&f.path)
                && let Some(t) = f.text()
            {
                mark(&t, Some(&f.path));
            }
        }
        paths.iter().map(|p| p.to_string()).zip(hit).collect()
    }
}
