//! Rolling an instrument's multiple prices onto the next contracts, as pysystemtrade does when
//! the roll state becomes `Roll_Adjusted` (B8, "Rolling multiple prices").
//!
//! Two steps, so that the caller can load prices between them:
//! 1. [`roll_contracts`] names the new PRICE, FORWARD and CARRY contracts: the new priced
//!    contract is the old forward; the new forward is the next *held* contract after it; the new
//!    carry is the next or previous *priced* contract (per `carry_offset`).
//! 2. [`roll_multiple_prices`] appends the roll rows, given the closes of the new forward and
//!    carry contracts (their merged per-contract series).
//!
//! The caller then re-stitches the adjusted prices in full (`panama::panama_stitch`, without
//! forward fill, as pysystemtrade does).

use super::contract::ContractId;
use super::instrument::{RollCycle, RollParameters};
use super::series::{
    check_order, format_timestamp, Micros, MultiplePrices, OrderError, PriceSeries,
};

/// The new timestamp is this much after the last one.
const ONE_SECOND: Micros = 1_000_000;

/// Why the multiple prices cannot be rolled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RollError {
    #[error("multiple prices have columns of different lengths ({rows} timestamps)")]
    Inconsistent { rows: usize },
    #[error("multiple prices: {source}")]
    Unordered { source: OrderError },
    #[error("no multiple prices to roll (empty, or every row has no prices at all)")]
    NoPrices,
    #[error(
        "couldn't infer the last {column} price at {} (it is missing and cannot be derived from \
         another column) - can't roll; try again allowing forward fill",
        format_timestamp(*.ts)
    )]
    CannotInfer { column: &'static str, ts: Micros },
    #[error("carry offset must be +1 or -1, not {carry_offset}")]
    InvalidCarryOffset { carry_offset: i32 },
}

/// The contracts after a roll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollContracts {
    pub price: ContractId,
    pub forward: ContractId,
    pub carry: ContractId,
}

/// Rolled multiple prices and what was done to get them.
#[derive(Debug, Clone, PartialEq)]
pub struct RolledPrices {
    /// The (optionally forward-filled, trailing-empty-rows-dropped) multiple prices with the roll
    /// rows appended.
    pub multiple: MultiplePrices,
    pub contracts: RollContracts,
    /// The old PRICE contract's last price, when it was missing and had to be inferred.
    pub inferred_price: Option<f64>,
    /// The old FORWARD contract's last price, when it was missing and had to be inferred.
    pub inferred_forward: Option<f64>,
}

/// Column indices.
const PRICE: usize = 0;
const FORWARD: usize = 1;
const CARRY: usize = 2;
const NAMES: [&str; 3] = ["PRICE", "FORWARD", "CARRY"];

/// Forward-fills all price columns if asked, then drops trailing rows with no price at all.
fn prepare(m: &MultiplePrices, forward_fill: bool) -> Result<MultiplePrices, RollError> {
    if !m.is_consistent() {
        return Err(RollError::Inconsistent { rows: m.len() });
    }
    check_order(&m.ts).map_err(|source| RollError::Unordered { source })?;
    let mut out = m.clone();
    if forward_fill {
        for col in [&mut out.price, &mut out.forward, &mut out.carry] {
            let mut last = f64::NAN;
            for v in col.iter_mut() {
                if v.is_nan() {
                    *v = last;
                } else {
                    last = *v;
                }
            }
        }
    }
    let keep = (0..out.len())
        .rev()
        .find(|&i| !(out.price[i].is_nan() && out.forward[i].is_nan() && out.carry[i].is_nan()))
        .map_or(0, |i| i + 1);
    if keep == 0 {
        return Err(RollError::NoPrices);
    }
    for col in [&mut out.price, &mut out.forward, &mut out.carry] {
        col.truncate(keep);
    }
    out.ts.truncate(keep);
    out.price_contract.truncate(keep);
    out.forward_contract.truncate(keep);
    out.carry_contract.truncate(keep);
    Ok(out)
}

/// `c` with the day of `like` (pysystemtrade keeps a dated contract's day when it steps along
/// a cycle; monthly contracts keep day `00`).
fn with_day_of(c: ContractId, like: ContractId) -> ContractId {
    ContractId::new(c.year(), c.month(), like.day()).unwrap_or(c)
}

fn step(c: ContractId, cycle: &RollCycle, forward: bool) -> ContractId {
    let next = if forward {
        c.next_in(cycle)
    } else {
        c.previous_in(cycle)
    };
    with_day_of(next, c)
}

fn contracts_after(
    old_forward: ContractId,
    params: &RollParameters,
) -> Result<RollContracts, RollError> {
    let carry = match params.carry_offset {
        1 => step(old_forward, &params.priced_cycle, true),
        -1 => step(old_forward, &params.priced_cycle, false),
        other => {
            return Err(RollError::InvalidCarryOffset {
                carry_offset: other,
            })
        }
    };
    Ok(RollContracts {
        price: old_forward,
        forward: step(old_forward, &params.hold_cycle, true),
        carry,
    })
}

/// The contracts [`roll_multiple_prices`] will roll onto (from the last row left after the same
/// forward fill and dropping of trailing empty rows).
pub fn roll_contracts(
    m: &MultiplePrices,
    params: &RollParameters,
    forward_fill: bool,
) -> Result<RollContracts, RollError> {
    let p = prepare(m, forward_fill)?;
    let last = p.len() - 1;
    contracts_after(p.forward_contract[last], params)
}

/// Rolls the multiple prices. `new_forward_closes` / `new_carry_closes` are the closes of
/// [`roll_contracts`]' forward and carry contracts; only their value at the last timestamp is
/// used (NaN if they have none there, filled in by later updates).
///
/// If the last PRICE or FORWARD is missing it is inferred (PRICE from FORWARD, then CARRY;
/// FORWARD from PRICE, then CARRY): over the trailing rows where both columns have their final
/// contracts, the median of the last five (target − source) differences is added to the source's
/// last price; a row with both prices is then added 1 s after the last row. Finally the roll row
/// is added 1 s after that: PRICE = the old forward's last price, FORWARD and CARRY = the new
/// contracts' prices, with the new contracts.
pub fn roll_multiple_prices(
    m: &MultiplePrices,
    params: &RollParameters,
    forward_fill: bool,
    new_forward_closes: &PriceSeries,
    new_carry_closes: &PriceSeries,
) -> Result<RolledPrices, RollError> {
    let mut out = prepare(m, forward_fill)?;
    let last = out.len() - 1;
    let last_ts = out.ts[last];
    let contracts = contracts_after(out.forward_contract[last], params)?;

    let (price, price_inferred) = latest_or_inferred(&out, PRICE, [FORWARD, CARRY])?;
    let (forward, forward_inferred) = latest_or_inferred(&out, FORWARD, [PRICE, CARRY])?;

    let at_last = |s: &PriceSeries| {
        s.ts.binary_search(&last_ts)
            .map_or(f64::NAN, |k| s.value[k])
    };
    let new_forward_price = at_last(new_forward_closes);
    let new_carry_price = at_last(new_carry_closes);

    if price_inferred || forward_inferred {
        let (pc, fc, cc) = (
            out.price_contract[last],
            out.forward_contract[last],
            out.carry_contract[last],
        );
        push_row(&mut out, [price, forward, f64::NAN], [pc, fc, cc]);
    }
    push_row(
        &mut out,
        [forward, new_forward_price, new_carry_price],
        [contracts.price, contracts.forward, contracts.carry],
    );
    Ok(RolledPrices {
        multiple: out,
        contracts,
        inferred_price: price_inferred.then_some(price),
        inferred_forward: forward_inferred.then_some(forward),
    })
}

fn push_row(m: &mut MultiplePrices, prices: [f64; 3], contracts: [ContractId; 3]) {
    let t = m.ts.last().map_or(0, |t| t + ONE_SECOND);
    m.ts.push(t);
    m.price.push(prices[PRICE]);
    m.forward.push(prices[FORWARD]);
    m.carry.push(prices[CARRY]);
    m.price_contract.push(contracts[PRICE]);
    m.forward_contract.push(contracts[FORWARD]);
    m.carry_contract.push(contracts[CARRY]);
}

fn column(m: &MultiplePrices, k: usize) -> (&[f64], &[ContractId]) {
    match k {
        PRICE => (&m.price, &m.price_contract),
        FORWARD => (&m.forward, &m.forward_contract),
        _ => (&m.carry, &m.carry_contract),
    }
}

/// The last price of column `target`, or one inferred from the `sources` in order of
/// preference; `true` when inferred.
fn latest_or_inferred(
    m: &MultiplePrices,
    target: usize,
    sources: [usize; 2],
) -> Result<(f64, bool), RollError> {
    let last = m.len() - 1;
    let (values, _) = column(m, target);
    if !values[last].is_nan() {
        return Ok((values[last], false));
    }
    sources
        .iter()
        .find_map(|&s| infer_last(m, target, s))
        .map(|v| (v, true))
        .ok_or(RollError::CannotInfer {
            column: NAMES[target],
            ts: m.ts[last],
        })
}

/// Infers the last `target` price from the last `source` price plus the median of the last
/// five differences over the trailing rows (excluding the very first row) where both columns
/// have their final contracts and both prices exist. `None` if that is impossible.
fn infer_last(m: &MultiplePrices, target: usize, source: usize) -> Option<f64> {
    let last = m.len() - 1;
    let (tv, tc) = column(m, target);
    let (sv, sc) = column(m, source);
    let from = sv[last];
    if from.is_nan() {
        return None;
    }
    let (final_t, final_s) = (tc[last], sc[last]);
    let mut diffs: Vec<f64> = Vec::with_capacity(5);
    let mut i = last;
    while i >= 1 && tc[i] == final_t && sc[i] == final_s && diffs.len() < 5 {
        if !tv[i].is_nan() && !sv[i].is_nan() {
            diffs.push(tv[i] - sv[i]);
        }
        i -= 1;
    }
    median(&mut diffs).map(|offset| from + offset)
}

/// Median (mean of the middle two for an even count); `None` when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::instrument::InstrumentCode;
    use crate::domain::panama::panama_stitch;

    const D: Micros = 86_400_000_000;
    const NAN: f64 = f64::NAN;

    fn cid(s: &str) -> ContractId {
        ContractId::parse(s).unwrap()
    }

    fn params(hold: &str, priced: &str, carry_offset: i32) -> RollParameters {
        RollParameters {
            code: InstrumentCode::new("TEST").unwrap(),
            hold_cycle: RollCycle::parse(hold).unwrap(),
            roll_offset_days: -5,
            carry_offset,
            priced_cycle: RollCycle::parse(priced).unwrap(),
            expiry_offset: 15,
        }
    }

    /// Rows (price, forward, carry) with fixed contracts Sep-23 / Dec-23 / Dec-23.
    fn mp(rows: &[(f64, f64, f64)]) -> MultiplePrices {
        let n = rows.len();
        MultiplePrices {
            ts: (1..=n as i64).map(|i| i * D).collect(),
            price: rows.iter().map(|r| r.0).collect(),
            forward: rows.iter().map(|r| r.1).collect(),
            carry: rows.iter().map(|r| r.2).collect(),
            price_contract: vec![cid("20230900"); n],
            forward_contract: vec![cid("20231200"); n],
            carry_contract: vec![cid("20231200"); n],
        }
    }

    fn series(ts: &[Micros], v: &[f64]) -> PriceSeries {
        PriceSeries {
            ts: ts.to_vec(),
            value: v.to_vec(),
        }
    }

    #[test]
    fn new_contracts_follow_hold_and_priced_cycles() {
        let m = mp(&[(1.0, 2.0, 2.0)]);
        let c = roll_contracts(&m, &params("HMUZ", "HMUZ", 1), false).unwrap();
        assert_eq!(
            (c.price, c.forward, c.carry),
            (cid("20231200"), cid("20240300"), cid("20240300"))
        );
        // carry one priced month before (V2X-like), monthly priced cycle
        let c = roll_contracts(&m, &params("HMUZ", "FGHJKMNQUVXZ", -1), false).unwrap();
        assert_eq!((c.forward, c.carry), (cid("20240300"), cid("20231100")));
        // hold only December: the next held is a year later
        let c = roll_contracts(&m, &params("Z", "HMUZ", 1), false).unwrap();
        assert_eq!(c.forward, cid("20241200"));
        assert_eq!(
            roll_contracts(&m, &params("Z", "HMUZ", 2), false),
            Err(RollError::InvalidCarryOffset { carry_offset: 2 })
        );
    }

    #[test]
    fn dated_contracts_keep_their_day() {
        let mut m = mp(&[(1.0, 2.0, 2.0)]);
        m.forward_contract[0] = cid("20231215");
        let c = roll_contracts(&m, &params("HMUZ", "HMUZ", 1), false).unwrap();
        assert_eq!((c.price, c.forward), (cid("20231215"), cid("20240315")));
    }

    #[test]
    fn roll_appends_one_row_one_second_later() {
        let m = mp(&[(100.0, 101.0, 101.0), (100.5, 101.5, NAN)]);
        let fwd = series(&[D, 2 * D], &[102.0, 102.7]);
        let carry = series(&[D], &[102.0]);
        let r = roll_multiple_prices(&m, &params("HMUZ", "HMUZ", 1), false, &fwd, &carry).unwrap();
        let out = &r.multiple;
        assert_eq!(out.len(), 3);
        assert_eq!(out.ts[2], 2 * D + ONE_SECOND);
        assert_eq!((out.price[2], out.forward[2]), (101.5, 102.7));
        assert!(
            out.carry[2].is_nan(),
            "carry has no bar at the last timestamp"
        );
        assert_eq!(out.price_contract[2], cid("20231200"));
        assert_eq!(out.forward_contract[2], cid("20240300"));
        assert_eq!(out.carry_contract[2], cid("20240300"));
        assert_eq!((r.inferred_price, r.inferred_forward), (None, None));
        // the re-stitched series: the old contract is shifted by the roll differential 1.0
        let adj = panama_stitch(out, false).unwrap();
        assert_eq!(adj.value, vec![101.0, 101.5, 101.5]);
    }

    #[test]
    fn trailing_rows_without_prices_are_dropped() {
        let m = mp(&[(100.0, 101.0, 101.0), (NAN, NAN, NAN), (NAN, NAN, NAN)]);
        let e = PriceSeries::default();
        let r = roll_multiple_prices(&m, &params("HMUZ", "HMUZ", 1), false, &e, &e).unwrap();
        assert_eq!(r.multiple.ts, vec![D, D + ONE_SECOND]);
        assert_eq!(r.multiple.price, vec![100.0, 101.0]);
        let empty = mp(&[(NAN, NAN, NAN)]);
        assert_eq!(
            roll_multiple_prices(&empty, &params("HMUZ", "HMUZ", 1), false, &e, &e),
            Err(RollError::NoPrices)
        );
    }

    #[test]
    fn missing_forward_is_inferred_from_median_offset() {
        // forward - price offsets over the trailing matched rows (first row excluded):
        // rows 2..7 -> 2, 3, 1, 10, 4, (last row forward missing)
        let m = mp(&[
            (100.0, 200.0, NAN), // row 0 never used
            (100.0, 102.0, NAN),
            (100.0, 103.0, NAN),
            (100.0, 101.0, NAN),
            (100.0, 110.0, NAN),
            (100.0, 104.0, NAN),
            (90.0, NAN, NAN),
        ]);
        let e = PriceSeries::default();
        let r = roll_multiple_prices(&m, &params("HMUZ", "HMUZ", 1), false, &e, &e).unwrap();
        // last five differences: 2, 3, 1, 10, 4 -> median 3
        assert_eq!(r.inferred_forward, Some(93.0));
        assert_eq!(r.inferred_price, None);
        let out = &r.multiple;
        assert_eq!(out.len(), m.len() + 2);
        let k = m.len();
        assert_eq!(out.ts[k], 7 * D + ONE_SECOND);
        assert_eq!((out.price[k], out.forward[k]), (90.0, 93.0));
        assert!(out.carry[k].is_nan());
        assert_eq!(out.price_contract[k], cid("20230900"));
        assert_eq!(out.ts[k + 1], 7 * D + 2 * ONE_SECOND);
        assert_eq!(out.price[k + 1], 93.0);
        assert_eq!(out.price_contract[k + 1], cid("20231200"));
        // and it stitches
        assert!(panama_stitch(out, false).is_ok());
    }

    #[test]
    fn inference_stops_at_contract_change_and_uses_even_median() {
        let mut m = mp(&[
            (100.0, 150.0, NAN),
            (100.0, 150.0, NAN),
            (100.0, 104.0, NAN),
            (100.0, 102.0, NAN),
            (NAN, 107.0, NAN),
        ]);
        // rows 0 and 1 belong to an older forward contract
        m.forward_contract[0] = cid("20230600");
        m.forward_contract[1] = cid("20230600");
        let e = PriceSeries::default();
        let r = roll_multiple_prices(&m, &params("HMUZ", "HMUZ", 1), false, &e, &e).unwrap();
        // price - forward offsets: -4, -2 -> median -3
        assert_eq!(r.inferred_price, Some(104.0));
    }

    #[test]
    fn price_falls_back_to_carry_and_can_fail() {
        let m = mp(&[(100.0, 101.0, 99.0), (100.0, 101.0, 98.0), (NAN, NAN, 97.0)]);
        let e = PriceSeries::default();
        let r = roll_multiple_prices(&m, &params("HMUZ", "HMUZ", 1), false, &e, &e).unwrap();
        // price - carry at row 1: 2 -> 99; forward - carry: 3 -> 100
        assert_eq!(
            (r.inferred_price, r.inferred_forward),
            (Some(99.0), Some(100.0))
        );

        let m = mp(&[(100.0, 101.0, NAN), (NAN, 101.0, NAN)]);
        let mut only_row = m.clone();
        only_row.price[0] = NAN;
        let err =
            roll_multiple_prices(&only_row, &params("HMUZ", "HMUZ", 1), false, &e, &e).unwrap_err();
        assert!(matches!(
            err,
            RollError::CannotInfer {
                column: "PRICE",
                ..
            }
        ));
        assert!(err.to_string().contains("can't roll"));
        // forward fill makes inference unnecessary
        let r = roll_multiple_prices(&m, &params("HMUZ", "HMUZ", 1), true, &e, &e).unwrap();
        assert_eq!(r.inferred_price, None);
        assert_eq!(r.multiple.price, vec![100.0, 100.0, 101.0]);
    }

    #[test]
    fn unsorted_or_inconsistent_input_is_an_error() {
        let mut m = mp(&[(1.0, 2.0, 3.0), (1.0, 2.0, 3.0)]);
        m.ts.swap(0, 1);
        let e = PriceSeries::default();
        assert!(matches!(
            roll_multiple_prices(&m, &params("HMUZ", "HMUZ", 1), false, &e, &e),
            Err(RollError::Unordered { .. })
        ));
        m.ts.pop();
        assert!(matches!(
            roll_contracts(&m, &params("HMUZ", "HMUZ", 1), false),
            Err(RollError::Inconsistent { .. })
        ));
    }
}
