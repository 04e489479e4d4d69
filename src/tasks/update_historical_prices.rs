//! `update_historical_prices` (B4): for every sampled contract of each instrument, fetches daily
//! and hourly bars from the market data source (from `lookback_days` before the last stored bar,
//! or from the beginning), cleans them ([`crate::domain::price_update::CleaningRules`]),
//! spike-merges them into the stored bars (B3; the first download of a series is a backfill and
//! is not checked), writes what is new, then rebuilds the merged
//! series (daily wins over hourly). A spike is recorded in the spike log and nothing is written
//! for that contract and frequency; the rest is still updated. An instrument with a pending
//! spike (unless `fail_on_spike = false`: then a warning only) or a failure (a corrupt file, no
//! data) is listed as failed and left alone by later nodes ([`super::instruments`]); the task
//! fails only when every instrument failed. Accepted spikes go
//! through on the next run, rejected bars are dropped before merging (see
//! [`crate::domain::price_update`]). Instruments without sampled contracts are skipped:
//! `update_sampled_contracts` runs first.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::instruments::{finish_nested, Excluded, Failure, Subject};
use super::update_fx_prices::{market_error, metadata_error, store_error};
use crate::app::App;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::merge::{merge_daily_and_hourly, spike_check_merge, SpikeFound};
use crate::domain::metadata::{NewSpike, SpikeQuery, SpikeRecord, SpikeSubject};
use crate::domain::ports::{Frequency, MarketDataError, MarketDataSource, PriceStore};
use crate::domain::price_update::{clean_bars, fetch_from, CleaningRules, SpikeDecisions};
use crate::domain::series::{format_timestamp, Micros};
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct UpdateHistoricalPrices;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistParams {
    /// Instruments (default: config `prices.instruments` and those with multiple prices).
    instruments: Option<Vec<String>>,
    /// Days before the last stored bar to fetch again (default 10).
    #[serde(default = "default_lookback")]
    lookback_days: u32,
    /// Fail the task when a spike is pending (default true).
    #[serde(default = "default_true")]
    fail_on_spike: bool,
}

fn default_lookback() -> u32 {
    10
}

fn default_true() -> bool {
    true
}

struct HistTask {
    instruments: Option<Vec<InstrumentCode>>,
    lookback_days: u32,
    fail_on_spike: bool,
}

impl TaskKind<App> for UpdateHistoricalPrices {
    fn name(&self) -> &'static str {
        "update_historical_prices"
    }
    fn summary(&self) -> &'static str {
        "appends new daily and hourly bars of sampled contracts, spike checked, and rebuilds merged bars"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: HistParams = parse_params(params)?;
        let instruments = match p.instruments {
            None => None,
            Some(list) => {
                let mut codes = Vec::new();
                let mut errs = Vec::new();
                for s in &list {
                    match InstrumentCode::new(s) {
                        Ok(c) => codes.push(c),
                        Err(e) => errs.push(format!("params: instruments: {e}")),
                    }
                }
                if !errs.is_empty() {
                    return Err(errs);
                }
                Some(codes)
            }
        };
        Ok(Arc::new(HistTask {
            instruments,
            lookback_days: p.lookback_days,
            fail_on_spike: p.fail_on_spike,
        }))
    }
}

/// What happened to one contract and frequency.
enum SeriesOutcome {
    Added(usize),
    Spike(SpikeFound),
    Failed(String),
}

/// The synchronous part for one instrument: fetch, clean, merge, write.
struct InstrumentJob {
    store: Arc<dyn PriceStore>,
    market: Arc<dyn MarketDataSource>,
    code: InstrumentCode,
    contracts: Vec<ContractId>,
    decided: Arc<Vec<SpikeRecord>>,
    now: Micros,
    lookback_days: u32,
    threshold: f64,
}

type JobResult = Vec<(ContractId, Frequency, SeriesOutcome)>;

impl InstrumentJob {
    fn run(&self) -> Result<JobResult, TaskError> {
        let mut out = Vec::new();
        for &contract in &self.contracts {
            let mut changed = false;
            let mut latest = None;
            for frequency in [Frequency::Daily, Frequency::Hourly] {
                let (outcome, last) = self.update_series(contract, frequency)?;
                changed |= matches!(outcome, SeriesOutcome::Added(n) if n > 0);
                latest = latest.max(last);
                out.push((contract, frequency, outcome));
            }
            // The merged bars are rebuilt when new bars came, and also when they are missing or
            // end before the bars they are made of: a run killed between writing a contract's
            // bars and its merged bars leaves them so, and its re-run finds no new bars.
            let merged_last = self
                .store
                .read_contract(&self.code, contract, Frequency::Merged)
                .map_err(store_error)?
                .map(|m| m.last_ts());
            let merged_behind = match merged_last {
                None => true,
                Some(last) => last < latest,
            };
            if changed || merged_behind {
                let read = |f| {
                    self.store
                        .read_contract(&self.code, contract, f)
                        .map_err(store_error)
                };
                let daily = read(Frequency::Daily)?.unwrap_or_default();
                let hourly = read(Frequency::Hourly)?.unwrap_or_default();
                if !daily.is_empty() || !hourly.is_empty() {
                    let merged = merge_daily_and_hourly(&daily, &hourly);
                    self.store
                        .write_contract(&self.code, contract, Frequency::Merged, &merged)
                        .map_err(store_error)?;
                }
            }
        }
        Ok(out)
    }

    fn update_series(
        &self,
        contract: ContractId,
        frequency: Frequency,
    ) -> Result<(SeriesOutcome, Option<Micros>), TaskError> {
        let stored = self
            .store
            .read_contract(&self.code, contract, frequency)
            .map_err(store_error)?
            .unwrap_or_default();
        let from = fetch_from(stored.last_ts(), self.lookback_days);
        let fetched = match self
            .market
            .contract_bars(&self.code, contract, frequency, from, self.now)
        {
            Ok(b) => b,
            Err(e @ MarketDataError::Unavailable(_)) => return Err(market_error(e)),
            Err(e) => return Ok((SeriesOutcome::Failed(e.to_string()), stored.last_ts())),
        };
        let subject = SpikeSubject::Contract {
            instrument: self.code.clone(),
            contract,
        };
        let decisions = SpikeDecisions::for_series(&self.decided, &subject, frequency);
        let cleaned = clean_bars(&fetched, self.now, CleaningRules::defaults(frequency));
        let new = decisions.drop_rejected_bars(&cleaned);
        let limit = decisions.threshold(&new.ts, stored.last_ts(), self.threshold);
        match spike_check_merge(&stored, &new, limit) {
            Ok(outcome) => {
                if outcome.new_rows > 0 {
                    self.store
                        .write_contract(&self.code, contract, frequency, &outcome.merged)
                        .map_err(store_error)?;
                    return Ok((
                        SeriesOutcome::Added(outcome.new_rows),
                        outcome.merged.last_ts(),
                    ));
                }
                Ok((SeriesOutcome::Added(0), stored.last_ts()))
            }
            Err(spike) => Ok((SeriesOutcome::Spike(spike), stored.last_ts())),
        }
    }
}

/// How many instruments are updated at once with the simulated market.
const PARALLEL_SIM: usize = 4;

type JobHandle = tokio::task::JoinHandle<Result<JobResult, TaskError>>;

/// What the instruments finished so far add up to.
#[derive(Default)]
struct Absorbed {
    report: serde_json::Map<String, Value>,
    spikes: Vec<String>,
    failures: Vec<Failure>,
    warnings: Vec<String>,
}

impl HistTask {
    /// Takes one instrument's finished job into `done`: its series' outcomes, spikes recorded
    /// (and alerted), failures listed. Only a retry-able error or a store failure is an error.
    async fn absorb(
        &self,
        app: &App,
        done: &mut Absorbed,
        code: InstrumentCode,
        joined: Result<Result<JobResult, TaskError>, tokio::task::JoinError>,
    ) -> Result<(), TaskError> {
        let results = match joined {
            Ok(Ok(r)) => r,
            Ok(Err(e)) if e.retryable => return Err(e),
            Ok(Err(e)) => {
                done.failures.push(Failure {
                    instrument: code.to_string(),
                    message: e.message,
                });
                return Ok(());
            }
            Err(e) => {
                done.failures.push(Failure {
                    instrument: code.to_string(),
                    message: format!("price update panicked: {e}"),
                });
                return Ok(());
            }
        };
        let mut per_contract = serde_json::Map::new();
        let mut problems = Vec::new();
        let mut pending = Vec::new();
        for (contract, frequency, outcome) in results {
            let entry = per_contract
                .entry(contract.to_string())
                .or_insert_with(|| json!({}));
            let value = match outcome {
                SeriesOutcome::Added(n) => json!({ "rows_added": n }),
                SeriesOutcome::Failed(e) => {
                    problems.push(format!("{contract} {}: {e}", frequency.as_str()));
                    json!({ "error": e })
                }
                SeriesOutcome::Spike(spike) => {
                    let subject = SpikeSubject::Contract {
                        instrument: code.clone(),
                        contract,
                    };
                    let rec = app
                        .metadata
                        .record_spike(
                            &NewSpike {
                                subject,
                                frequency,
                                spike: spike.clone(),
                            },
                            app.clock.now(),
                        )
                        .await
                        .map_err(metadata_error)?;
                    // Raised as a critical alert (app::AlertLogLayer).
                    tracing::error!(
                        target: "systrade::alert",
                        severity = "critical",
                        kind = "price_spike",
                        instrument = %code,
                        contract = %contract,
                        spike_id = rec.id,
                        "{code} {contract} {}: {spike}; nothing written: run `systrade prices check-spikes`",
                        frequency.as_str()
                    );
                    pending.push(format!(
                        "{contract} {} (spike {})",
                        frequency.as_str(),
                        rec.id
                    ));
                    done.spikes.push(format!(
                        "{code} {contract} {} (spike {})",
                        frequency.as_str(),
                        rec.id
                    ));
                    json!({ "rows_added": 0, "spike_id": rec.id, "spike_at": format_timestamp(spike.ts) })
                }
            };
            if let Some(obj) = entry.as_object_mut() {
                obj.insert(frequency.as_str().to_string(), value);
            }
        }
        if !pending.is_empty() {
            let text = format!(
                "price spikes pending for {}; review them with `systrade prices check-spikes`, then rerun",
                pending.join(", ")
            );
            if self.fail_on_spike {
                problems.push(text);
            } else {
                done.warnings.push(format!("{code}: {text}"));
            }
        }
        if problems.is_empty() {
            tracing::info!(instrument = %code, "{code}: contract prices updated");
            done.report
                .insert(code.to_string(), Value::Object(per_contract));
        } else {
            done.failures.push(Failure {
                instrument: code.to_string(),
                message: problems.join("; "),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Task<App> for HistTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let store = app.price_store();
        let reference = app
            .reference_data()
            .map_err(|e| TaskError::fatal(format!("reference data: {e}")))?;
        let codes: Vec<InstrumentCode> = match &self.instruments {
            Some(c) => c.clone(),
            None => app.price_instruments().map_err(store_error)?,
        };
        let market = app.market(&reference);
        let now = app.clock.now().timestamp_micros();
        let decided = Arc::new(
            app.metadata
                .spikes(&SpikeQuery {
                    status: None,
                    ..Default::default()
                })
                .await
                .map_err(metadata_error)?,
        );

        let excluded = Excluded::from_inputs(&ctx.inputs);
        let mut done = Absorbed::default();
        // Instruments are independent: with the simulated market several are fetched and
        // written at once (the time is the files' syncs); the broker's history is paced, one at
        // a time. Results are taken in order, so the output and the spike log do not depend
        // on which finished first.
        let parallel = match app.config.market.source {
            crate::config::MarketSource::Sim => PARALLEL_SIM,
            crate::config::MarketSource::Broker => 1,
        };
        let mut running: std::collections::VecDeque<(InstrumentCode, JobHandle)> =
            std::collections::VecDeque::new();
        let total = codes.len();
        for (n, code) in codes.into_iter().enumerate() {
            if let Err(stopped) = ctx
                .stop
                .check(&format!("{n} of {total} instruments updated"))
            {
                // What is under way finishes and is recorded before the node stops.
                while let Some((code, handle)) = running.pop_front() {
                    self.absorb(app, &mut done, code, handle.await).await?;
                }
                return Err(stopped);
            }
            let currency = reference.instrument(&code).map(|i| i.currency.clone());
            if let Some(why) = excluded.reason(code.as_str(), currency.as_deref()) {
                tracing::warn!(instrument = %code, "{code}: left alone: {why}");
                done.report
                    .insert(code.to_string(), json!({ "skipped": why }));
                continue;
            }
            let contracts: Vec<ContractId> = app
                .metadata
                .sampled_contracts(&code)
                .await
                .map_err(metadata_error)?
                .into_iter()
                .map(|r| r.contract)
                .collect();
            if contracts.is_empty() {
                tracing::info!(instrument = %code, "{code}: no sampled contracts, skipped (update_sampled_contracts runs first)");
                done.report.insert(
                    code.to_string(),
                    json!({ "skipped": "no sampled contracts" }),
                );
                continue;
            }
            let job = InstrumentJob {
                store: store.clone(),
                market: market.clone(),
                code: code.clone(),
                contracts,
                decided: decided.clone(),
                now,
                lookback_days: self.lookback_days,
                threshold: app.config.prices.max_price_spike,
            };
            if running.len() >= parallel {
                if let Some((code, handle)) = running.pop_front() {
                    self.absorb(app, &mut done, code, handle.await).await?;
                }
            }
            running.push_back((code, tokio::task::spawn_blocking(move || job.run())));
        }
        while let Some((code, handle)) = running.pop_front() {
            self.absorb(app, &mut done, code, handle.await).await?;
        }
        let Absorbed {
            mut report,
            spikes,
            failures,
            warnings,
        } = done;
        let mut extra = serde_json::Map::new();
        extra.insert("spikes".into(), json!(spikes));
        if !warnings.is_empty() {
            report.insert("warnings".into(), json!(warnings));
        }
        finish_nested(
            "instruments",
            report,
            extra,
            failures,
            &excluded,
            Subject::Instruments,
            false,
        )
    }
}
