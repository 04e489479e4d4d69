//! Writing a validated import into the price store. Runs only after `load_all` accepted every
//! file, so a bad file never leaves a half-done import; each series is replaced atomically.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::import::ImportData;
use crate::domain::ports::{PriceStore, PriceStoreError};

/// One series to write.
enum Item<'a> {
    Multiple(
        &'a crate::domain::instrument::InstrumentCode,
        &'a crate::domain::series::MultiplePrices,
    ),
    Adjusted(
        &'a crate::domain::instrument::InstrumentCode,
        &'a crate::domain::series::AdjustedPrices,
    ),
    Calendar(
        &'a crate::domain::instrument::InstrumentCode,
        &'a crate::domain::series::RollCalendar,
    ),
    Fx(&'a str, &'a crate::domain::series::FxPrices),
}

/// Number of series files `store_all` writes.
pub fn series_count(data: &ImportData) -> usize {
    data.multiple.len() + data.adjusted.len() + data.roll_calendars.len() + data.fx.len()
}

/// Writes every series of `data` on `threads` threads, calling `progress(done, total)` after
/// each; stops at the first error (the series already written stay, each one complete).
pub fn store_all(
    data: &ImportData,
    store: &dyn PriceStore,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<usize, PriceStoreError> {
    let mut items: Vec<Item> = Vec::with_capacity(series_count(data));
    items.extend(data.multiple.iter().map(|(c, m)| Item::Multiple(c, m)));
    items.extend(data.adjusted.iter().map(|(c, a)| Item::Adjusted(c, a)));
    items.extend(
        data.roll_calendars
            .iter()
            .map(|(c, r)| Item::Calendar(c, r)),
    );
    items.extend(data.fx.iter().map(|(c, f)| Item::Fx(c.as_str(), f)));
    let total = items.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let first_error: Mutex<Option<PriceStoreError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, total.max(1)) {
            scope.spawn(|| loop {
                if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = match item {
                    Item::Multiple(c, m) => store.write_multiple(c, m),
                    Item::Adjusted(c, a) => store.write_adjusted(c, a),
                    Item::Calendar(c, r) => store.write_roll_calendar(c, r),
                    Item::Fx(c, f) => store.write_fx(c, f),
                };
                match result {
                    Ok(()) => progress(done.fetch_add(1, Ordering::Relaxed) + 1, total),
                    Err(e) => {
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    match first_error.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(total),
    }
}
