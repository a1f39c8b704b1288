//! The `components.schemas` of the OpenAPI document (SPEC §3.2): the error envelope of §2.7 and the request
//! and response bodies of §3.1–§3.21, written from the SPEC's field tables. Owns shapes only; which
//! operation uses which shape is `super::operations`.

use serde_json::{Map, Value, json};

/// A `$ref` to a schema of this module.
pub fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The skill-name rule of SPEC §1 (at most 214 characters).
pub const NAME_PATTERN: &str = r"^(@[a-z0-9-]+\/)?[a-z0-9-]+$";
/// SemVer 2.0.0 (the grammar of semver.org, as the `semver` crate parses it; SPEC §3.4).
const SEMVER_PATTERN: &str = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$";
/// `sha512-` + standard base64 of a 64-byte digest (SPEC §3.6).
const INTEGRITY_PATTERN: &str = r"^sha512-[A-Za-z0-9+/]{86}==$";

/// Every `error` code of the table in SPEC §2.7.
const ERROR_CODES: [&str; 15] = [
    "BAD_REQUEST",
    "AUTHORIZATION_PENDING",
    "INVALID_SESSION",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "VERSION_EXISTS",
    "CONFLICT",
    "POLL_TOKEN_EXPIRED",
    "PAYLOAD_TOO_LARGE",
    "VALIDATION_ERROR",
    "RATE_LIMITED",
    "INTERNAL_ERROR",
    "SERVICE_UNAVAILABLE",
];

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time",
           "description": "ISO-8601 UTC with three fractional digits and `Z` (SPEC §2.6)."})
}

fn nullable_timestamp() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

fn count() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn score() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": 10})
}

fn verdict() -> Value {
    json!({"type": "string", "enum": ["PASS", "PASS_WITH_NOTES", "FLAGGED", "FAIL"]})
}

fn scan_verdict() -> Value {
    json!({"type": "string", "enum": ["pass", "pass_with_notes", "flagged", "fail"]})
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

/// An object schema whose listed keys are all required.
fn object(props: Value) -> Value {
    let required: Vec<String> = props
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "required": required, "properties": props})
}

pub fn all() -> Map<String, Value> {
    let mut s = Map::new();
    let mut put = |name: &str, schema: Value| {
        s.insert(name.to_string(), schema);
    };

    put(
        "Error",
        json!({
            "type": "object",
            "description": "The error envelope of every JSON error under /api/ (SPEC §2.7).",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "enum": ERROR_CODES},
                "message": {"type": "string", "description": "One human sentence."},
                "issues": {"type": "array", "description": "422 only: every detected issue, in document order.",
                           "items": r("Issue")},
                "retryAfter": {"type": "integer", "minimum": 0, "description": "429 only: seconds to wait."},
                "requestId": {"type": "string", "description": "500 only: the request's X-Request-Id."}
            }
        }),
    );
    put(
        "Issue",
        json!({
            "type": "object",
            "required": ["path", "message"],
            "properties": {
                "path": {"type": "array", "items": {"type": ["string", "integer"]},
                         "description": "Object keys and array indexes; [] is the whole body."},
                "message": {"type": "string"}
            }
        }),
    );
    put(
        "Health",
        object(json!({
            "status": {"type": "string", "enum": ["ok"]},
            "version": {"type": "string"},
            "timestamp": timestamp()
        })),
    );
    put(
        "HealthUnavailable",
        object(json!({
            "status": {"type": "string", "enum": ["unavailable"]},
            "version": {"type": "string"},
            "timestamp": timestamp(),
            "error": {"type": "string", "enum": ["SERVICE_UNAVAILABLE"]},
            "message": {"type": "string"}
        })),
    );
    put(
        "SearchResult",
        object(json!({
            "name": {"type": "string"},
            "description": {"type": "string"},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "latestVersion": {"type": "string"},
            "auditScore": score(),
            "verdict": verdict(),
            "scanVerdict": scan_verdict(),
            "publisher": {"type": ["string", "null"], "description": "Username of the latest version's publisher."},
            "downloads": count(),
            "stars": count(),
            "updatedAt": timestamp()
        })),
    );
    put(
        "SearchResponse",
        object(json!({
            "results": {"type": "array", "items": r("SearchResult")},
            "page": {"type": "integer", "minimum": 1, "maximum": 10000},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            "total": count()
        })),
    );
    put("Manifest", manifest());
    put(
        "PublishRequest",
        json!({
            "type": "object",
            "required": ["manifest"],
            "description": "Other keys are ignored (SPEC §3.4).",
            "properties": {
                "manifest": r("Manifest"),
                "readme": {"type": ["string", "null"], "description": "Markdown, at most 1,048,576 bytes of UTF-8."},
                "files": {"type": "array", "maxItems": 1000,
                          "items": {"type": "string", "minLength": 1, "maxLength": 1024}}
            }
        }),
    );
    put(
        "PublishStarted",
        object(json!({
            "uploadUrl": {"type": "string", "format": "uri",
                          "description": "Capability URL for the PUT of the tarball (uploadTarball)."},
            "skillId": {"type": "string"},
            "versionId": {"type": "string"},
            "expiresIn": {"type": "integer"},
            "expiresAt": timestamp()
        })),
    );
    put(
        "UploadResult",
        object(json!({
            "ok": {"type": "boolean", "enum": [true]},
            "size": count(),
            "integrity": {"type": "string", "pattern": INTEGRITY_PATTERN}
        })),
    );
    put(
        "ConfirmRequest",
        json!({
            "type": "object",
            "required": ["versionId", "integrity"],
            "description": "Other keys are ignored (SPEC §3.6).",
            "properties": {
                "versionId": {"type": "string", "minLength": 1, "maxLength": 64},
                "integrity": {"type": "string", "pattern": INTEGRITY_PATTERN},
                "skillId": {"type": "string"},
                "fileCount": {"type": "integer", "minimum": 0, "description": "Accepted and ignored."},
                "tarballSize": {"type": "integer", "minimum": 0, "description": "Accepted and ignored."},
                "readme": {"type": ["string", "null"]}
            }
        }),
    );
    put(
        "ConfirmResult",
        object(json!({
            "success": {"type": "boolean", "enum": [true]},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "status": {"type": "string", "enum": ["published"]},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "auditScore": score(),
            "verdict": verdict(),
            "scanVerdict": scan_verdict(),
            "integrity": {"type": "string", "pattern": INTEGRITY_PATTERN},
            "publishedAt": timestamp()
        })),
    );
    put(
        "Publisher",
        object(json!({
            "name": {"type": "string", "description": "Username."},
            "displayName": {"type": "string", "description": "Display name, else the username."}
        })),
    );
    put(
        "VersionSummary",
        object(json!({
            "version": {"type": "string"},
            "publishedAt": timestamp(),
            "auditScore": score(),
            "verdict": verdict(),
            "scanVerdict": scan_verdict(),
            "auditStatus": {"type": "string", "enum": ["completed"]},
            "integrity": {"type": "string"},
            "tarballSize": count(),
            "fileCount": count()
        })),
    );
    put(
        "Permissions",
        json!({"type": "object", "description": "As declared in the manifest; {} if absent (SPEC §3.4)."}),
    );
    put(
        "Skill",
        object(json!({
            "name": {"type": "string"},
            "description": {"type": "string"},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "latestVersion": {"type": "string"},
            "publisher": r("Publisher"),
            "createdAt": timestamp(),
            "updatedAt": timestamp(),
            "repository": {"type": ["string", "null"]},
            "downloads": count(),
            "stars": count(),
            "auditScore": score(),
            "verdict": verdict(),
            "scanVerdict": scan_verdict(),
            "auditStatus": {"type": "string", "enum": ["completed"]},
            "permissions": r("Permissions"),
            "readme": {"type": "string"},
            "versions": {"type": "array", "items": r("VersionSummary"),
                         "description": "Published versions, SemVer precedence descending."}
        })),
    );
    put(
        "VersionList",
        object(json!({
            "name": {"type": "string"},
            "versions": {"type": "array", "items": r("VersionSummary")}
        })),
    );
    put(
        "VersionDetail",
        object(json!({
            "name": {"type": "string"},
            "version": {"type": "string"},
            "description": {"type": "string"},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "permissions": r("Permissions"),
            "repository": {"type": ["string", "null"]},
            "auditScore": score(),
            "verdict": verdict(),
            "scanVerdict": scan_verdict(),
            "integrity": {"type": "string"},
            "publishedAt": timestamp(),
            "downloadUrl": {"type": "string", "format": "uri",
                            "description": "Absolute; a capability URL valid 3600 s for private skills."},
            "auditStatus": {"type": "string", "enum": ["completed"]},
            "scanFindings": {"type": "array", "items": r("Finding")},
            "dependencies": {"type": "object", "additionalProperties": {"type": "string"}},
            "downloads": count(),
            "fileCount": count(),
            "tarballSize": count(),
            "publisher": r("Publisher")
        })),
    );
    put(
        "FileList",
        object(json!({
            "name": {"type": "string"},
            "version": {"type": "string"},
            "files": strings(),
            "entries": {"type": "array", "items": object(json!({"path": {"type": "string"}, "size": count()}))}
        })),
    );
    put(
        "Finding",
        object(json!({
            "stage": {"type": "string",
                      "enum": ["ingest", "structure", "static", "injection", "secrets", "supply_chain"]},
            "stageId": {"type": "string", "enum": ["stage0", "stage1", "stage2", "stage3", "stage4", "stage5"]},
            "severity": {"type": "string", "enum": ["critical", "high", "medium", "low", "info"],
                         "description": "`info` only in `notes`."},
            "rule": {"type": "string"},
            "ruleId": {"type": "string"},
            "type": {"type": "string"},
            "message": {"type": "string"},
            "description": {"type": "string"},
            "file": {"type": ["string", "null"]},
            "line": {"type": ["integer", "null"], "minimum": 1},
            "location": {"type": ["string", "null"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "evidence": {"type": ["string", "null"]}
        })),
    );
    let stage_status = json!({"type": "string", "enum": ["ok", "error", "not_run"]});
    let stages: Map<String, Value> = (0..6)
        .map(|i| (format!("stage{i}"), stage_status.clone()))
        .collect();
    put(
        "ScanReport",
        object(json!({
            "verdict": verdict(),
            "scanVerdict": scan_verdict(),
            "auditScore": score(),
            "audit_score": score(),
            "summary": object(json!({"critical": count(), "high": count(), "medium": count(), "low": count()})),
            "findings": {"type": "array", "items": r("Finding")},
            "notes": {"type": "array", "items": r("Finding")},
            "stages": object(Value::Object(stages)),
            "scan_id": {"type": "string"},
            "stage_results": {"type": "array", "minItems": 6, "maxItems": 6, "items": object(json!({
                "stage": {"type": "string"},
                "name": {"type": "string"},
                "status": {"type": "string", "enum": ["passed", "failed", "error", "not_run"]},
                "findings": {"type": "array", "items": r("Finding")},
                "duration_ms": count()
            }))},
            "duration_ms": count()
        })),
    );
    put(
        "VersionScanReport",
        json!({"allOf": [r("ScanReport"), object(json!({"scanned_at": timestamp()}))]}),
    );
    put(
        "StoredScanReport",
        json!({"allOf": [r("ScanReport"), object(json!({"scanned_at": timestamp(), "expiresAt": timestamp()}))]}),
    );
    put(
        "ScanUpload",
        json!({
            "type": "object",
            "description": "Exactly one file part, named `file` (seed) or `tarball` (CLI, MCP); other parts are ignored.",
            "oneOf": [{"required": ["file"]}, {"required": ["tarball"]}],
            "properties": {
                "file": {"type": "string", "format": "binary", "description": "The .tgz, at most 50 MiB."},
                "tarball": {"type": "string", "format": "binary", "description": "The .tgz, at most 50 MiB."},
                "manifest": {"type": "string", "description": "A JSON object as text, at most 1 MiB."}
            }
        }),
    );
    put(
        "StarState",
        object(json!({
            "starred": {"type": "boolean"},
            "stars": count(),
            "isStarred": {"type": "boolean"},
            "count": count()
        })),
    );
    put(
        "StarChange",
        object(json!({
            "starred": {"type": "boolean"},
            "stars": count(),
            "success": {"type": "boolean", "enum": [true]}
        })),
    );
    put(
        "Whoami",
        object(json!({
            "userId": {"type": "string"},
            "name": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "scopes": {"type": "array", "items": {"type": "string",
                       "enum": ["skills:read", "skills:publish", "skills:admin"]}},
            "displayName": {"type": "string"},
            "isAdmin": {"type": "boolean"},
            "tokenExpiresAt": nullable_timestamp()
        })),
    );
    put(
        "CliAuthStartRequest",
        json!({
            "type": "object",
            "description": "An empty body is treated as {}.",
            "properties": {
                "deviceName": {"type": ["string", "null"], "maxLength": 100},
                "state": {"type": ["string", "null"], "minLength": 8, "maxLength": 256}
            }
        }),
    );
    put(
        "CliAuthStarted",
        object(json!({
            "pollToken": {"type": "string"},
            "sessionCode": {"type": "string", "description": "The same value as pollToken."},
            "authUrl": {"type": "string", "format": "uri"},
            "expiresIn": {"type": "integer"},
            "expiresAt": timestamp()
        })),
    );
    put(
        "CliAuthForm",
        json!({
            "type": "object",
            "required": ["action"],
            "description": "The consent page's forms (SPEC §3.20); answered with HTML.",
            "properties": {
                "action": {"type": "string", "enum": ["signin", "approve", "deny"]},
                "token": {"type": "string", "description": "The authorisation code."},
                "csrf_token": {"type": "string"},
                "login": {"type": "string"},
                "password": {"type": "string", "format": "password"}
            }
        }),
    );
    put(
        "CliAuthDecision",
        json!({
            "type": "object",
            "required": ["action"],
            "description": "Headless approval: the request is identified by `token` (the authorisation code), \
                            else `pollToken`, else `sessionCode`.",
            "properties": {
                "token": {"type": "string"},
                "pollToken": {"type": "string"},
                "sessionCode": {"type": "string"},
                "action": {"type": "string", "enum": ["approve", "deny"]}
            }
        }),
    );
    put(
        "CliAuthDecided",
        object(json!({
            "success": {"type": "boolean", "enum": [true]},
            "status": {"type": "string", "enum": ["approved", "denied"]}
        })),
    );
    put(
        "CliAuthExchangeRequest",
        json!({
            "type": "object",
            "description": "A `sessionCode` key selects the client dialect, else `pollToken` the seed dialect \
                            (SPEC §3.21).",
            "anyOf": [{"required": ["sessionCode"]}, {"required": ["pollToken"]}],
            "properties": {
                "sessionCode": {"type": "string"},
                "pollToken": {"type": "string"},
                "state": {"type": "string"}
            }
        }),
    );
    put(
        "CliAuthPending",
        object(json!({"status": {"type": "string", "enum": ["pending"]}})),
    );
    put(
        "CliAuthExchanged",
        object(json!({
            "apiKey": {"type": "string"},
            "token": {"type": "string", "description": "The same value as apiKey."},
            "scopes": strings(),
            "user": object(json!({"name": {"type": "string"}, "email": {"type": ["string", "null"]}})),
            "expiresAt": nullable_timestamp()
        })),
    );
    put("Binary", json!({"type": "string", "format": "binary"}));
    put(
        "AnyJson",
        json!({"description": "A JSON file of the package, served as stored."}),
    );
    put(
        "Html",
        json!({"type": "string", "description": "An HTML page (SPEC §2.12 headers)."}),
    );
    put(
        "Svg",
        json!({"type": "string", "description": "A shields-style flat SVG badge (SPEC §3.17)."}),
    );
    s
}

/// The strict publish manifest of SPEC §3.4: any key not listed is a 422.
fn manifest() -> Value {
    let paths = json!({"type": "array", "maxItems": 100,
                       "items": {"type": "string", "minLength": 1, "maxLength": 1024}});
    let env = json!({"type": "object", "additionalProperties": {"type": "string"}});
    json!({
        "type": "object",
        "required": ["name", "version"],
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 214},
            "version": {"type": "string", "maxLength": 64, "pattern": SEMVER_PATTERN,
                        "description": "SemVer 2.0.0, strict (no leading `v`, no leading zeros)."},
            "description": {"type": "string", "maxLength": 500},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "permissions": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "network": {"type": "object", "additionalProperties": false, "properties": {
                        "outbound": {"type": "array", "maxItems": 100,
                                     "items": {"type": "string", "minLength": 1, "maxLength": 253}}
                    }},
                    "filesystem": {"type": "object", "additionalProperties": false, "properties": {
                        "read": paths.clone(),
                        "write": paths
                    }},
                    "subprocess": {"type": "boolean"}
                }
            },
            "repository": {"type": "string", "format": "uri", "maxLength": 2048},
            "skills": {"type": "object", "maxProperties": 200,
                       "propertyNames": {"pattern": NAME_PATTERN, "maxLength": 214},
                       "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 256}},
            "atoms": {"type": "array", "maxItems": 200, "items": {"type": "object"}},
            "includes": {"type": "array", "maxItems": 1000, "items": {"type": "string", "maxLength": 1024}},
            "audit": {"type": "object", "additionalProperties": false,
                      "properties": {"min_score": {"type": "number", "minimum": 0, "maximum": 10}}},
            "mcp_server": {"oneOf": [
                {"type": "object", "required": ["command"], "additionalProperties": false, "properties": {
                    "command": {"type": "string", "minLength": 1},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "env": env.clone(),
                    "requires_auth": {"type": "boolean"}
                }},
                {"type": "object", "required": ["remote"], "additionalProperties": false, "properties": {
                    "remote": {"type": "string", "format": "uri"},
                    "requires_auth": {"type": "boolean"},
                    "env": env
                }}
            ]},
            "publish": {"description": "Any value; ignored and not stored."}
        }
    })
}
