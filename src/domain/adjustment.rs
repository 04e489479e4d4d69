//! Regenerating Panama-adjusted prices from stored multiple prices, for one instrument or many
//! (in parallel), through the [`PriceStore`] port.

use std::time::Instant;

use serde::Serialize;

use super::instrument::InstrumentCode;
use super::panama::{panama_stitch, PanamaError};
use super::ports::{PriceStore, PriceStoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdjustmentError {
    #[error(transparent)]
    Store(#[from] PriceStoreError),
    #[error("`{0}` has no multiple prices in the store")]
    NoMultiplePrices(InstrumentCode),
    #[error("`{code}`: {source}")]
    Stitch {
        code: InstrumentCode,
        source: PanamaError,
    },
    #[error("`{0}`: the worker thread stopped before finishing")]
    WorkerStopped(InstrumentCode),
}

/// What regenerating one instrument did.
#[derive(Debug, Clone, Serialize)]
pub struct Regenerated {
    pub instrument: InstrumentCode,
    pub rows: usize,
    pub seconds: f64,
}

/// Re-stitches one instrument's adjusted prices from its multiple prices and writes them.
pub fn regenerate_adjusted(
    store: &dyn PriceStore,
    code: &InstrumentCode,
    forward_fill: bool,
) -> Result<Regenerated, AdjustmentError> {
    let started = Instant::now();
    let multiple = store
        .read_multiple(code)?
        .ok_or_else(|| AdjustmentError::NoMultiplePrices(code.clone()))?;
    let adjusted =
        panama_stitch(&multiple, forward_fill).map_err(|source| AdjustmentError::Stitch {
            code: code.clone(),
            source,
        })?;
    store.write_adjusted(code, &adjusted)?;
    Ok(Regenerated {
        instrument: code.clone(),
        rows: adjusted.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Regenerates several instruments on `threads` threads; one instrument's failure does not stop
/// the others. Results come back in the order of `codes`.
pub fn regenerate_many(
    store: &dyn PriceStore,
    codes: &[InstrumentCode],
    forward_fill: &(dyn Fn(&InstrumentCode) -> bool + Sync),
    threads: usize,
    on_done: &(dyn Fn(&InstrumentCode) + Sync),
) -> Vec<Result<Regenerated, AdjustmentError>> {
    let results = super::parallel::parallel_map(codes, threads, |code| {
        let r = regenerate_adjusted(store, code, forward_fill(code));
        on_done(code);
        r
    });
    results
        .into_iter()
        .zip(codes)
        .map(|(r, code)| r.unwrap_or_else(|| Err(AdjustmentError::WorkerStopped(code.clone()))))
        .collect()
}
