//! The roll report of one instrument (pysystemtrade's roll report and the data shown by
//! `interactive_update_roll_status`, B8): current roll state and the allowed next states, the
//! priced/forward/carry contracts of the last multiple-prices row with their expiries and last
//! prices, days to expiry and to the desired roll date, smoothed and relative volumes, and the
//! automatic suggestion. Pure: the caller loads everything.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::contract::ContractId;
use super::instrument::{InstrumentCode, RollParameters};
use super::rolls::{
    allowed_next, demotion, relative_volume, roll_timing, smoothed_volume, suggest_roll_state,
    AutoRollConfig, RollState, RollSuggestion, RollSuggestionInputs,
};
use super::series::{format_timestamp, ContractPrices, MultiplePrices};

/// Why no report can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollReportError {
    #[error("`{instrument}` has no multiple prices rows")]
    NoRows { instrument: InstrumentCode },
    #[error("`{instrument}`: multiple prices have columns of different lengths")]
    Inconsistent { instrument: InstrumentCode },
}

/// A stored contract expiry: the date and whether it is exact (else approximate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownExpiry {
    pub date: NaiveDate,
    pub exact: bool,
}

/// One of the priced, forward and carry contracts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReportContract {
    pub contract: ContractId,
    pub expiry: NaiveDate,
    /// False when the expiry is approximated (contract month + `ExpiryOffset`).
    pub expiry_exact: bool,
    /// The latest price of this column while it had this contract (NaN if none).
    pub last_price: f64,
}

/// Everything the report is made from.
pub struct RollReportInputs<'a> {
    pub instrument: &'a InstrumentCode,
    pub state: RollState,
    /// The system's position (all strategies) in each contract of the instrument, from the
    /// position store; contracts without an entry hold nothing.
    pub positions: &'a BTreeMap<ContractId, i64>,
    pub multiple: &'a MultiplePrices,
    pub params: &'a RollParameters,
    /// Expiries from the contract table.
    pub expiries: &'a BTreeMap<ContractId, KnownExpiry>,
    /// Bars (merged or daily) of the priced and forward contracts, for volumes.
    pub priced_bars: Option<&'a ContractPrices>,
    pub forward_bars: Option<&'a ContractPrices>,
    pub now: DateTime<Utc>,
    pub config: AutoRollConfig,
}

/// The roll report of one instrument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollReport {
    pub instrument: InstrumentCode,
    pub state: RollState,
    /// What the stack handler treats `state` as (§B8 automatic demotion: `force`,
    /// `force_outright` or `close` with nothing in the priced contract is `passive`); `None`
    /// when it trades the state as stored.
    pub demoted_to: Option<RollState>,
    /// Position in the priced contract (all strategies).
    pub priced_position: i64,
    /// Position in the forward contract (all strategies).
    pub forward_position: i64,
    /// Every non-zero contract position of the instrument, by contract.
    pub positions: Vec<ContractHolding>,
    /// Allowed next states, the recommended one first.
    pub allowed_next: Vec<RollState>,
    pub last_row: String,
    pub price: ReportContract,
    pub forward: ReportContract,
    pub carry: ReportContract,
    pub days_to_price_expiry: i64,
    pub days_to_carry_expiry: i64,
    pub days_to_desired_roll: i64,
    pub desired_roll_date: NaiveDate,
    pub priced_volume: f64,
    pub forward_volume: f64,
    /// Forward volume / priced volume.
    pub relative_volume: f64,
    /// FORWARD − PRICE of the last prices.
    pub forward_minus_price: f64,
    /// CARRY − PRICE of the last prices.
    pub carry_minus_price: f64,
    pub suggestion: RollSuggestion,
}

/// A position held in one contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContractHolding {
    pub contract: ContractId,
    pub position: i64,
}

/// The last non-NaN value of `values` in the trailing run of rows whose contract is the last one.
fn last_price(values: &[f64], contracts: &[ContractId]) -> f64 {
    let Some(last) = contracts.last() else {
        return f64::NAN;
    };
    values
        .iter()
        .zip(contracts)
        .rev()
        .take_while(|(_, c)| *c == last)
        .map(|(v, _)| *v)
        .find(|v| !v.is_nan())
        .unwrap_or(f64::NAN)
}

fn expiry_of(
    contract: ContractId,
    expiries: &BTreeMap<ContractId, KnownExpiry>,
    params: &RollParameters,
) -> KnownExpiry {
    expiries.get(&contract).copied().unwrap_or(KnownExpiry {
        date: contract.approx_expiry(params.expiry_offset),
        exact: false,
    })
}

/// Builds the report.
pub fn roll_report(i: &RollReportInputs<'_>) -> Result<RollReport, RollReportError> {
    let m = i.multiple;
    if !m.is_consistent() {
        return Err(RollReportError::Inconsistent {
            instrument: i.instrument.clone(),
        });
    }
    let (Some(&ts), Some(&pc), Some(&fc), Some(&cc)) = (
        m.ts.last(),
        m.price_contract.last(),
        m.forward_contract.last(),
        m.carry_contract.last(),
    ) else {
        return Err(RollReportError::NoRows {
            instrument: i.instrument.clone(),
        });
    };
    let line = |contract: ContractId, values: &[f64], contracts: &[ContractId]| {
        let e = expiry_of(contract, i.expiries, i.params);
        ReportContract {
            contract,
            expiry: e.date,
            expiry_exact: e.exact,
            last_price: last_price(values, contracts),
        }
    };
    let price = line(pc, &m.price, &m.price_contract);
    let forward = line(fc, &m.forward, &m.forward_contract);
    let carry = line(cc, &m.carry, &m.carry_contract);

    let held = |c: ContractId| i.positions.get(&c).copied().unwrap_or(0);
    let (priced_position, forward_position) = (held(pc), held(fc));
    let now = i.now.naive_utc();
    let timing = roll_timing(price.expiry, i.params.roll_offset_days, now);
    let carry_timing = roll_timing(carry.expiry, 0, now);
    let now_micros = i.now.timestamp_micros();
    let volume = |b: Option<&ContractPrices>| b.map_or(0.0, |b| smoothed_volume(b, now_micros));
    let priced_volume = volume(i.priced_bars);
    let forward_volume = volume(i.forward_bars);
    let relative = relative_volume(priced_volume, forward_volume);
    let suggestion = suggest_roll_state(
        &RollSuggestionInputs {
            days_to_price_expiry: timing.days_to_price_expiry,
            days_to_desired_roll: timing.days_to_desired_roll,
            priced_position,
            relative_volume: relative,
            forward_volume,
        },
        &i.config,
    );
    Ok(RollReport {
        instrument: i.instrument.clone(),
        state: i.state,
        demoted_to: demotion(i.state, priced_position != 0),
        priced_position,
        forward_position,
        positions: i
            .positions
            .iter()
            .filter(|(_, p)| **p != 0)
            .map(|(c, p)| ContractHolding {
                contract: *c,
                position: *p,
            })
            .collect(),
        allowed_next: allowed_next(i.state, priced_position != 0),
        last_row: format_timestamp(ts),
        price,
        forward,
        carry,
        days_to_price_expiry: timing.days_to_price_expiry,
        days_to_carry_expiry: carry_timing.days_to_price_expiry,
        days_to_desired_roll: timing.days_to_desired_roll,
        desired_roll_date: timing.desired_roll_date,
        priced_volume,
        forward_volume,
        relative_volume: relative,
        forward_minus_price: forward.last_price - price.last_price,
        carry_minus_price: carry.last_price - price.last_price,
        suggestion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> ContractId {
        ContractId::parse(s).unwrap()
    }

    #[test]
    fn last_price_stays_within_the_final_contract() {
        let contracts = [c("20230900"), c("20231200"), c("20231200")];
        assert_eq!(last_price(&[1.0, 2.0, f64::NAN], &contracts), 2.0);
        assert!(last_price(&[1.0, f64::NAN, f64::NAN], &contracts).is_nan());
        assert!(last_price(&[], &[]).is_nan());
    }
}
