//! An order-keeping parallel map on scoped threads (issue #4): stage 2 spreads its files over the cores
//! while stage 3 runs beside it (§8.1 lets stages and their work run in parallel).

use std::sync::atomic::{AtomicUsize, Ordering};

/// At most this many threads for one stage's items: a server runs several scans at once (§8.1 workers),
/// so one scan does not take every core of a large machine.
const MAX_WORKERS: usize = 4;

/// Threads a stage may use for its items: the cores this process may use, capped.
pub fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WORKERS)
}

/// `items.iter().map(f).collect()`, computed by up to `workers` threads (the calling one included) that
/// each take the next untaken item, so one long item does not hold the others up. The result is in
/// item order whatever the threads' timing. A panic in `f` is raised again in the caller once every
/// thread has stopped; a thread that cannot be started leaves its share to the others.
pub fn map<T: Sync, R: Send>(items: &[T], workers: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let n = workers.clamp(1, items.len().max(1));
    if n == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let run = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            out.push((i, f(item)));
        }
        out
    };
    let mut all: Vec<(usize, R)> = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..n)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("scan-worker".into())
                    .spawn_scoped(s, run)
                    .ok()
            })
            .collect();
        let mut all = run();
        for h in helpers {
            match h.join() {
                Ok(part) => all.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_unstable_by_key(|&(i, _)| i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_item_order_with_uneven_work() {
        // Uneven work, so threads finish items out of order.
        let work = |&x: &u64| {
            let spin = if x % 7 == 0 { 20_000 } else { 10 };
            (0..spin).fold(x, |a, k| a.wrapping_mul(31).wrapping_add(k))
        };
        let items: Vec<u64> = (0..200).collect();
        let want: Vec<u64> = items.iter().map(work).collect();
        assert_eq!(map(&items, 4, work), want);
        assert!(map(&[] as &[u8], 4, |&x| x).is_empty());
        assert_eq!(map(&[3u8], 4, |&x| x + 1), vec![4]);
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..50).collect();
        let r = std::panic::catch_unwind(|| {
            map(&items, 2, |&x| {
                assert!(x != 33, "item 33");
                x
            })
        });
        assert!(r.is_err());
    }
}
