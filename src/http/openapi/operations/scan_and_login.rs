//! The operations of scan, badge, whoami and the CLI login (SPEC §3.15–§3.21) in the OpenAPI document's table.

use super::{Auth, Op, json_body, media, name_param, ok_json, ok_json_error, path_param, query, r};
use serde_json::json;

/// Scan, badge, whoami and the CLI login (SPEC §3.15–§3.21).
pub(super) fn operations() -> Vec<Op> {
    vec![
        Op {
            method: "post",
            path: "/scan",
            id: "scanTarball",
            summary: "Scan a tarball",
            description: "SPEC §3.15. Auth optional; anonymous callers are also limited by the scan bucket. \
                          The report is stored for 7 days (getScan). A JSON body is answered 422 (URL scans \
                          are not supported).",
            auth: Auth::Optional,
            params: vec![],
            body: Some(
                json!({"required": true, "content": {"multipart/form-data": {
                    "schema": r("ScanUpload"),
                    "encoding": {"file": {"contentType": "application/gzip, application/octet-stream"},
                                 "tarball": {"contentType": "application/gzip, application/octet-stream"},
                                 "manifest": {"contentType": "application/json, text/plain"}}
                }}}),
            ),
            responses: vec![ok_json(200, "The scan report.", "ScanReport")],
        },
        Op {
            method: "get",
            path: "/scans/{scanId}",
            id: "getScan",
            summary: "A stored scan report",
            description: "SPEC §3.16. Auth optional. A report created with a token is served only to that \
                          token's user; an anonymous one to anyone holding its id.",
            auth: Auth::Optional,
            params: vec![path_param(
                "scanId",
                json!({"type": "string"}),
                "The `scan_id` of a scanTarball report.",
                "scan_3XK9T2M7QW4ZR8B1VN6HD0JCPE",
            )],
            body: None,
            responses: vec![ok_json(200, "The stored report.", "StoredScanReport")],
        },
        Op {
            method: "get",
            path: "/badge/{name}",
            id: "getBadge",
            summary: "Audit-score badge",
            description: "SPEC §3.17. Auth ignored (private skills look absent); not rate limited. \
                          `Cache-Control: public, max-age=300` and an `ETag`.",
            auth: Auth::Ignored,
            params: vec![name_param()],
            body: None,
            responses: vec![
                media(
                    200,
                    "The badge with the latest version's audit score.",
                    &[("image/svg+xml", "Svg")],
                ),
                media(
                    404,
                    "A `not found` badge (unknown, unpublished or private).",
                    &[("image/svg+xml", "Svg")],
                ),
            ],
        },
        Op {
            method: "get",
            path: "/auth/whoami",
            id: "whoami",
            summary: "The token's user",
            description: "SPEC §3.18. Bearer only, with `skills:read`.",
            auth: Auth::Bearer,
            params: vec![],
            body: None,
            responses: vec![ok_json(200, "The caller.", "Whoami")],
        },
        Op {
            method: "post",
            path: "/cli-auth/start",
            id: "cliAuthStart",
            summary: "Start a CLI login",
            description: "SPEC §3.19. Auth ignored; counted in the anonymous bucket. An empty body is {}.",
            auth: Auth::Ignored,
            params: vec![],
            body: Some(json_body("CliAuthStartRequest", false)),
            responses: vec![ok_json(
                200,
                "The login request, pending for 300 s.",
                "CliAuthStarted",
            )],
        },
        Op {
            method: "get",
            path: "/cli-auth/authorize",
            id: "cliAuthAuthorizePage",
            summary: "CLI login consent page (HTML)",
            description: "SPEC §3.20. An HTML page, never a redirect; not rate limited. Without a session: the \
                          sign-in form; with one: the consent page.",
            auth: Auth::Session,
            params: vec![query(
                "token",
                true,
                json!({"type": "string"}),
                "The authorisation code from `authUrl`.",
            )],
            body: None,
            responses: vec![
                media(
                    200,
                    "The sign-in form or the consent page.",
                    &[("text/html", "Html")],
                ),
                media(404, "Unknown sign-in link.", &[("text/html", "Html")]),
                media(410, "Expired or already decided.", &[("text/html", "Html")]),
                media(
                    500,
                    "Unexpected failure.",
                    &[("text/html", "Html"), ("application/json", "Error")],
                ),
            ],
        },
        Op {
            method: "post",
            path: "/cli-auth/authorize",
            id: "cliAuthAuthorize",
            summary: "Sign in, approve or deny a CLI login",
            description: "SPEC §3.20. Form posts (`action=signin|approve|deny`, double-submit or session CSRF) \
                          answer HTML pages; a JSON body (Bearer with `skills:publish`) approves or denies \
                          headlessly and answers JSON. Any other `Content-Type` → 400. Not rate limited.",
            auth: Auth::Consent,
            params: vec![],
            body: Some(json!({"required": true, "content": {
                "application/x-www-form-urlencoded": {"schema": r("CliAuthForm")},
                "application/json": {"schema": r("CliAuthDecision")}
            }})),
            responses: {
                let both = [("text/html", "Html"), ("application/json", "Error")];
                vec![
                    media(
                        200,
                        "Form: the consent or result page. JSON: the decision.",
                        &[
                            ("text/html", "Html"),
                            ("application/json", "CliAuthDecided"),
                        ],
                    ),
                    media(
                        400,
                        "Form: an unknown action. Otherwise: unsupported Content-Type or malformed JSON.",
                        &both,
                    ),
                    media(
                        401,
                        "Form: wrong credentials. JSON: missing or invalid Bearer.",
                        &both,
                    ),
                    media(403, "CSRF failure, no session, or a missing scope.", &both),
                    media(404, "Unknown or expired login request.", &both),
                    ok_json_error(409, "JSON: the request was already decided."),
                    media(
                        410,
                        "Form: expired or already decided.",
                        &[("text/html", "Html")],
                    ),
                    media(413, "The body is too large.", &both),
                    ok_json_error(422, "JSON: missing or invalid token or action."),
                    media(
                        429,
                        "Form: too many failed sign-ins.",
                        &[("text/html", "Html")],
                    ),
                    media(500, "Unexpected failure.", &both),
                ]
            },
        },
        Op {
            method: "post",
            path: "/cli-auth/exchange",
            id: "cliAuthExchange",
            summary: "Exchange an approved CLI login for a token",
            description: "SPEC §3.21. Auth ignored; not rate limited. `{sessionCode, state}` is the client \
                          dialect, `{pollToken[, state]}` the seed dialect; neither → 422. Single use.",
            auth: Auth::Ignored,
            params: vec![],
            body: Some(json_body("CliAuthExchangeRequest", true)),
            responses: vec![
                ok_json(
                    200,
                    "Approved: the new API token (shown once).",
                    "CliAuthExchanged",
                ),
                ok_json(202, "Seed dialect: not yet decided.", "CliAuthPending"),
                ok_json_error(
                    400,
                    "Malformed JSON (BAD_REQUEST); client dialect: AUTHORIZATION_PENDING or INVALID_SESSION.",
                ),
                ok_json_error(
                    410,
                    "Seed dialect: unknown, expired or consumed poll token (POLL_TOKEN_EXPIRED).",
                ),
            ],
        },
    ]
}
