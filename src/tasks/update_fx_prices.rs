//! `update_fx_prices`: appends new daily FX rates (USD per unit of a currency) from the market
//! data source to the price store, spike checked (B3; the first download of a currency is a
//! backfill and is not checked). A spike is recorded in the spike log and
//! nothing is written for that currency; the other currencies are still updated. A currency
//! that failed (a spike pending until someone runs `systrade prices check-spikes`, a corrupt
//! file) is listed in `failed_currencies` and the warnings, and later nodes leave the
//! instruments priced in it alone ([`super::instruments`]); the task fails only when every
//! currency failed. Accepted/rejected spikes apply as described in
//! [`crate::domain::price_update`].

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::instruments::{finish_nested, Excluded, Failure, Subject};
use crate::app::App;
use crate::domain::metadata::{MetadataError, NewSpike, SpikeQuery, SpikeSubject};
use crate::domain::ports::{Frequency, MarketDataError, PriceStoreError};
use crate::domain::price_update::{clean_fx, fetch_from, SpikeDecisions};
use crate::domain::series::format_timestamp;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct UpdateFxPrices;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FxParams {
    /// Currencies to update (default: those of the configured instruments and of the
    /// instruments with multiple prices, without USD).
    currencies: Option<Vec<String>>,
    /// Days before the last stored rate to fetch again (default 30).
    #[serde(default = "default_lookback")]
    lookback_days: u32,
}

fn default_lookback() -> u32 {
    30
}

struct FxTask {
    p: FxParams,
}

impl TaskKind<App> for UpdateFxPrices {
    fn name(&self) -> &'static str {
        "update_fx_prices"
    }
    fn summary(&self) -> &'static str {
        "appends new FX rates from the market data source, spike checked"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let mut p: FxParams = parse_params(params)?;
        if let Some(c) = &mut p.currencies {
            let mut errs = Vec::new();
            for ccy in c.iter_mut() {
                *ccy = ccy.to_ascii_uppercase();
                if ccy.len() != 3 || !ccy.chars().all(|ch| ch.is_ascii_alphabetic()) {
                    errs.push(format!(
                        "params: `{ccy}` is not a currency code such as EUR"
                    ));
                }
            }
            if !errs.is_empty() {
                return Err(errs);
            }
        }
        Ok(Arc::new(FxTask { p }))
    }
}

/// A price store error: retried only if transient; a corrupt or missing file fails at once.
pub(crate) fn store_error(e: PriceStoreError) -> TaskError {
    if e.is_transient() {
        TaskError::retryable(format!("price store: {e}"))
    } else {
        TaskError::fatal(format!("price store: {e}{}", store_hint(&e)))
    }
}

/// How to repair a permanent price store error.
pub(crate) fn store_hint(e: &PriceStoreError) -> &'static str {
    match e {
        PriceStoreError::Corrupt { .. } => {
            "; the file is damaged: restore it from a backup or import it again (`systrade import pysystemtrade DIR`)"
        }
        _ => "",
    }
}

/// A metadata store error: retried only if transient (busy, locked); damage fails at once.
pub(crate) fn metadata_error(e: MetadataError) -> TaskError {
    if e.is_transient() {
        TaskError::retryable(e.to_string())
    } else {
        TaskError::fatal(format!("{e}{}", metadata_hint(&e)))
    }
}

/// How to repair a permanent metadata store error.
pub(crate) fn metadata_hint(e: &MetadataError) -> &'static str {
    match e {
        MetadataError::Database { detail } if detail.contains("malformed") || detail.contains("not a database") => {
            "; the database file is damaged: restore the newest backup (`systrade backup list`, then `systrade restore BACKUP --replace` with no systrade process running), or move it aside and run `systrade init`"
        }
        _ => "",
    }
}

pub(crate) fn market_error(e: MarketDataError) -> TaskError {
    if e.is_retryable() {
        TaskError::retryable(e.to_string())
    } else {
        TaskError::fatal(e.to_string())
    }
}

#[async_trait]
impl Task<App> for FxTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let store = app.price_store();
        let reference = app
            .reference_data()
            .map_err(|e| TaskError::fatal(format!("reference data: {e}")))?;
        let currencies: Vec<String> = match &self.p.currencies {
            Some(c) => c.clone(),
            None => {
                let codes = app.price_instruments().map_err(store_error)?;
                let set: BTreeSet<String> = codes
                    .iter()
                    .filter_map(|c| reference.instrument(c))
                    .map(|i| i.currency.to_ascii_uppercase())
                    .filter(|c| c != "USD")
                    .collect();
                set.into_iter().collect()
            }
        };
        let market = app.market(&reference);
        let now = app.clock.now().timestamp_micros();
        let threshold = app.config.prices.max_price_spike;
        let decided = app
            .metadata
            .spikes(&SpikeQuery {
                status: None,
                ..Default::default()
            })
            .await
            .map_err(metadata_error)?;

        let mut results = serde_json::Map::new();
        let mut spikes = Vec::new();
        let mut failures = Vec::new();
        for (n, ccy) in currencies.iter().enumerate() {
            ctx.stop
                .check(&format!("{n} of {} currencies updated", currencies.len()))?;
            let stored = match store.read_fx(ccy) {
                Ok(s) => s.unwrap_or_default(),
                Err(e) if e.is_transient() => return Err(store_error(e)),
                Err(e) => {
                    failures.push(Failure {
                        instrument: ccy.clone(),
                        message: format!("price store: {e}{}", store_hint(&e)),
                    });
                    continue;
                }
            };
            let from = fetch_from(stored.last_ts(), self.p.lookback_days);
            let fetched = match market.fx_rates(ccy, from, now) {
                Ok(f) => f,
                Err(e) if e.is_retryable() => return Err(market_error(e)),
                Err(e) => {
                    failures.push(Failure {
                        instrument: ccy.clone(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let subject = SpikeSubject::Fx {
                currency: ccy.clone(),
            };
            let decisions = SpikeDecisions::for_series(&decided, &subject, Frequency::Daily);
            let new = decisions.drop_rejected_series(&clean_fx(&fetched, now));
            let limit = decisions.threshold(&new.ts, stored.last_ts(), threshold);
            match crate::domain::merge::spike_check_merge_series(&stored, &new, limit) {
                Ok(outcome) => {
                    if outcome.new_rows > 0 {
                        store.write_fx(ccy, &outcome.merged).map_err(store_error)?;
                    }
                    tracing::info!(currency = %ccy, rows_added = outcome.new_rows, "FX prices updated");
                    results.insert(ccy.clone(), json!({ "rows_added": outcome.new_rows }));
                }
                Err(spike) => {
                    let rec = app
                        .metadata
                        .record_spike(
                            &NewSpike {
                                subject,
                                frequency: Frequency::Daily,
                                spike: spike.clone(),
                            },
                            app.clock.now(),
                        )
                        .await
                        .map_err(metadata_error)?;
                    tracing::error!(
                        currency = %ccy,
                        spike_id = rec.id,
                        "FX {ccy}: {spike}; nothing written for {ccy}: run `systrade prices check-spikes`"
                    );
                    spikes.push(json!({ "currency": ccy, "spike_id": rec.id, "spike_at": format_timestamp(spike.ts) }));
                    failures.push(Failure {
                        instrument: ccy.clone(),
                        message: format!("price spike {} at {} pending; nothing written; review it with `systrade prices check-spikes`, then rerun", rec.id, format_timestamp(spike.ts)),
                    });
                }
            }
        }
        let mut extra = serde_json::Map::new();
        extra.insert("spikes".into(), json!(spikes));
        finish_nested(
            "currencies",
            results,
            extra,
            failures,
            &Excluded::default(),
            Subject::Currencies,
            false,
        )
    }
}
