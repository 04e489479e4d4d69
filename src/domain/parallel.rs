//! Running one function over many items on a few scoped threads, results in the items' order:
//! what the per-instrument work (regenerating adjusted prices, backtesting) shares.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `f` over `items` on `threads` scoped threads (at least one, at most one per item); each
/// thread takes the next item until none is left. `None` marks an item whose result was lost
/// because its thread panicked.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<Option<R>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().ok().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_in_order_on_any_thread_count() {
        let items: Vec<u32> = (0..50).collect();
        for threads in [0, 1, 3, 100] {
            let out = parallel_map(&items, threads, |x| x * 2);
            assert_eq!(out, items.iter().map(|x| Some(x * 2)).collect::<Vec<_>>());
        }
        assert!(parallel_map(&[] as &[u32], 2, |x| *x).is_empty());
    }
}
