//! Prometheus metrics (SPEC §3.22): counters kept in memory since start, gauges read from SQLite at scrape
//! time. Labels are route templates, methods, statuses, verdicts and bucket kinds only: never a skill name,
//! user or path.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the request-duration histogram.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default, Clone)]
struct Histogram {
    /// Non-cumulative counts per bucket, plus one for +Inf.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    durations: Mutex<BTreeMap<(String, &'static str), Histogram>>,
    published: AtomicU64,
    rejected: AtomicU64,
    scans: Mutex<BTreeMap<&'static str, u64>>,
    rate_limited: Mutex<BTreeMap<&'static str, u64>>,
}

/// What the scrape reads from the database.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub skills: i64,
    pub versions_published: i64,
    pub downloads: i64,
    pub index_lag: i64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// One finished request.
    pub fn request(&self, method: &str, route: &'static str, status: u16, took: Duration) {
        // Extension methods would make the label set unbounded.
        const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
        let method = KNOWN
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("OTHER");
        *lock(&self.requests)
            .entry((method.to_string(), route, status))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let mut d = lock(&self.durations);
        let h = d.entry((method.to_string(), route)).or_default();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        h.counts[i] += 1;
        h.sum += secs;
        h.count += 1;
    }

    /// A confirm that published (`true`) or was rejected with 422 (`false`).
    pub fn publish(&self, published: bool) {
        let c = if published {
            &self.published
        } else {
            &self.rejected
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A finished scan (confirm or `POST /api/v1/scan`), by lower-case verdict.
    pub fn scan(&self, verdict: &'static str) {
        *lock(&self.scans).entry(verdict).or_default() += 1;
    }

    /// A 429 from the rate limiter, by bucket kind.
    pub fn rate_limited(&self, bucket: &'static str) {
        *lock(&self.rate_limited).entry(bucket).or_default() += 1;
    }

    /// The Prometheus text format 0.0.4 exposition.
    pub fn render(&self, g: &Gauges) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP tank_http_requests_total HTTP requests by method, route template and status."
        );
        let _ = writeln!(o, "# TYPE tank_http_requests_total counter");
        for ((m, r, s), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                o,
                "tank_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}",
                escape(r)
            );
        }
        let _ = writeln!(
            o,
            "# HELP tank_http_request_duration_seconds HTTP request duration."
        );
        let _ = writeln!(o, "# TYPE tank_http_request_duration_seconds histogram");
        for ((m, r), h) in lock(&self.durations).iter() {
            let labels = format!("method=\"{m}\",route=\"{}\"", escape(r));
            let mut cum = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cum += h.counts[i];
                let _ = writeln!(
                    o,
                    "tank_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {cum}"
                );
            }
            let _ = writeln!(
                o,
                "tank_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                o,
                "tank_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "tank_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let gauge = |o: &mut String, name: &str, help: &str, kind: &str, v: i64| {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} {kind}");
            let _ = writeln!(o, "{name} {v}");
        };
        gauge(
            &mut o,
            "tank_skills",
            "Skills with at least one published version.",
            "gauge",
            g.skills,
        );
        gauge(
            &mut o,
            "tank_versions_published",
            "Published versions.",
            "gauge",
            g.versions_published,
        );
        gauge(
            &mut o,
            "tank_downloads_total",
            "Tarball downloads recorded in the database.",
            "counter",
            g.downloads,
        );
        gauge(
            &mut o,
            "tank_search_index_lag",
            "Skills changed in the database but not yet in the search index.",
            "gauge",
            g.index_lag,
        );
        let _ = writeln!(
            o,
            "# HELP tank_publish_total Confirms since start by result."
        );
        let _ = writeln!(o, "# TYPE tank_publish_total counter");
        let _ = writeln!(
            o,
            "tank_publish_total{{result=\"published\"}} {}",
            self.published.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            o,
            "tank_publish_total{{result=\"rejected\"}} {}",
            self.rejected.load(Ordering::Relaxed)
        );
        let _ = writeln!(o, "# HELP tank_scans_total Scans since start by verdict.");
        let _ = writeln!(o, "# TYPE tank_scans_total counter");
        let scans = lock(&self.scans);
        for v in ["pass", "pass_with_notes", "flagged", "fail"] {
            let _ = writeln!(
                o,
                "tank_scans_total{{verdict=\"{v}\"}} {}",
                scans.get(v).copied().unwrap_or(0)
            );
        }
        drop(scans);
        let _ = writeln!(
            o,
            "# HELP tank_rate_limited_total Requests answered 429 since start by bucket."
        );
        let _ = writeln!(o, "# TYPE tank_rate_limited_total counter");
        for (b, n) in lock(&self.rate_limited).iter() {
            let _ = writeln!(o, "tank_rate_limited_total{{bucket=\"{b}\"}} {n}");
        }
        o
    }
}

/// Label values are static route templates; escaping is for the format's sake.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_add_up() {
        let m = Metrics::default();
        m.request("GET", "/api/v1/search", 200, Duration::from_millis(3));
        m.request("GET", "/api/v1/search", 200, Duration::from_millis(30));
        m.request("GET", "/api/v1/search", 404, Duration::from_secs(20));
        m.publish(true);
        m.scan("fail");
        m.rate_limited("anonymous");
        let t = m.render(&Gauges {
            skills: 2,
            versions_published: 3,
            downloads: 7,
            index_lag: 0,
        });
        assert!(t.contains(
            "tank_http_requests_total{method=\"GET\",route=\"/api/v1/search\",status=\"200\"} 2"
        ));
        assert!(t.contains("tank_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/search\",le=\"0.005\"} 1"));
        assert!(t.contains("tank_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/search\",le=\"0.05\"} 2"));
        assert!(t.contains("tank_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/search\",le=\"10\"} 2"));
        assert!(t.contains("tank_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/search\",le=\"+Inf\"} 3"));
        assert!(t.contains(
            "tank_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/search\"} 3"
        ));
        assert!(t.contains("tank_skills 2\n") && t.contains("tank_versions_published 3\n"));
        assert!(t.contains("tank_publish_total{result=\"published\"} 1"));
        assert!(t.contains("tank_scans_total{verdict=\"fail\"} 1"));
        assert!(t.contains("tank_scans_total{verdict=\"pass\"} 0"));
        assert!(t.contains("tank_rate_limited_total{bucket=\"anonymous\"} 1"));
    }
}
