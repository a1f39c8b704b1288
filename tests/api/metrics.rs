//! `GET /metrics` (SPEC §3.22): admin-only unless public, the listed series with the right counts after
//! scripted traffic, route templates as labels and never a skill name.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tank_registry::archive::testutil::build_tgz;

/// The value of the sample line `series` (exact label text), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_scripted_traffic_and_need_an_admin() {
    let s = TestServer::start().await;
    let alice = s.user_with_token("alice");
    s.create_user("root", true);
    let admin = s.token("root", "skills:read,skills:publish,skills:admin");
    let non_admin_scope = s.token("root", "skills:read");

    s.publish(
        &alice,
        json!({"name": "zebra-secret-name", "version": "1.0.0", "description": "Stripes."}),
        skill_tgz("zebra-secret-name", "1.0.0"),
    )
    .await;
    // A rejected confirm: wrong integrity.
    let (_, start) = s
        .start_publish(
            &alice,
            json!({"name": "zebra-secret-name", "version": "1.0.1", "description": "Stripes."}),
        )
        .await;
    let tgz = skill_tgz("zebra-secret-name", "1.0.1");
    s.upload(start["uploadUrl"].as_str().unwrap(), tgz.clone())
        .await;
    let (st, _) = s
        .confirm(&alice, start["versionId"].as_str().unwrap(), b"other bytes")
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    for _ in 0..2 {
        assert_eq!(
            s.get("/api/v1/search?q=zebra", None).await.0,
            StatusCode::OK
        );
    }
    let resp = s
        .req(
            Method::GET,
            "/api/v1/skills/zebra-secret-name/1.0.0/tarball",
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bad = build_tgz(&[("skill.py", b"x = 1\n")]);
    let mut body = b"--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".to_vec();
    body.extend_from_slice(&bad);
    body.extend_from_slice(b"\r\n--B--\r\n");
    let r = s
        .req(Method::POST, "/api/v1/scan", None)
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Anonymous: 401 with the §2.8 challenge and a plain-text body; a token without admin rights: 403.
    let r = s.req(Method::GET, "/metrics", None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for t in [&alice, &non_admin_scope] {
        let r = s
            .req(Method::GET, "/metrics", Some(t))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    // Downloads reach the database within a second (batched flush).
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let r = s
        .req(Method::GET, "/metrics", Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let t = r.text().await.unwrap();
    assert!(!t.contains("zebra"), "no skill names in metrics:\n{t}");
    let get = |series: &str| sample(&t, series).unwrap_or_else(|| panic!("no {series} in\n{t}"));
    assert_eq!(
        get(r#"tank_http_requests_total{method="GET",route="/api/v1/search",status="200"}"#),
        2.0
    );
    assert_eq!(
        get(
            r#"tank_http_requests_total{method="POST",route="/api/v1/skills/confirm",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            r#"tank_http_requests_total{method="POST",route="/api/v1/skills/confirm",status="422"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            r#"tank_http_requests_total{method="GET",route="/api/v1/skills/{name}/{version}/tarball",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        get(r#"tank_http_requests_total{method="GET",route="/metrics",status="401"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tank_http_request_duration_seconds_count{method="GET",route="/api/v1/search"}"#),
        2.0
    );
    assert_eq!(
        get(
            r#"tank_http_request_duration_seconds_bucket{method="GET",route="/api/v1/search",le="+Inf"}"#
        ),
        2.0
    );
    assert_eq!(get("tank_skills"), 1.0);
    assert_eq!(get("tank_versions_published"), 1.0);
    assert_eq!(get("tank_downloads_total"), 1.0);
    assert_eq!(get("tank_search_index_lag"), 0.0);
    assert_eq!(get(r#"tank_publish_total{result="published"}"#), 1.0);
    assert_eq!(get(r#"tank_publish_total{result="rejected"}"#), 1.0);
    let scans: f64 = ["pass", "pass_with_notes", "flagged", "fail"]
        .iter()
        .map(|v| get(&format!("tank_scans_total{{verdict=\"{v}\"}}")))
        .sum();
    assert_eq!(scans, 2.0, "one confirm scan and one POST /scan");
    assert!(t.contains("# TYPE tank_rate_limited_total counter"));
    s.stop().await;
}

#[tokio::test]
async fn public_metrics_and_rate_limit_buckets() {
    let s = TestServer::start_with(|c| {
        c.metrics_public = true;
        c.rate_limits.enabled = true;
        c.rate_limits.anon = 1;
    })
    .await;
    s.get("/api/v1/search?q=a", None).await;
    let (st, _) = s.get("/api/v1/search?q=a", None).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    let r = s.req(Method::GET, "/metrics", None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t = r.text().await.unwrap();
    assert_eq!(
        sample(&t, r#"tank_rate_limited_total{bucket="anonymous"}"#),
        Some(1.0),
        "{t}"
    );
    s.stop().await;
}
