//! Panama (additive) back-adjustment of multiple prices into one continuous price series, as
//! pysystemtrade does it (B7).
//!
//! *Full stitch* ([`panama_stitch`]): rows are walked in order; where the PRICE contract changes
//! (a roll), the roll differential `FORWARD − PRICE` of the row *before* the roll is added to
//! every adjusted value so far, and the new contract's PRICE is appended. So the latest contract
//! segment equals the raw prices and `adjusted − PRICE` is constant within each segment.
//!
//! *Daily no-roll update* ([`update_adjusted_no_roll`]): the PRICE values from the last
//! adjusted timestamp on are merged into the existing adjusted series, provided the PRICE
//! contract has not changed since then.

use super::contract::ContractId;
use super::merge::full_merge;
use super::series::{format_timestamp, AdjustedPrices, Micros, MultiplePrices, PriceSeries};

/// Why a stitch or an adjusted-price update failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PanamaError {
    #[error("cannot stitch empty multiple prices")]
    Empty,
    #[error("multiple prices have columns of different lengths ({rows} timestamps)")]
    Inconsistent { rows: usize },
    #[error(
        "roll at {}: no prices for both {price_contract} (PRICE {price}) and {forward_contract} \
         (FORWARD {forward}) on the row before it ({}); fill them in, or stitch with forward fill",
        format_timestamp(*.ts),
        format_timestamp(*.previous_ts)
    )]
    MissingRollPrices {
        /// First row of the new contract.
        ts: Micros,
        /// The row whose prices give the roll differential.
        previous_ts: Micros,
        price_contract: ContractId,
        forward_contract: ContractId,
        price: f64,
        forward: f64,
    },
    #[error("existing adjusted prices are empty: stitch them in full instead")]
    EmptyAdjusted,
    #[error(
        "multiple prices have no row at or before the last adjusted timestamp {}",
        format_timestamp(*.ts)
    )]
    NoContractAtLastAdjusted { ts: Micros },
    #[error(
        "roll has occurred but is not registered: PRICE contract is {found} at {} but \
         {expected} at the last adjusted timestamp; re-stitch the adjusted prices",
        format_timestamp(*.ts)
    )]
    RollNotRegistered {
        ts: Micros,
        expected: ContractId,
        found: ContractId,
    },
}

/// Forward-fills NaNs (leading NaNs stay).
fn ffill(values: &[f64]) -> Vec<f64> {
    let mut last = f64::NAN;
    values
        .iter()
        .map(|v| {
            if !v.is_nan() {
                last = *v;
            }
            last
        })
        .collect()
}

/// How the roll differentials after a row are added to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Summation {
    /// `p + (d_k + (d_{k+1} + … + d_n))`: one addition per row.
    Suffix,
    /// `((p + d_k) + d_{k+1}) + …`: pysystemtrade's order, one addition per row per later roll.
    #[cfg_attr(not(test), allow(dead_code))]
    Sequential,
}

/// Full Panama stitch of multiple prices; same timestamps as the input, NaN where PRICE is NaN.
/// With `forward_fill`, the price columns are forward-filled first (pandas `ffill` on the frame),
/// so NaN PRICEs take the last known price and roll rows may borrow earlier prices.
pub fn panama_stitch(
    m: &MultiplePrices,
    forward_fill: bool,
) -> Result<AdjustedPrices, PanamaError> {
    stitch(m, forward_fill, Summation::Suffix)
}

fn stitch(
    m: &MultiplePrices,
    forward_fill: bool,
    order: Summation,
) -> Result<AdjustedPrices, PanamaError> {
    let n = m.len();
    if n == 0 {
        return Err(PanamaError::Empty);
    }
    if !m.is_consistent() {
        return Err(PanamaError::Inconsistent { rows: n });
    }
    let (mut value, forward) = if forward_fill {
        (ffill(&m.price), Some(ffill(&m.forward)))
    } else {
        (m.price.clone(), None)
    };
    let forward: &[f64] = forward.as_deref().unwrap_or(&m.forward);

    // Roll rows and their differentials, in time order.
    let mut rolls: Vec<(usize, f64)> = Vec::new();
    for i in 1..n {
        if m.price_contract[i] != m.price_contract[i - 1] {
            let (p, f) = (value[i - 1], forward[i - 1]);
            let d = f - p;
            if d.is_nan() {
                return Err(PanamaError::MissingRollPrices {
                    ts: m.ts[i],
                    previous_ts: m.ts[i - 1],
                    price_contract: m.price_contract[i - 1],
                    forward_contract: m.forward_contract[i - 1],
                    price: p,
                    forward: f,
                });
            }
            rolls.push((i, d));
        }
    }

    match order {
        Summation::Suffix => {
            // From the latest segment back: each earlier segment gets the sum of the roll
            // differentials after it, accumulated from the latest roll backwards.
            let mut offset = 0.0;
            for j in (0..rolls.len()).rev() {
                offset += rolls[j].1;
                let seg_start = if j == 0 { 0 } else { rolls[j - 1].0 };
                for v in &mut value[seg_start..rolls[j].0] {
                    *v += offset;
                }
            }
        }
        Summation::Sequential => {
            for &(roll_at, d) in &rolls {
                for v in &mut value[..roll_at] {
                    *v += d;
                }
            }
        }
    }
    Ok(PriceSeries {
        ts: m.ts.clone(),
        value,
    })
}

/// Daily update without a roll: PRICE values from the last adjusted timestamp (inclusive) on,
/// NaNs dropped, are merged into `existing` (existing non-NaN values kept, NaNs filled, new
/// timestamps appended). Fails with [`PanamaError::RollNotRegistered`] when any of those rows has
/// a PRICE contract other than the one at the last adjusted timestamp.
pub fn update_adjusted_no_roll(
    existing: &AdjustedPrices,
    m: &MultiplePrices,
) -> Result<AdjustedPrices, PanamaError> {
    let Some(last) = existing.last_ts() else {
        return Err(PanamaError::EmptyAdjusted);
    };
    if !m.is_consistent() {
        return Err(PanamaError::Inconsistent { rows: m.len() });
    }
    let upto = m.ts.partition_point(|t| *t <= last);
    let Some(expected) = upto.checked_sub(1).map(|k| m.price_contract[k]) else {
        return Err(PanamaError::NoContractAtLastAdjusted { ts: last });
    };
    let from = m.ts.partition_point(|t| *t < last);
    let mut new = PriceSeries::default();
    for i in from..m.len() {
        let found = m.price_contract[i];
        if found != expected {
            return Err(PanamaError::RollNotRegistered {
                ts: m.ts[i],
                expected,
                found,
            });
        }
        if !m.price[i].is_nan() {
            new.ts.push(m.ts[i]);
            new.value.push(m.price[i]);
        }
    }
    Ok(full_merge(existing, &new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    const D: Micros = 86_400_000_000;

    fn cid(s: &str) -> ContractId {
        ContractId::parse(s).unwrap()
    }

    fn mp(rows: &[(f64, &str, f64, &str)]) -> MultiplePrices {
        let n = rows.len();
        MultiplePrices {
            ts: (0..n as i64).map(|i| (i + 1) * D).collect(),
            price: rows.iter().map(|r| r.0).collect(),
            price_contract: rows.iter().map(|r| cid(r.1)).collect(),
            forward: rows.iter().map(|r| r.2).collect(),
            forward_contract: rows.iter().map(|r| cid(r.3)).collect(),
            carry: vec![f64::NAN; n],
            carry_contract: rows.iter().map(|r| cid(r.3)).collect(),
        }
    }

    const A: &str = "20230300";
    const B: &str = "20230600";
    const C: &str = "20230900";
    const NAN: f64 = f64::NAN;

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-12)
    }

    #[test]
    fn stitches_two_rolls() {
        let m = mp(&[
            (10.0, A, 12.0, B),
            (11.0, A, 13.0, B), // roll differential 2
            (13.5, B, 15.0, C),
            (14.0, B, 17.0, C), // roll differential 3
            (17.5, C, NAN, "20231200"),
            (NAN, C, NAN, "20231200"),
        ]);
        let adj = panama_stitch(&m, false).unwrap();
        assert_eq!(adj.ts, m.ts);
        assert!(same(&adj.value, &[15.0, 16.0, 16.5, 17.0, 17.5, NAN]));
        // the row before each roll now equals the forward price
        assert_eq!(adj.value[3], 17.0);
    }

    #[test]
    fn missing_roll_prices_name_timestamp_and_contracts() {
        let m = mp(&[(10.0, A, 12.0, B), (11.0, A, NAN, B), (13.0, B, 15.0, C)]);
        let err = panama_stitch(&m, false).unwrap_err();
        assert!(matches!(
            err,
            PanamaError::MissingRollPrices { ts, previous_ts, .. } if ts == 3 * D && previous_ts == 2 * D
        ));
        let msg = err.to_string();
        assert!(msg.contains(A) && msg.contains(B), "{msg}");
        assert!(msg.contains("1970-01-04 00:00:00"), "{msg}");
        // forward fill borrows the earlier forward price
        let adj = panama_stitch(&m, true).unwrap();
        assert!(same(&adj.value, &[11.0, 12.0, 13.0]));
    }

    #[test]
    fn forward_fill_fills_price_gaps_but_not_leading_nans() {
        let m = mp(&[
            (NAN, A, 12.0, B),
            (10.0, A, 12.0, B),
            (NAN, A, 13.0, B),
            (14.0, B, NAN, C),
        ]);
        let adj = panama_stitch(&m, true).unwrap();
        // roll differential from the filled row before the roll: 13 - 10 = 3
        assert!(same(&adj.value, &[NAN, 13.0, 13.0, 14.0]));
        let plain = panama_stitch(&m, false);
        assert!(matches!(plain, Err(PanamaError::MissingRollPrices { .. })));
    }

    #[test]
    fn empty_and_inconsistent_inputs_are_errors() {
        assert_eq!(
            panama_stitch(&MultiplePrices::default(), false),
            Err(PanamaError::Empty)
        );
        let mut m = mp(&[(1.0, A, 2.0, B)]);
        m.carry.push(1.0);
        assert!(matches!(
            panama_stitch(&m, false),
            Err(PanamaError::Inconsistent { .. })
        ));
    }

    #[test]
    fn single_contract_is_unchanged() {
        let m = mp(&[(1.0, A, 2.0, B), (NAN, A, 2.0, B), (3.0, A, 2.0, B)]);
        assert!(same(&panama_stitch(&m, false).unwrap().value, &m.price));
    }

    #[test]
    fn suffix_and_sequential_orders_agree_closely() {
        let m = mp(&[
            (0.1, A, 0.3, B),
            (0.2, A, 0.7, B),
            (0.3, B, 0.1, C),
            (0.6, B, 0.9, C),
            (0.7, C, 0.8, "20231200"),
        ]);
        let a = stitch(&m, false, Summation::Suffix).unwrap();
        let b = stitch(&m, false, Summation::Sequential).unwrap();
        for (x, y) in a.value.iter().zip(&b.value) {
            assert!((x - y).abs() < 1e-15);
        }
    }

    // --- daily no-roll update -----------------------------------------------------------------

    #[test]
    fn no_roll_update_appends_fills_and_keeps() {
        let m = mp(&[
            (10.0, A, 12.0, B),
            (11.0, A, 13.0, B),
            (13.5, B, 15.0, C),
            (14.0, B, 16.0, C),
            (NAN, B, 16.0, C),
            (15.0, B, 16.0, C),
        ]);
        // existing adjusted up to day 4, with a NaN at day 4
        let existing = PriceSeries {
            ts: vec![D, 2 * D, 3 * D, 4 * D],
            value: vec![12.0, 13.0, 13.5, NAN],
        };
        let out = update_adjusted_no_roll(&existing, &m).unwrap();
        assert_eq!(out.ts, vec![D, 2 * D, 3 * D, 4 * D, 6 * D]);
        assert!(same(&out.value, &[12.0, 13.0, 13.5, 14.0, 15.0]));
        // an existing non-NaN value is never replaced
        let existing = PriceSeries {
            ts: vec![3 * D, 4 * D],
            value: vec![1.0, 2.0],
        };
        let out = update_adjusted_no_roll(&existing, &m).unwrap();
        assert!(same(&out.value, &[1.0, 2.0, 15.0]));
    }

    #[test]
    fn no_roll_update_detects_unregistered_roll() {
        let m = mp(&[(10.0, A, 12.0, B), (11.0, A, 13.0, B), (13.5, B, 15.0, C)]);
        let existing = PriceSeries {
            ts: vec![D, 2 * D],
            value: vec![10.0, 11.0],
        };
        let err = update_adjusted_no_roll(&existing, &m).unwrap_err();
        assert_eq!(
            err,
            PanamaError::RollNotRegistered {
                ts: 3 * D,
                expected: cid(A),
                found: cid(B)
            }
        );
        assert!(err.to_string().contains("not registered"));
        assert_eq!(
            update_adjusted_no_roll(&PriceSeries::default(), &m),
            Err(PanamaError::EmptyAdjusted)
        );
        let early = PriceSeries {
            ts: vec![0],
            value: vec![1.0],
        };
        assert_eq!(
            update_adjusted_no_roll(&early, &m),
            Err(PanamaError::NoContractAtLastAdjusted { ts: 0 })
        );
    }

    // --- invariants ---------------------------------------------------------------------------

    fn arb_multiple() -> impl Strategy<Value = MultiplePrices> {
        // (price, forward, roll here?) rows; contracts advance by one month per roll
        prop::collection::vec(
            (
                prop::option::weighted(0.9, 1.0f64..1000.0),
                1.0f64..1000.0,
                prop::bool::weighted(0.1),
            ),
            1..80,
        )
        .prop_map(|rows| {
            let mut m = MultiplePrices::default();
            let mut month = 0u32;
            for (i, (p, f, roll)) in rows.iter().enumerate() {
                if *roll && i > 0 {
                    month += 1;
                    // the row before a roll needs both prices
                    let last = m.price.len() - 1;
                    if m.price[last].is_nan() {
                        m.price[last] = 5.0;
                    }
                }
                let c = ContractId::monthly(2000 + (month / 12) as i32, month % 12 + 1);
                m.ts.push(i as i64 * D);
                m.price.push(p.unwrap_or(f64::NAN));
                m.forward.push(*f);
                m.carry.push(f64::NAN);
                m.price_contract.push(c);
                m.forward_contract.push(c);
                m.carry_contract.push(c);
            }
            m
        })
    }

    proptest! {
        #[test]
        fn adjusted_minus_price_is_constant_per_segment(m in arb_multiple()) {
            let adj = panama_stitch(&m, false).unwrap();
            prop_assert_eq!(&adj.ts, &m.ts);
            let last = *m.price_contract.last().unwrap();
            let mut seg_offset: Option<f64> = None;
            for i in 0..m.len() {
                if i > 0 && m.price_contract[i] != m.price_contract[i - 1] {
                    seg_offset = None;
                }
                prop_assert_eq!(adj.value[i].is_nan(), m.price[i].is_nan());
                if m.price[i].is_nan() { continue; }
                let off = adj.value[i] - m.price[i];
                if m.price_contract[i] == last {
                    prop_assert_eq!(off, 0.0);
                }
                match seg_offset {
                    None => seg_offset = Some(off),
                    Some(o) => prop_assert!((o - off).abs() < 1e-9, "{} vs {}", o, off),
                }
            }
            let seq = stitch(&m, false, Summation::Sequential).unwrap();
            prop_assert!(adj.value.iter().zip(&seq.value).all(|(a, b)| (a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-9));
        }
    }

    // --- golden test against pysystemtrade's shipped adjusted prices --------------------------

    fn data_dir() -> Option<PathBuf> {
        crate::test_support::shared_data_dir()
    }

    fn read_multiple_csv(path: &Path) -> MultiplePrices {
        crate::adapters::pysystemtrade_csv::read_multiple_prices(path)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
    }

    fn read_adjusted_csv(path: &Path) -> PriceSeries {
        crate::adapters::pysystemtrade_csv::read_adjusted_prices(path)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
    }

    /// Worst absolute difference at the adjusted file's timestamps (NaN must match NaN;
    /// a missing timestamp or a NaN mismatch is infinite).
    fn worst_difference(got: &PriceSeries, want: &PriceSeries) -> (f64, Micros) {
        let mut worst = (0.0f64, 0);
        for (t, w) in want.ts.iter().zip(&want.value) {
            let d = match got.ts.binary_search(t) {
                Err(_) => f64::INFINITY,
                Ok(k) => {
                    let g = got.value[k];
                    match (g.is_nan(), w.is_nan()) {
                        (true, true) => 0.0,
                        (false, false) => (g - w).abs(),
                        _ => f64::INFINITY,
                    }
                }
            };
            if d > worst.0 {
                worst = (d, *t);
            }
        }
        worst
    }

    #[test]
    #[cfg_attr(
        not(shared_data),
        ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
    )]
    fn golden_matches_pysystemtrade_adjusted_prices() {
        let Some(dir) = data_dir() else {
            return;
        };
        check_adjusted_in(&dir);
    }

    /// The same check on the small data set in the repo (runs on a fresh clone).
    #[test]
    fn golden_matches_pysystemtrade_adjusted_prices_in_the_repo_data() {
        check_adjusted_in(&crate::test_support::repo_data_dir());
    }

    /// Every instrument of `dir` with multiple and adjusted prices: our stitch of the multiple
    /// prices equals pysystemtrade's adjusted prices within 1e-9.
    fn check_adjusted_in(dir: &Path) {
        let mut codes: Vec<String> = std::fs::read_dir(dir.join("multiple_prices_csv"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                let code = name.strip_suffix(".csv")?.to_string();
                dir.join("adjusted_prices_csv")
                    .join(&name)
                    .is_file()
                    .then_some(code)
            })
            .collect();
        codes.sort();
        assert!(!codes.is_empty());
        let mut stitch_time = Duration::ZERO;
        let mut seq_time = Duration::ZERO;
        let mut overall = (0.0f64, String::new());
        let mut failures = Vec::new();
        for code in &codes {
            let m = read_multiple_csv(&dir.join(format!("multiple_prices_csv/{code}.csv")));
            let want = read_adjusted_csv(&dir.join(format!("adjusted_prices_csv/{code}.csv")));
            let ff = code == "WHEAT";
            let t0 = Instant::now();
            let got = panama_stitch(&m, ff).unwrap_or_else(|e| panic!("{code}: {e}"));
            stitch_time += t0.elapsed();
            let t1 = Instant::now();
            let seq = stitch(&m, ff, Summation::Sequential).unwrap();
            seq_time += t1.elapsed();
            let (w_suffix, at) = worst_difference(&got, &want);
            let (w_seq, _) = worst_difference(&seq, &want);
            let rolls = (1..m.len())
                .filter(|i| m.price_contract[*i] != m.price_contract[i - 1])
                .count();
            eprintln!(
                "{code:8} rows {:6} rolls {rolls:4}  worst |diff| suffix {w_suffix:.3e} (at {})  sequential {w_seq:.3e}",
                m.len(),
                format_timestamp(at)
            );
            if w_suffix > overall.0 {
                overall = (w_suffix, code.clone());
            }
            if w_suffix > 1e-9 {
                failures.push(format!("{code}: {w_suffix:e} at {}", format_timestamp(at)));
            }
        }
        eprintln!(
            "{} instruments; worst |diff| {:.3e} ({}); stitching took {:?} (suffix), {:?} (sequential)",
            codes.len(),
            overall.0,
            overall.1,
            stitch_time,
            seq_time
        );
        assert!(failures.is_empty(), "differences above 1e-9: {failures:?}");
    }
}
