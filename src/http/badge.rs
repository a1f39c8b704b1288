//! `GET /api/v1/badge/{name}` (SPEC §3.17): a shields-style "flat" SVG with the latest version's audit score.
//! Credentials are never examined, so a private skill always looks absent; not rate limited.

use crate::app::AppState;
use crate::error::AppError;
use crate::http::extract::decode_path_segment;
use crate::store::Viewer;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The value colour by score (§3.17).
fn colour(score: i64) -> &'static str {
    match score {
        9.. => "#4c1",
        7..=8 => "#a4a61d",
        5..=6 => "#dfb317",
        3..=4 => "#fe7d37",
        _ => "#e05d44",
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Width of a text segment: `6.5·len + 10`, rounded to one decimal (§3.17).
fn width(text: &str) -> f64 {
    ((6.5 * text.chars().count() as f64 + 10.0) * 10.0).round() / 10.0
}

/// The SVG of §3.17 for a label, value and colour.
pub fn svg(label: &str, value: &str, fill: &str) -> String {
    let (l, v) = (width(label), width(value));
    let w = ((l + v) * 10.0).round() / 10.0;
    let title = escape(&format!("{label}: {value}"));
    let (label, value) = (escape(label), escape(value));
    let (lx, vx) = (l / 2.0, l + v / 2.0);
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{title}">"#,
            r#"<title>{title}</title>"#,
            r##"<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>"##,
            r##"<clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath>"##,
            r##"<g clip-path="url(#r)"><rect width="{l}" height="20" fill="#555"/><rect x="{l}" width="{v}" height="20" fill="{fill}"/><rect width="{w}" height="20" fill="url(#s)"/></g>"##,
            r##"<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">"##,
            r##"<text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{label}</text><text x="{lx}" y="14">{label}</text>"##,
            r##"<text x="{vx}" y="15" fill="#010101" fill-opacity=".3">{value}</text><text x="{vx}" y="14">{value}</text>"##,
            r#"</g></svg>"#
        ),
        w = w,
        l = l,
        v = v,
        lx = lx,
        vx = vx,
        title = title,
        label = label,
        value = value,
        fill = fill,
    )
}

fn respond(status: StatusCode, body: String) -> Response {
    let etag = format!(
        "\"{}\"",
        &hex::encode(Sha256::digest(body.as_bytes()))[..32]
    );
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

pub async fn badge(State(app): State<AppState>, uri: Uri) -> Result<Response, AppError> {
    // The raw path, decoded once per segment here (SPEC §2.3): axum's `Path` would decode it first, so
    // `%2540acme%252Fx` became `@acme/x`, and invalid UTF-8 got a plain-text 400.
    let raw = uri
        .path()
        .strip_prefix("/api/v1/badge/")
        .unwrap_or_default();
    let not_found = || {
        respond(
            StatusCode::NOT_FOUND,
            svg("tank audit", "not found", "#9f9f9f"),
        )
    };
    // `@org/name` arrives as two segments or with an encoded slash; anything undecodable is absent.
    let name = match raw
        .split('/')
        .map(decode_path_segment)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(parts) => parts.join("/"),
        Err(_) => return Ok(not_found()),
    };
    let store = app.store.clone();
    let score = tokio::task::spawn_blocking(move || -> crate::store::Result<Option<i64>> {
        let Some(skill) = store.visible_skill(&name, &Viewer::anonymous())? else {
            return Ok(None);
        };
        Ok(store
            .version_by_id(&skill.latest_version_id)?
            .map(|v| v.audit_score))
    })
    .await??;
    Ok(match score {
        Some(s) => respond(
            StatusCode::OK,
            svg("tank audit", &format!("{s}/10"), colour(s)),
        ),
        None => not_found(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_colours_and_escaping() {
        let s = svg("tank audit", "9/10", colour(9));
        // L = 6.5·10 + 10 = 75, V = 6.5·4 + 10 = 36, W = 111.
        assert!(s.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="111" height="20" role="img" aria-label="tank audit: 9/10">"#), "{s}");
        assert!(s.contains(r##"<rect x="75" width="36" height="20" fill="#4c1"/>"##));
        assert!(s.contains(r#"<text x="37.5" y="14">tank audit</text>"#));
        assert!(s.contains(r#"<text x="93" y="14">9/10</text>"#));
        assert!(s.contains(r#"rx="3""#));
        assert_eq!(
            [10, 8, 7, 6, 5, 4, 3, 2, 0].map(colour),
            [
                "#4c1", "#a4a61d", "#a4a61d", "#dfb317", "#dfb317", "#fe7d37", "#fe7d37",
                "#e05d44", "#e05d44"
            ]
        );
        assert!(svg("a<b", "\"x\"&'", "#9f9f9f").contains("a&lt;b: &quot;x&quot;&amp;&#39;"));
    }
}
