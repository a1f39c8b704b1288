//! The operation table of the OpenAPI document (SPEC §3.2): method, path, `operationId`, parameters, request
//! body, success and error responses of every operation of §3.1 and §3.3–§3.21. Shapes live in `schemas`.

mod scan_and_login;

use super::schemas::{self, r};
use serde_json::{Map, Value, json};

/// Who may call an operation (SPEC §2.8), as OpenAPI `security`.
#[derive(Clone, Copy)]
pub(super) enum Auth {
    /// Credentials are never examined.
    Ignored,
    /// Anonymous or Bearer; an invalid token is a 401.
    Optional,
    /// Bearer required.
    Bearer,
    /// Bearer or the web session cookie (stars).
    BearerOrSession,
    /// The consent page: a session cookie, else the sign-in form.
    Session,
    /// The consent POST: forms (session or none) or JSON (Bearer).
    Consent,
}

impl Auth {
    pub(super) fn security(self) -> Value {
        match self {
            Auth::Ignored => json!([]),
            Auth::Optional => json!([{}, {"bearerAuth": []}]),
            Auth::Bearer => json!([{"bearerAuth": []}]),
            Auth::BearerOrSession => json!([{"bearerAuth": []}, {"sessionCookie": []}]),
            Auth::Session => json!([{}, {"sessionCookie": []}]),
            Auth::Consent => json!([{}, {"bearerAuth": []}, {"sessionCookie": []}]),
        }
    }
}

/// One documented operation.
pub(super) struct Op {
    pub(super) method: &'static str,
    /// Relative to the server URL `<public URL>/api/v1`.
    pub(super) path: &'static str,
    pub(super) id: &'static str,
    pub(super) summary: &'static str,
    pub(super) description: &'static str,
    pub(super) auth: Auth,
    pub(super) params: Vec<Value>,
    pub(super) body: Option<Value>,
    /// Status → response object, success first.
    pub(super) responses: Vec<(u16, Value)>,
}

fn path_param(name: &str, schema: Value, description: &str, example: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": schema,
           "description": description, "example": example})
}

fn query(name: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

fn name_param() -> Value {
    path_param(
        "name",
        json!({"type": "string", "pattern": schemas::NAME_PATTERN, "maxLength": 214}),
        "Skill name. Send a scoped name as one segment with the `/` encoded (`%40acme%2Fhello-world`); the \
         two-segment form `@acme/hello-world` is also accepted. An invalid name is a 404 (SPEC §2.3).",
        "@acme/hello-world",
    )
}

fn version_param() -> Value {
    path_param(
        "version",
        json!({"type": "string"}),
        "A SemVer 2.0.0 version; without build metadata it matches a published version with any (SPEC §2.3). \
         Unparsable → 404.",
        "1.0.0",
    )
}

/// A success response with one JSON body.
fn ok_json(status: u16, description: &str, schema: &str) -> (u16, Value) {
    (
        status,
        json!({"description": description, "content": {"application/json": {"schema": r(schema)}}}),
    )
}

/// A response with several media types, each `(media type, schema name)`.
fn media(status: u16, description: &str, types: &[(&str, &str)]) -> (u16, Value) {
    let content: Map<String, Value> = types
        .iter()
        .map(|(m, s)| (m.to_string(), json!({"schema": r(s)})))
        .collect();
    (
        status,
        json!({"description": description, "content": content}),
    )
}

/// The JSON error envelope responses (shared in `components.responses`).
pub(super) fn errors(codes: &[u16]) -> Vec<(u16, Value)> {
    codes
        .iter()
        .map(|c| (*c, json!({"$ref": format!("#/components/responses/E{c}")})))
        .collect()
}

fn json_body(schema: &str, required: bool) -> Value {
    json!({"required": required, "content": {"application/json": {"schema": r(schema)}}})
}

/// The table: every operation of SPEC §3.1 and §3.3–§3.21, with the §3.2 `operationId`s.
pub(super) fn operations() -> Vec<Op> {
    let mut ops = vec![
        Op {
            method: "get",
            path: "/health",
            id: "health",
            summary: "Health check",
            description: "SPEC §3.1. Auth ignored; not rate limited. Also served at `/api/health`.",
            auth: Auth::Ignored,
            params: vec![],
            body: None,
            responses: vec![
                ok_json(200, "The database answers.", "Health"),
                ok_json(503, "The database is unreachable.", "HealthUnavailable"),
            ],
        },
        Op {
            method: "get",
            path: "/search",
            id: "search",
            summary: "Search skills",
            description: "SPEC §3.3, §7. Auth optional (it only changes visibility).",
            auth: Auth::Optional,
            params: vec![
                query(
                    "q",
                    false,
                    json!({"type": "string", "maxLength": 256, "default": ""}),
                    "Trimmed; empty lists everything accessible; over 256 characters → 422.",
                ),
                query(
                    "page",
                    false,
                    json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}),
                    "Unparsable → 1; clamped to 1..10000.",
                ),
                query(
                    "limit",
                    false,
                    json!({"type": "integer", "minimum": 1, "maximum": 50, "default": 20}),
                    "Unparsable → 20; clamped to 1..50.",
                ),
            ],
            body: None,
            responses: vec![ok_json(200, "One page of results.", "SearchResponse")],
        },
        Op {
            method: "post",
            path: "/skills",
            id: "publishSkill",
            summary: "Start a publish",
            description: "SPEC §3.4. Bearer with `skills:publish`. Creates a pending version and returns the \
                          capability URL for the tarball upload. Body limit 8 MiB.",
            auth: Auth::Bearer,
            params: vec![],
            body: Some(json_body("PublishRequest", true)),
            responses: vec![ok_json(
                201,
                "A pending version was created.",
                "PublishStarted",
            )],
        },
        Op {
            method: "put",
            path: "/uploads/{versionId}",
            id: "uploadTarball",
            summary: "Upload the tarball of a pending version",
            description: "SPEC §3.5. Capability URL only: `Authorization` and cookies are ignored; not rate \
                          limited. Body: the raw .tgz, at most 52,428,800 bytes; `Content-Type` absent or one \
                          of the documented types.",
            auth: Auth::Ignored,
            params: vec![
                path_param(
                    "versionId",
                    json!({"type": "string"}),
                    "From publishSkill.",
                    "ver_01JNV3Q8X4K2M7ZC5R9T0WYB6E",
                ),
                query(
                    "expires",
                    true,
                    json!({"type": "integer"}),
                    "Unix seconds, from `uploadUrl`.",
                ),
                query(
                    "signature",
                    true,
                    json!({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
                    "Lowercase hex HMAC-SHA256, from `uploadUrl`.",
                ),
            ],
            body: Some(json!({"required": true, "content": {
                "application/gzip": {"schema": r("Binary")},
                "application/x-gzip": {"schema": r("Binary")},
                "application/octet-stream": {"schema": r("Binary")}
            }})),
            responses: vec![ok_json(
                200,
                "The tarball is stored; the version is uploaded.",
                "UploadResult",
            )],
        },
        Op {
            method: "post",
            path: "/skills/confirm",
            id: "confirmPublish",
            summary: "Confirm a publish",
            description: "SPEC §3.6. Bearer with `skills:publish`. Verifies the uploaded bytes, scans them and \
                          publishes the version; the scan verdict never blocks publication. Body limit 8 MiB. \
                          Other methods on this path address the skill named `confirm`.",
            auth: Auth::Bearer,
            params: vec![],
            body: Some(json_body("ConfirmRequest", true)),
            responses: vec![ok_json(200, "The version is published.", "ConfirmResult")],
        },
        Op {
            method: "get",
            path: "/skills/{name}",
            id: "getSkill",
            summary: "Skill metadata",
            description: "SPEC §3.7. Auth optional. Missing or invisible → 404.",
            auth: Auth::Optional,
            params: vec![name_param()],
            body: None,
            responses: vec![ok_json(200, "The skill.", "Skill")],
        },
        Op {
            method: "get",
            path: "/skills/{name}/versions",
            id: "listVersions",
            summary: "Published versions of a skill",
            description: "SPEC §3.8. Auth optional.",
            auth: Auth::Optional,
            params: vec![name_param()],
            body: None,
            responses: vec![ok_json(
                200,
                "Published versions, SemVer precedence descending.",
                "VersionList",
            )],
        },
        Op {
            method: "get",
            path: "/skills/{name}/{version}",
            id: "getVersion",
            summary: "Version detail",
            description: "SPEC §3.9. Auth optional. Does not count a download.",
            auth: Auth::Optional,
            params: vec![name_param(), version_param()],
            body: None,
            responses: vec![ok_json(200, "The version.", "VersionDetail")],
        },
        Op {
            method: "get",
            path: "/skills/{name}/{version}/tarball",
            id: "downloadTarball",
            summary: "Download the tarball",
            description: "SPEC §3.10. A valid capability (`uid`, `expires`, `signature` from a private \
                          `downloadUrl`) or optional Bearer; a bad capability is judged as absent. Not rate \
                          limited. HEAD is accepted and does not count a download.",
            auth: Auth::Optional,
            params: vec![
                name_param(),
                version_param(),
                query(
                    "uid",
                    false,
                    json!({"type": "string"}),
                    "Capability: the user id.",
                ),
                query(
                    "expires",
                    false,
                    json!({"type": "integer"}),
                    "Capability: Unix seconds.",
                ),
                query(
                    "signature",
                    false,
                    json!({"type": "string"}),
                    "Capability: lowercase hex HMAC.",
                ),
            ],
            body: None,
            responses: vec![media(
                200,
                "The exact stored bytes.",
                &[("application/gzip", "Binary")],
            )],
        },
        Op {
            method: "get",
            path: "/skills/{name}/{version}/files",
            id: "listFiles",
            summary: "Files of a version",
            description: "SPEC §3.11. Auth optional.",
            auth: Auth::Optional,
            params: vec![name_param(), version_param()],
            body: None,
            responses: vec![ok_json(
                200,
                "Regular files, byte-wise path order.",
                "FileList",
            )],
        },
        Op {
            method: "get",
            path: "/skills/{name}/{version}/files/{path}",
            id: "getFile",
            summary: "Content of one file",
            description: "SPEC §3.12. Auth optional. The raw bytes, `Content-Type` by extension; anything that \
                          could be active content is text/plain. HEAD is accepted.",
            auth: Auth::Optional,
            params: vec![
                name_param(),
                version_param(),
                path_param(
                    "path",
                    json!({"type": "string"}),
                    "The file path as in listFiles; its `/` may be sent raw or encoded. A `.` or `..` \
                     segment, NUL or `\\` → 400.",
                    "SKILL.md",
                ),
            ],
            body: None,
            responses: vec![media(
                200,
                "The file's bytes.",
                &[
                    ("text/markdown", "Binary"),
                    ("text/plain", "Binary"),
                    ("application/json", "AnyJson"),
                    ("image/png", "Binary"),
                    ("image/jpeg", "Binary"),
                    ("image/gif", "Binary"),
                    ("image/webp", "Binary"),
                    ("application/pdf", "Binary"),
                ],
            )],
        },
        Op {
            method: "get",
            path: "/skills/{name}/{version}/scan",
            id: "getVersionScan",
            summary: "Stored scan report of a version",
            description: "SPEC §3.13. Auth optional.",
            auth: Auth::Optional,
            params: vec![name_param(), version_param()],
            body: None,
            responses: vec![ok_json(
                200,
                "The scan report of the version.",
                "VersionScanReport",
            )],
        },
    ];
    for (method, id, summary, schema) in [
        (
            "get",
            "getStar",
            "Whether the caller starred a skill",
            "StarState",
        ),
        (
            "post",
            "starSkill",
            "Star a skill (idempotent)",
            "StarChange",
        ),
        (
            "delete",
            "unstarSkill",
            "Unstar a skill (idempotent)",
            "StarChange",
        ),
    ] {
        let mut params = vec![name_param()];
        if method != "get" {
            params.push(json!({"name": "X-CSRF-Token", "in": "header", "required": false,
                "schema": {"type": "string"},
                "description": "Required with a session cookie: the page's `csrf-token` meta value."}));
        }
        ops.push(Op {
            method,
            path: "/skills/{name}/star",
            id,
            summary,
            description: "SPEC §3.14. Bearer with `skills:read`, or a session cookie. No credentials → 401, \
                          checked before the skill lookup.",
            auth: Auth::BearerOrSession,
            params,
            body: None,
            responses: vec![ok_json(200, "The star state after the operation.", schema)],
        });
    }
    ops.extend(scan_and_login::operations());
    ops
}

fn ok_json_error(status: u16, description: &str) -> (u16, Value) {
    media(status, description, &[("application/json", "Error")])
}

/// The error statuses each operation can give besides those in its table row (SPEC §2.7, §3.x "Errors").
pub(super) fn error_codes(id: &str) -> &'static [u16] {
    match id {
        "health" => &[],
        "search" => &[400, 401, 422, 429, 500],
        "publishSkill" => &[400, 401, 403, 409, 413, 422, 429, 500],
        "uploadTarball" => &[400, 403, 404, 409, 413, 422, 500],
        "confirmPublish" => &[400, 401, 403, 404, 409, 413, 422, 429, 500, 503],
        "getSkill" | "listVersions" | "getVersion" | "listFiles" | "getFile" | "getVersionScan" => {
            &[400, 401, 404, 429, 500]
        }
        "downloadTarball" => &[400, 401, 404, 500],
        "getStar" | "starSkill" | "unstarSkill" => &[400, 401, 403, 404, 429, 500],
        "scanTarball" => &[400, 401, 413, 422, 429, 500, 503],
        "getScan" => &[400, 401, 404, 429, 500],
        "getBadge" => &[500],
        "whoami" => &[401, 403, 429, 500],
        "cliAuthStart" => &[400, 413, 422, 429, 500],
        "cliAuthExchange" => &[403, 413, 422, 500],
        _ => &[],
    }
}
