//! Rate-limit buckets (SPEC §2.9): fixed windows of 3600 s per client IP, token, session user and anonymous
//! scanner IP, kept in memory behind [`Limiter`]. Pure bookkeeping: it knows nothing of HTTP, routes or
//! exemptions — `http::limit` decides *what* is counted and turns the answers into headers and 429s.
//!
//! Time is passed in (`now: Instant`) so that unit tests can step over window boundaries without waiting;
//! the server passes `Instant::now()`. Unix times for `X-RateLimit-Reset` come from one wall-clock anchor taken
//! when the limiter is built, so a wall-clock step never stretches or shrinks a window.

use crate::config::RateLimits;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// 3600 s: every bucket is a fixed window of one hour from its first counted request (SPEC §2.9).
pub const WINDOW: Duration = Duration::from_secs(3600);
/// At most this many IP buckets (anonymous and anonymous-scan together) are kept (SPEC §2.9).
pub const MAX_IP_BUCKETS: usize = 100_000;

/// Who a request is counted for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BucketKey {
    /// Anonymous requests and requests answered 401, per client IP (SPEC §2.1).
    Ip(IpAddr),
    /// The extra bucket of anonymous `POST /api/v1/scan`, per client IP.
    ScanIp(IpAddr),
    /// A Bearer token, by token id.
    Token(String),
    /// A web session, by user id.
    User(String),
}

impl BucketKey {
    fn is_ip(&self) -> bool {
        matches!(self, BucketKey::Ip(_) | BucketKey::ScanIp(_))
    }
}

/// The identity a counted request is charged to, as resolved by authentication.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous(IpAddr),
    Token { id: String, pro: bool },
    Session { user_id: String, pro: bool },
}

/// A bucket's state after a decision: what the `X-RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    /// After this request, ≥ 0.
    pub remaining: u32,
    /// Unix seconds when the window ends (rounded up, so waiting until then is always enough).
    pub reset: u64,
    /// Whole seconds until the window ends, at least 1: the `Retry-After` of a 429.
    pub retry_after: u64,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Counted; the quota describes the bucket the headers report.
    Allowed(Quota),
    /// Over the limit: nothing was counted; the quota is the full bucket (remaining 0).
    Limited(Quota),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: Instant,
    count: u32,
}

#[derive(Default)]
struct Buckets {
    map: HashMap<BucketKey, Bucket>,
    /// IP buckets ordered by window start, for eviction of the oldest (SPEC §2.9).
    ip_order: BTreeSet<(Instant, IpOrd)>,
}

/// A total order over IP bucket keys, so that equal window starts still give distinct index entries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct IpOrd(bool, IpAddr);

impl IpOrd {
    fn of(key: &BucketKey) -> Option<IpOrd> {
        match key {
            BucketKey::Ip(ip) => Some(IpOrd(false, *ip)),
            BucketKey::ScanIp(ip) => Some(IpOrd(true, *ip)),
            _ => None,
        }
    }

    fn key(&self) -> BucketKey {
        if self.0 {
            BucketKey::ScanIp(self.1)
        } else {
            BucketKey::Ip(self.1)
        }
    }
}

/// The in-memory buckets of one server process (state resets on restart, SPEC §2.9). One mutex: every
/// critical section is a few map operations.
pub struct Limiter {
    limits: RateLimits,
    window: Duration,
    max_ip_buckets: usize,
    anchor: (Instant, SystemTime),
    state: Mutex<Buckets>,
}

impl Limiter {
    pub fn new(limits: &RateLimits) -> Limiter {
        Limiter::with_window(limits, WINDOW, MAX_IP_BUCKETS)
    }

    /// A limiter with another window or IP-bucket cap (unit tests).
    pub fn with_window(limits: &RateLimits, window: Duration, max_ip_buckets: usize) -> Limiter {
        Limiter {
            limits: limits.clone(),
            window,
            max_ip_buckets,
            anchor: (Instant::now(), SystemTime::now()),
            state: Mutex::new(Buckets::default()),
        }
    }

    /// `--rate-limit off`: nothing is counted and no headers are sent.
    pub fn enabled(&self) -> bool {
        self.limits.enabled
    }

    fn bucket_of(&self, caller: &Caller) -> (BucketKey, u32) {
        match caller {
            Caller::Anonymous(ip) => (BucketKey::Ip(*ip), self.limits.anon),
            Caller::Token { id, pro } => (
                BucketKey::Token(id.clone()),
                if *pro {
                    self.limits.pro
                } else {
                    self.limits.auth
                },
            ),
            Caller::Session { user_id, pro } => (
                BucketKey::User(user_id.clone()),
                if *pro {
                    self.limits.pro
                } else {
                    self.limits.auth
                },
            ),
        }
    }

    /// Counts one request in the caller's bucket, or refuses it without counting. With `scan`, an anonymous
    /// caller is also charged to the anonymous-scan bucket: both must have room, both are counted, and the
    /// headers describe the scan bucket (or, on refusal, the bucket that refused). `None` when disabled.
    pub fn admit(&self, caller: &Caller, scan: bool, now: Instant) -> Option<Decision> {
        if !self.enabled() {
            return None;
        }
        let (key, limit) = self.bucket_of(caller);
        let mut charges = vec![(key, limit)];
        if let (true, Caller::Anonymous(ip)) = (scan, caller) {
            charges.push((BucketKey::ScanIp(*ip), self.limits.scan_anon));
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for (key, limit) in &charges {
            let b = self.current(&mut st, key, now);
            if let Some(b) = b
                && b.count >= *limit
            {
                return Some(Decision::Limited(self.quota(b, *limit, now)));
            }
        }
        let mut last = None;
        for (key, limit) in charges {
            last = Some(self.charge(&mut st, key, limit, now));
        }
        last.map(Decision::Allowed)
    }

    /// Counts a request answered 401 in the IP bucket (SPEC §2.9). Authentication is checked before the rate
    /// limit (SPEC §2.7), so the 401 stands even when the bucket is full; the count then stays at the limit.
    pub fn count_unauthorized(&self, ip: IpAddr, now: Instant) -> Option<Quota> {
        if !self.enabled() {
            return None;
        }
        let limit = self.limits.anon;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let key = BucketKey::Ip(ip);
        if let Some(b) = self.current(&mut st, &key, now)
            && b.count >= limit
        {
            return Some(self.quota(b, limit, now));
        }
        Some(self.charge(&mut st, key, limit, now))
    }

    /// Discards every bucket whose window has ended (called by the server's sweeper).
    pub fn sweep(&self, now: Instant) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let window = self.window;
        let ended: Vec<BucketKey> = st
            .map
            .iter()
            .filter(|(_, b)| now >= b.start + window)
            .map(|(k, _)| k.clone())
            .collect();
        for k in ended {
            Self::remove(&mut st, &k);
        }
    }

    /// Number of buckets held (tests and metrics).
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bucket's live window, discarding one that has ended (a request at or after `start + window`
    /// opens a new window, SPEC §2.9).
    fn current(&self, st: &mut Buckets, key: &BucketKey, now: Instant) -> Option<Bucket> {
        let b = *st.map.get(key)?;
        if now >= b.start + self.window {
            Self::remove(st, key);
            return None;
        }
        Some(b)
    }

    fn remove(st: &mut Buckets, key: &BucketKey) {
        if let Some(b) = st.map.remove(key)
            && let Some(o) = IpOrd::of(key)
        {
            st.ip_order.remove(&(b.start, o));
        }
    }

    /// Adds one to a bucket that has room (opening it if needed) and returns the new quota.
    fn charge(&self, st: &mut Buckets, key: BucketKey, limit: u32, now: Instant) -> Quota {
        if let Some(b) = st.map.get_mut(&key) {
            b.count += 1;
            let b = *b;
            return self.quota(b, limit, now);
        }
        if key.is_ip() {
            while st.ip_order.len() >= self.max_ip_buckets {
                // Beyond the cap, the bucket with the oldest window start goes (SPEC §2.9).
                let Some(oldest) = st.ip_order.pop_first() else {
                    break;
                };
                st.map.remove(&oldest.1.key());
            }
            if let Some(o) = IpOrd::of(&key) {
                st.ip_order.insert((now, o));
            }
        }
        let b = Bucket {
            start: now,
            count: 1,
        };
        st.map.insert(key, b);
        self.quota(b, limit, now)
    }

    fn quota(&self, b: Bucket, limit: u32, now: Instant) -> Quota {
        let end = b.start + self.window;
        let left = end.saturating_duration_since(now);
        let end_unix = self.anchor.1 + end.saturating_duration_since(self.anchor.0)
            - self.anchor.0.saturating_duration_since(end);
        let end_unix = end_unix
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Quota {
            limit,
            remaining: limit.saturating_sub(b.count),
            reset: ceil_secs(end_unix),
            retry_after: ceil_secs(left).max(1),
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(anon: u32, auth: u32, pro: u32, scan: u32) -> RateLimits {
        RateLimits {
            enabled: true,
            anon,
            auth,
            pro,
            scan_anon: scan,
        }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn allowed(d: Option<Decision>) -> Quota {
        match d {
            Some(Decision::Allowed(q)) => q,
            other => panic!("expected Allowed, got {other:?}"),
        }
    }

    fn limited(d: Option<Decision>) -> Quota {
        match d {
            Some(Decision::Limited(q)) => q,
            other => panic!("expected Limited, got {other:?}"),
        }
    }

    #[test]
    fn counts_down_then_refuses_without_counting() {
        let l = Limiter::new(&limits(3, 10, 100, 1));
        let t0 = Instant::now();
        let c = Caller::Anonymous(ip(1));
        assert_eq!(allowed(l.admit(&c, false, t0)).remaining, 2);
        assert_eq!(allowed(l.admit(&c, false, t0)).remaining, 1);
        let q = allowed(l.admit(&c, false, t0));
        assert_eq!((q.limit, q.remaining), (3, 0));
        let r = limited(l.admit(&c, false, t0 + Duration::from_millis(1500)));
        assert_eq!(r.remaining, 0);
        assert_eq!(r.reset, q.reset, "a refusal does not move the window");
        // 3600 − 1.5 s left → ceil = 3599.
        assert_eq!(r.retry_after, 3599);
        // Refusals are not counted: another IP and a token are separate buckets.
        assert_eq!(
            allowed(l.admit(&Caller::Anonymous(ip(2)), false, t0)).remaining,
            2
        );
    }

    #[test]
    fn window_rolls_over_at_start_plus_window() {
        let l = Limiter::new(&limits(2, 10, 100, 1));
        let t0 = Instant::now();
        let c = Caller::Anonymous(ip(1));
        let first = allowed(l.admit(&c, false, t0));
        allowed(l.admit(&c, false, t0 + Duration::from_secs(10)));
        let before_end = t0 + WINDOW - Duration::from_millis(1);
        let r = limited(l.admit(&c, false, before_end));
        assert_eq!(r.retry_after, 1, "at least one second");
        // At exactly start + 3600 s a new window opens, starting then.
        let q = allowed(l.admit(&c, false, t0 + WINDOW));
        assert_eq!(q.remaining, 1);
        assert_eq!(q.reset, first.reset + 3600);
    }

    #[test]
    fn reset_is_the_unix_end_of_the_window() {
        let l = Limiter::new(&limits(2, 10, 100, 1));
        let now = Instant::now();
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let q = allowed(l.admit(&Caller::Anonymous(ip(1)), false, now));
        assert!(
            (unix_now + 3599..=unix_now + 3601).contains(&q.reset),
            "{}",
            q.reset
        );
        assert_eq!(q.retry_after, 3600);
    }

    #[test]
    fn tiers_and_keys() {
        let l = Limiter::new(&limits(1, 2, 3, 1));
        let t = Instant::now();
        let tok = |id: &str, pro| Caller::Token { id: id.into(), pro };
        assert_eq!(allowed(l.admit(&tok("tok_a", false), false, t)).limit, 2);
        assert_eq!(
            allowed(l.admit(&tok("tok_b", false), false, t)).remaining,
            1
        );
        assert_eq!(allowed(l.admit(&tok("tok_p", true), false, t)).limit, 3);
        let s = Caller::Session {
            user_id: "usr_a".into(),
            pro: false,
        };
        assert_eq!(allowed(l.admit(&s, false, t)).remaining, 1);
        // A token and its user's session do not share a bucket.
        assert_eq!(
            allowed(l.admit(&tok("tok_a", false), false, t)).remaining,
            0
        );
        limited(l.admit(&tok("tok_a", false), false, t));
        assert_eq!(allowed(l.admit(&s, false, t)).remaining, 0);
    }

    #[test]
    fn anonymous_scans_use_both_buckets() {
        let l = Limiter::new(&limits(3, 10, 100, 1));
        let t = Instant::now();
        let c = Caller::Anonymous(ip(1));
        let q = allowed(l.admit(&c, true, t));
        assert_eq!(
            (q.limit, q.remaining),
            (1, 0),
            "headers describe the scan bucket"
        );
        let r = limited(l.admit(&c, true, t));
        assert_eq!(r.limit, 1);
        // The refused scan was not counted in the anonymous bucket either.
        assert_eq!(allowed(l.admit(&c, false, t)).remaining, 1);
        // A token's scan only uses its own bucket.
        let tok = Caller::Token {
            id: "tok_a".into(),
            pro: false,
        };
        assert_eq!(allowed(l.admit(&tok, true, t)).limit, 10);
    }

    #[test]
    fn unauthorized_counts_in_the_ip_bucket_and_saturates() {
        let l = Limiter::new(&limits(2, 10, 100, 1));
        let t = Instant::now();
        assert_eq!(l.count_unauthorized(ip(1), t).unwrap().remaining, 1);
        assert_eq!(l.count_unauthorized(ip(1), t).unwrap().remaining, 0);
        assert_eq!(l.count_unauthorized(ip(1), t).unwrap().remaining, 0);
        limited(l.admit(&Caller::Anonymous(ip(1)), false, t));
    }

    #[test]
    fn evicts_the_oldest_window_start_beyond_the_cap() {
        let l = Limiter::with_window(&limits(5, 10, 100, 1), WINDOW, 3);
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        allowed(l.admit(&Caller::Anonymous(ip(1)), false, at(0)));
        allowed(l.admit(&Caller::Anonymous(ip(2)), false, at(1)));
        allowed(l.admit(&Caller::Anonymous(ip(3)), false, at(2)));
        // Counting again in ip 1 does not move its window start.
        allowed(l.admit(&Caller::Anonymous(ip(1)), false, at(3)));
        // Token buckets are not IP buckets: no eviction for them.
        let tok = Caller::Token {
            id: "tok_a".into(),
            pro: false,
        };
        allowed(l.admit(&tok, false, at(3)));
        assert_eq!(l.len(), 4);
        // A fourth IP evicts ip 1 (oldest start), which then starts afresh.
        allowed(l.admit(&Caller::Anonymous(ip(4)), false, at(4)));
        assert_eq!(l.len(), 4);
        assert_eq!(
            allowed(l.admit(&Caller::Anonymous(ip(1)), false, at(5))).remaining,
            4,
            "ip 1 was evicted"
        );
        // ... which evicted ip 2; ip 3 kept its count.
        assert_eq!(
            allowed(l.admit(&Caller::Anonymous(ip(3)), false, at(6))).remaining,
            3
        );
        assert_eq!(l.len(), 4);
    }

    #[test]
    fn sweep_discards_ended_windows() {
        let l = Limiter::with_window(&limits(5, 10, 100, 1), Duration::from_secs(10), 10);
        let t0 = Instant::now();
        allowed(l.admit(&Caller::Anonymous(ip(1)), false, t0));
        allowed(l.admit(
            &Caller::Anonymous(ip(2)),
            false,
            t0 + Duration::from_secs(5),
        ));
        l.sweep(t0 + Duration::from_secs(10));
        assert_eq!(l.len(), 1);
        l.sweep(t0 + Duration::from_secs(15));
        assert!(l.is_empty());
        // The order index was cleaned too: the cap counts live buckets only.
        allowed(l.admit(
            &Caller::Anonymous(ip(3)),
            false,
            t0 + Duration::from_secs(16),
        ));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn disabled_counts_nothing() {
        let mut lim = limits(1, 1, 1, 1);
        lim.enabled = false;
        let l = Limiter::new(&lim);
        assert!(
            l.admit(&Caller::Anonymous(ip(1)), true, Instant::now())
                .is_none()
        );
        assert!(l.count_unauthorized(ip(1), Instant::now()).is_none());
        assert!(l.is_empty());
    }
}
