//! The sampled contract chain (B5): which contracts of an instrument we collect prices for, and
//! how the contract table is brought in line with it each day (pysystemtrade's
//! `update_sampled_contracts`).
//!
//! Two pure steps, so that the caller can ask the market data source for expiries in between:
//! 1. [`sampled_chain`] names the contracts that should be sampled, from the contracts of the last
//!    multiple-prices row and the roll parameters.
//! 2. [`contracts_to_look_up`] lists the contracts whose exact expiry to ask for, and
//!    [`reconcile`] turns the chain, the stored contracts and the answers into the net changes to
//!    make, plus the "YOU NEED TO ROLL" condition (a PRICE, FORWARD or CARRY contract expired).
//!
//! Contracts are never deleted: they stop being sampled.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use super::contract::ContractId;
use super::instrument::RollParameters;
use super::ports::MarketDataError;
use super::series::MultiplePrices;

/// How far back the chain reaches: contracts whose (approximate) expiry is at most this many days
/// ago are still in the chain (pysystemtrade: "to deal with any gaps"; expired ones then stop
/// sampling at once).
pub const CHAIN_LOOKBACK_DAYS: i64 = 100;

/// The PRICE, FORWARD and CARRY contracts of the last multiple-prices row (`None` if empty).
pub fn current_contracts(multiple: &MultiplePrices) -> Option<[ContractId; 3]> {
    Some([
        *multiple.price_contract.last()?,
        *multiple.forward_contract.last()?,
        *multiple.carry_contract.last()?,
    ])
}

/// The contracts that should be sampled, ascending.
///
/// The furthest-out of the PRICE, FORWARD and CARRY contracts of the last multiple-prices row is
/// found; the chain ends at the next contract in the *priced* cycle after it (so the next forward
/// is collected a little in advance), and walks back through the priced cycle while a contract's
/// approximate expiry is on or after `today - 100 days`. Chain contracts are monthly ids (day
/// `00`), as cycle navigation makes them.
pub fn sampled_chain(
    last_row_contracts: [ContractId; 3],
    params: &RollParameters,
    today: NaiveDate,
) -> Vec<ContractId> {
    let furthest = last_row_contracts
        .iter()
        .copied()
        .max()
        .unwrap_or(last_row_contracts[0]);
    let cutoff = today - Duration::days(CHAIN_LOOKBACK_DAYS);
    let mut chain = Vec::new();
    let mut contract = furthest.next_in(&params.priced_cycle);
    while contract.approx_expiry(params.expiry_offset) >= cutoff {
        chain.push(contract);
        contract = contract.previous_in(&params.priced_cycle);
    }
    chain.reverse();
    chain
}

/// A contract as the contract table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoredContract {
    pub contract: ContractId,
    /// Exact (from the broker / market data source) or approximate (1st of month + offset).
    pub expiry: NaiveDate,
    pub expiry_is_exact: bool,
    pub sampling: bool,
}

/// What the market data source said about a contract's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "expiry")]
pub enum ExpiryLookup {
    /// The exact expiry.
    Found(NaiveDate),
    /// The source does not list the contract (not yet listed, or long expired).
    NotFound,
    /// The source could not be asked (connection problem): change nothing on its account.
    Unavailable,
}

impl ExpiryLookup {
    /// From [`super::ports::MarketDataSource::contract_expiry`]: an unlisted or unknown contract
    /// is `NotFound`; an unavailable source, or one that does not know the instrument at all (a
    /// configuration problem, which must not stop every contract), is `Unavailable`.
    pub fn from_source(result: &Result<Option<NaiveDate>, MarketDataError>) -> Self {
        match result {
            Ok(Some(d)) => ExpiryLookup::Found(*d),
            Ok(None) | Err(MarketDataError::UnknownContract { .. }) => ExpiryLookup::NotFound,
            Err(
                MarketDataError::Unavailable(_)
                | MarketDataError::UnknownInstrument(_)
                | MarketDataError::UnknownCurrency(_)
                | MarketDataError::Refused(_),
            ) => ExpiryLookup::Unavailable,
        }
    }
}

/// Why a contract stops being sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum StopReason {
    /// Its expiry is before today.
    Expired { expiry: NaiveDate },
    /// The market data source does not list it.
    NotFound,
    /// It is no longer in the sampled chain.
    NotInChain,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Expired { expiry } => write!(f, "expired on {expiry}"),
            StopReason::NotFound => f.write_str("not found at the market data source"),
            StopReason::NotInChain => f.write_str("not in the sampled chain"),
        }
    }
}

/// One net change to the contract table, to apply in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum SamplingChange {
    /// A chain contract not yet in the table. `sampling` is false (with the reason) when it
    /// would stop at once, e.g. an expired contract at the back of the chain: it is recorded
    /// all the same, as pysystemtrade does.
    Add {
        contract: ContractId,
        expiry: NaiveDate,
        expiry_is_exact: bool,
        sampling: bool,
        stop_reason: Option<StopReason>,
    },
    /// A stored contract that was not sampling and now is.
    StartSampling { contract: ContractId },
    /// A stored contract's expiry became known or changed.
    UpdateExpiry {
        contract: ContractId,
        from: NaiveDate,
        to: NaiveDate,
        expiry_is_exact: bool,
    },
    /// A stored contract that was sampling and now is not.
    StopSampling {
        contract: ContractId,
        reason: StopReason,
    },
}

impl SamplingChange {
    pub fn contract(&self) -> ContractId {
        match self {
            SamplingChange::Add { contract, .. }
            | SamplingChange::StartSampling { contract }
            | SamplingChange::UpdateExpiry { contract, .. }
            | SamplingChange::StopSampling { contract, .. } => *contract,
        }
    }
}

impl fmt::Display for SamplingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamplingChange::Add {
                contract,
                expiry,
                expiry_is_exact,
                sampling: true,
                ..
            } => write!(
                f,
                "contract {contract} added and sampling (expiry {expiry}{})",
                if *expiry_is_exact {
                    ""
                } else {
                    ", approximate"
                }
            ),
            SamplingChange::Add {
                contract,
                stop_reason,
                ..
            } => match stop_reason {
                Some(r) => write!(f, "contract {contract} added, not sampling: {r}"),
                None => write!(f, "contract {contract} added, not sampling"),
            },
            SamplingChange::StartSampling { contract } => {
                write!(f, "contract {contract} now sampling")
            }
            SamplingChange::UpdateExpiry {
                contract, from, to, ..
            } => write!(
                f,
                "expiry of contract {contract} updated from {from} to {to}"
            ),
            SamplingChange::StopSampling { contract, reason } => {
                write!(f, "contract {contract} stopped sampling: {reason}")
            }
        }
    }
}

/// The role of a contract in the multiple prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractRole {
    Price,
    Forward,
    Carry,
}

impl ContractRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractRole::Price => "price",
            ContractRole::Forward => "forward",
            ContractRole::Carry => "carry",
        }
    }
}

/// A PRICE, FORWARD or CARRY contract whose expiry has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExpiredKeyContract {
    pub role: ContractRole,
    pub contract: ContractId,
    pub expiry: NaiveDate,
}

/// What to change, and whether the instrument must be rolled.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SamplingPlan {
    /// Net changes, at most one per contract except an expiry update followed by a stop.
    pub changes: Vec<SamplingChange>,
    /// Contracts sampling once the changes are applied, ascending.
    pub sampling: Vec<ContractId>,
    /// Key contracts (of the last multiple-prices row) that have expired.
    pub expired_key_contracts: Vec<ExpiredKeyContract>,
}

impl SamplingPlan {
    /// pysystemtrade's critical "YOU NEED TO ROLL": a PRICE, FORWARD or CARRY contract expired.
    pub fn needs_roll(&self) -> bool {
        !self.expired_key_contracts.is_empty()
    }

    /// The critical message for `instrument`, when a roll is needed.
    pub fn roll_warning(&self, instrument: &str) -> Option<String> {
        if !self.needs_roll() {
            return None;
        }
        let which: Vec<String> = self
            .expired_key_contracts
            .iter()
            .map(|k| {
                format!(
                    "{} contract {} expired {}",
                    k.role.as_str(),
                    k.contract,
                    k.expiry
                )
            })
            .collect();
        Some(format!(
            "{instrument}: {}: YOU NEED TO ROLL (systrade roll {instrument})",
            which.join(", ")
        ))
    }
}

/// The contracts whose exact expiry [`reconcile`] wants: every chain contract and every stored
/// contract that is sampling, ascending.
pub fn contracts_to_look_up(chain: &[ContractId], stored: &[StoredContract]) -> Vec<ContractId> {
    let set: BTreeSet<ContractId> = chain
        .iter()
        .copied()
        .chain(stored.iter().filter(|s| s.sampling).map(|s| s.contract))
        .collect();
    set.into_iter().collect()
}

/// Working state of one contract during reconciliation.
struct Working {
    before: Option<StoredContract>,
    expiry: NaiveDate,
    exact: bool,
    sampling: bool,
    stop_reason: Option<StopReason>,
}

/// The net changes that bring the contract table in line with `chain` (pysystemtrade's order):
/// 1. chain contracts not in the table are added, sampling; those in it but not sampling start;
/// 2. every sampling contract's expiry is checked against `lookups` (missing = `Unavailable`):
///    a different or newly exact expiry is stored, `NotFound` stops sampling;
/// 3. a sampling contract stops if it expired (expiry before `today`), else if it is not in the
///    chain.
///
/// Steps that cancel out (an expired chain contract started then stopped) produce no change.
/// `key` is the PRICE, FORWARD and CARRY contracts of the last multiple-prices row; any whose
/// expiry (stored or looked up, else approximate) is before `today` is reported.
pub fn reconcile(
    chain: &[ContractId],
    stored: &[StoredContract],
    lookups: &BTreeMap<ContractId, ExpiryLookup>,
    key: [ContractId; 3],
    expiry_offset: i32,
    today: NaiveDate,
) -> SamplingPlan {
    let mut work: BTreeMap<ContractId, Working> = stored
        .iter()
        .map(|s| {
            (
                s.contract,
                Working {
                    before: Some(*s),
                    expiry: s.expiry,
                    exact: s.expiry_is_exact,
                    sampling: s.sampling,
                    stop_reason: None,
                },
            )
        })
        .collect();
    let in_chain: BTreeSet<ContractId> = chain.iter().copied().collect();

    // 1. The chain is sampled.
    for c in chain {
        work.entry(*c)
            .and_modify(|w| w.sampling = true)
            .or_insert_with(|| Working {
                before: None,
                expiry: c.approx_expiry(expiry_offset),
                exact: false,
                sampling: true,
                stop_reason: None,
            });
    }

    for (contract, w) in work.iter_mut().filter(|(_, w)| w.sampling) {
        // 2. Exact expiries.
        match lookups
            .get(contract)
            .copied()
            .unwrap_or(ExpiryLookup::Unavailable)
        {
            ExpiryLookup::Found(d) => {
                w.expiry = d;
                w.exact = true;
            }
            ExpiryLookup::NotFound => {
                w.sampling = false;
                w.stop_reason = Some(StopReason::NotFound);
                continue;
            }
            ExpiryLookup::Unavailable => {}
        }
        // 3. Expired or out of the chain.
        if w.expiry < today {
            w.sampling = false;
            w.stop_reason = Some(StopReason::Expired { expiry: w.expiry });
        } else if !in_chain.contains(contract) {
            w.sampling = false;
            w.stop_reason = Some(StopReason::NotInChain);
        }
    }

    let mut plan = SamplingPlan::default();
    for (contract, w) in &work {
        match w.before {
            None => plan.changes.push(SamplingChange::Add {
                contract: *contract,
                expiry: w.expiry,
                expiry_is_exact: w.exact,
                sampling: w.sampling,
                stop_reason: w.stop_reason,
            }),
            Some(before) => {
                if before.expiry != w.expiry || before.expiry_is_exact != w.exact {
                    plan.changes.push(SamplingChange::UpdateExpiry {
                        contract: *contract,
                        from: before.expiry,
                        to: w.expiry,
                        expiry_is_exact: w.exact,
                    });
                }
                match (before.sampling, w.sampling) {
                    (false, true) => plan.changes.push(SamplingChange::StartSampling {
                        contract: *contract,
                    }),
                    (true, false) => plan.changes.push(SamplingChange::StopSampling {
                        contract: *contract,
                        reason: w.stop_reason.unwrap_or(StopReason::NotInChain),
                    }),
                    _ => {}
                }
            }
        }
        if w.sampling {
            plan.sampling.push(*contract);
        }
    }

    let roles = [
        ContractRole::Price,
        ContractRole::Forward,
        ContractRole::Carry,
    ];
    for (role, contract) in roles.into_iter().zip(key) {
        let expiry = work
            .get(&contract)
            .map(|w| w.expiry)
            .unwrap_or_else(|| contract.approx_expiry(expiry_offset));
        if expiry < today {
            plan.expired_key_contracts.push(ExpiredKeyContract {
                role,
                contract,
                expiry,
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests;
