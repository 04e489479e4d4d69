//! `update_sampled_contracts` (B5, sysproduction `update_sampled_contracts`): per instrument,
//! works out the chain of contracts to sample from the last multiple-prices row (or, for an
//! instrument with no prices yet, from the contracts priced today), asks the market data source
//! for exact expiries, and brings the contract table in line. A PRICE, FORWARD or CARRY contract
//! that has expired is logged at error level ("YOU NEED TO ROLL") and listed in the output's
//! `warnings`; it does not fail the task (the stack handler refuses orders in an expired contract).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::instruments::{finish, Excluded, Failure, Subject};
use super::update_fx_prices::store_hint;
use crate::app::App;
use crate::domain::bootstrap::{carry_contract, priced_contract_on};
use crate::domain::contract::ContractId;
use crate::domain::instrument::{InstrumentCode, ReferenceData, RollParameters};
use crate::domain::sampling::{
    contracts_to_look_up, current_contracts, reconcile, sampled_chain, ExpiryLookup, StoredContract,
};
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct UpdateSampledContracts;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SampledParams {
    /// Instruments to update (default: config `prices.instruments` and every instrument with
    /// multiple prices).
    instruments: Option<Vec<InstrumentCode>>,
}

struct SampledTask {
    instruments: Option<Vec<InstrumentCode>>,
}

impl TaskKind<App> for UpdateSampledContracts {
    fn name(&self) -> &'static str {
        "update_sampled_contracts"
    }
    fn summary(&self) -> &'static str {
        "maintains the chain of sampled contracts and their expiries (sysproduction update_sampled_contracts)"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: SampledParams = parse_params(params)?;
        if p.instruments.as_ref().is_some_and(|v| v.is_empty()) {
            return Err(vec!["params: `instruments` must not be empty".into()]);
        }
        Ok(Arc::new(SampledTask {
            instruments: p.instruments,
        }))
    }
}

/// The instruments a price task works on, each with its roll parameters: `requested`, else the
/// configured instruments and every instrument with multiple prices. A requested instrument the
/// reference data does not know is a fatal error; a default one without roll parameters is
/// skipped with a warning.
pub(super) fn instruments_to_update(
    app: &App,
    requested: Option<&[InstrumentCode]>,
    reference: &ReferenceData,
) -> Result<Vec<(InstrumentCode, RollParameters)>, TaskError> {
    let codes: Vec<InstrumentCode> = match requested {
        Some(list) => {
            let unknown: Vec<String> = list
                .iter()
                .filter(|c| reference.roll_parameters(c).is_none())
                .map(|c| c.to_string())
                .collect();
            if !unknown.is_empty() {
                return Err(TaskError::fatal(format!(
                    "unknown instrument(s) (no roll parameters in the reference data): {}",
                    unknown.join(", ")
                )));
            }
            list.to_vec()
        }
        None => app.price_instruments().map_err(|e| {
            TaskError::retryable(format!("cannot list instruments with multiple prices: {e}"))
        })?,
    };
    let mut out = Vec::with_capacity(codes.len());
    for code in codes {
        match reference.roll_parameters(&code) {
            Some(p) => out.push((code, p.clone())),
            None => tracing::warn!(instrument = %code, "no roll parameters: skipped"),
        }
    }
    Ok(out)
}

/// Reference data, or a fatal error (a broken reference file needs a person).
pub(super) fn load_reference(app: &App) -> Result<ReferenceData, TaskError> {
    app.reference_data()
        .map_err(|d| TaskError::fatal(format!("cannot load reference data:\n{d}")))
}

/// One instrument's failure, for the summary at the end.

#[async_trait]
impl Task<App> for SampledTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        let reference = load_reference(app)?;
        let instruments = instruments_to_update(app, self.instruments.as_deref(), &reference)?;
        let market = app.market(&reference);
        let store = app.price_store();
        let now = app.clock.now();
        let today = now.date_naive();
        let mut out = serde_json::Map::new();
        let mut failures = Vec::new();
        let mut warnings: Vec<String> = Vec::new();
        for (n, (code, params)) in instruments.iter().enumerate() {
            ctx.stop
                .check(&format!("{n} of {} instruments updated", instruments.len()))?;
            let multiple = match store.read_multiple(code) {
                Ok(m) => m,
                Err(e) => {
                    failures.push(Failure {
                        instrument: code.to_string(),
                        message: format!("cannot read multiple prices: {e}{}", store_hint(&e)),
                    });
                    continue;
                }
            };
            let key = match key_contracts(multiple.as_ref(), params, today) {
                Ok(k) => k,
                Err(message) => {
                    failures.push(Failure {
                        instrument: code.to_string(),
                        message,
                    });
                    continue;
                }
            };
            let chain = sampled_chain(key, params, today);
            let stored: Vec<StoredContract> = match app.metadata.contracts(code).await {
                Ok(rows) => rows.iter().map(|r| r.stored()).collect(),
                Err(e) => {
                    failures.push(Failure {
                        instrument: code.to_string(),
                        message: format!("cannot read the contract table: {e}"),
                    });
                    continue;
                }
            };
            let lookups: BTreeMap<ContractId, ExpiryLookup> = contracts_to_look_up(&chain, &stored)
                .into_iter()
                .map(|c| {
                    (
                        c,
                        ExpiryLookup::from_source(&market.contract_expiry(code, c)),
                    )
                })
                .collect();
            let plan = reconcile(&chain, &stored, &lookups, key, params.expiry_offset, today);
            if let Err(e) = app
                .metadata
                .apply_sampling_changes(code, &plan.changes, now)
                .await
            {
                failures.push(Failure {
                    instrument: code.to_string(),
                    message: format!("cannot update the contract table: {e}"),
                });
                continue;
            }
            for change in &plan.changes {
                tracing::info!(instrument = %code, "{change}");
            }
            if let Some(warning) = plan.roll_warning(code.as_str()) {
                tracing::error!(instrument = %code, "{warning}");
                warnings.push(warning);
            }
            out.insert(
                code.to_string(),
                json!({
                    "sampled": plan.sampling.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                    "changes": plan.changes.len(),
                    "needs_roll": plan.needs_roll(),
                }),
            );
        }
        if !warnings.is_empty() {
            out.insert("warnings".into(), json!(warnings));
        }
        finish(
            out,
            failures,
            &Excluded::default(),
            Subject::Instruments,
            false,
        )
    }
}

/// PRICE, FORWARD and CARRY contracts: of the last multiple-prices row, else those priced today.
fn key_contracts(
    multiple: Option<&crate::domain::series::MultiplePrices>,
    params: &RollParameters,
    today: chrono::NaiveDate,
) -> Result<[ContractId; 3], String> {
    if let Some(k) = multiple.and_then(current_contracts) {
        return Ok(k);
    }
    let priced = priced_contract_on(params, today);
    let carry = carry_contract(priced, params).map_err(|e| e.to_string())?;
    Ok([priced, priced.next_in(&params.hold_cycle), carry])
}
