//! Tests of the parent module.

use super::*;
use proptest::prelude::*;

const H: Micros = 3_600_000_000;
const D: Micros = 24 * H;

fn cid(s: &str) -> ContractId {
    ContractId::parse(s).unwrap()
}

fn series(ts: &[Micros], v: &[f64]) -> PriceSeries {
    PriceSeries {
        ts: ts.to_vec(),
        value: v.to_vec(),
    }
}

fn bars(ts: &[Micros], close: &[f64]) -> ContractPrices {
    ContractPrices {
        ts: ts.to_vec(),
        open: close.to_vec(),
        high: close.to_vec(),
        low: close.to_vec(),
        close: close.to_vec(),
        volume: vec![1.0; ts.len()],
    }
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-12)
}

// --- daily units and EWMA -----------------------------------------------------------------

#[test]
fn daily_unit_changes_match_pysystemtrade_doctest() {
    // 2000-01-01..03 daily [1,1,2], then 2000-01-06 00:00, 01:00, 02:00 hourly [4,1,8].
    let ts = [0, D, 2 * D, 5 * D, 5 * D + H, 5 * D + 2 * H];
    let x = [1.0, 1.0, 2.0, 4.0, 1.0, 8.0];
    let c = changes_in_daily_units(&ts, &x);
    let want = [0.0, 1.0, 1.154701, -14.696938, 34.292856];
    for (a, b) in c.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn ewma_matches_pandas_adjusted_with_nans() {
    // pandas: pd.Series([1, nan, 3, 4]).ewm(span=3).mean() -> 1, 1, 2.6, 3.4615...
    // alpha = 0.5: row 2 weights (0.25 on 1, 1 on 3) -> (0.25 + 3) / 1.25 = 2.6
    // row 3: old weight (1.25)*0.5 = 0.625 on 2.6, 1 on 4 -> (1.625 + 4) / 1.625 = 3.4615...
    let out = ewma_mean(&[1.0, f64::NAN, 3.0, 4.0], 3.0);
    assert_eq!(out[0], 1.0);
    assert_eq!(out[1], 1.0);
    assert!((out[2] - 2.6).abs() < 1e-12);
    assert!((out[3] - (0.625 * 2.6 + 4.0) / 1.625).abs() < 1e-12);
    // leading NaNs stay NaN until the first observation
    let out = ewma_mean(&[f64::NAN, 2.0, 4.0], 3.0);
    assert!(out[0].is_nan());
    assert_eq!(out[1], 2.0);
    assert!((out[2] - (0.5 * 2.0 + 4.0) / 1.5).abs() < 1e-12);
    assert!(ewma_mean(&[], 3.0).is_empty());
}

#[test]
fn ewma_equals_weighted_average_definition() {
    let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
    let out = ewma_mean(&v, 500.0);
    let a = 2.0 / 501.0;
    for i in 0..v.len() {
        let (mut num, mut den) = (0.0, 0.0);
        for k in 0..=i {
            let w = (1.0f64 - a).powi(k as i32);
            num += w * v[i - k];
            den += w;
        }
        assert!((out[i] - num / den).abs() < 1e-12);
    }
}

// --- append-only merge and spikes ---------------------------------------------------------

#[test]
fn append_only_merge_ignores_new_rows_not_after_last_old() {
    let old = bars(&[D, 2 * D, 3 * D], &[1.0, 1.1, 1.2]);
    let new = bars(&[2 * D, 3 * D, 4 * D, 5 * D], &[9.0, 9.0, 1.3, 1.25]);
    let out = spike_check_merge(&old, &new, 8.0).unwrap();
    assert_eq!(out.new_rows, 2);
    assert_eq!(out.merged.ts, vec![D, 2 * D, 3 * D, 4 * D, 5 * D]);
    assert_eq!(out.merged.close, vec![1.0, 1.1, 1.2, 1.3, 1.25]);
}

#[test]
fn nothing_new_is_zero_rows() {
    let old = bars(&[D, 2 * D], &[1.0, 1.1]);
    let out = spike_check_merge(&old, &bars(&[D, 2 * D], &[5.0, 5.0]), 8.0).unwrap();
    assert_eq!(out.new_rows, 0);
    assert_eq!(out.merged, old);
    let out = spike_check_merge(&old, &ContractPrices::default(), 8.0).unwrap();
    assert_eq!(out.new_rows, 0);
}

#[test]
fn only_new_data_is_all_new_and_sorted() {
    let new = bars(&[2 * D, D, D], &[1.1, 1.0, 7.0]);
    let out = spike_check_merge(&ContractPrices::default(), &new, 8.0).unwrap();
    assert_eq!(out.new_rows, 2);
    assert_eq!(out.merged.ts, vec![D, 2 * D]);
    assert_eq!(out.merged.close, vec![1.0, 1.1]);
}

fn wiggle(n: usize) -> (Vec<Micros>, Vec<f64>) {
    let ts: Vec<Micros> = (0..n as i64).map(|i| i * D).collect();
    let x: Vec<f64> = (0..n)
        .map(|i| 100.0 + if i % 2 == 0 { 0.0 } else { 1.0 })
        .collect();
    (ts, x)
}

#[test]
fn spike_after_join_is_reported_and_nothing_merged() {
    let (ts, x) = wiggle(50);
    let old = bars(&ts, &x);
    // a 20-point jump where daily moves are 1 point: ratio well above 8
    let new = bars(&[50 * D, 51 * D], &[100.0, 120.0]);
    let err = spike_check_merge(&old, &new, 8.0).unwrap_err();
    assert_eq!(err.ts, 51 * D);
    assert_eq!(err.value, 120.0);
    assert!(err.ratio > 8.0);
    assert!(err.to_string().contains("price spike at"));
    // a modest move passes
    let ok = spike_check_merge(&old, &bars(&[50 * D, 51 * D], &[100.0, 102.0]), 8.0).unwrap();
    assert_eq!(ok.new_rows, 2);
}

#[test]
fn spike_before_join_date_is_not_checked() {
    let (ts, mut x) = wiggle(50);
    x[30] = 150.0; // an old spike
    let old = bars(&ts, &x);
    let new = bars(&[50 * D], &[101.0]);
    assert!(spike_check_merge(&old, &new, 8.0).is_ok());
    // with no old data everything is checked
    assert!(spike_check_merge(&ContractPrices::default(), &old, 8.0).is_err());
}

#[test]
fn hourly_moves_are_scaled_up() {
    // a 1-point move in one hour counts as sqrt(24) points per day
    let (mut ts, mut x) = wiggle(50);
    ts.push(49 * D + H);
    x.push(x[49] + 1.0);
    let c = changes_in_daily_units(&ts, &x);
    assert!((c[49] - 24f64.sqrt()).abs() < 1e-12);
}

#[test]
fn fx_series_variant_checks_spikes_too() {
    let (ts, x) = wiggle(50);
    let old = series(&ts, &x);
    let err = spike_check_merge_series(&old, &series(&[50 * D], &[200.0]), 8.0).unwrap_err();
    assert_eq!(err.ts, 50 * D);
    let ok = spike_check_merge_series(&old, &series(&[50 * D], &[100.5]), 8.0).unwrap();
    assert_eq!((ok.new_rows, ok.merged.len()), (1, 51));
}

// --- daily + hourly -----------------------------------------------------------------------

#[test]
fn merged_bars_follow_pysystemtrade_doctest_and_daily_wins() {
    let d = |day: i64, h: i64| day * D + h * H;
    let daily = bars(&[d(0, 23), d(1, 23), d(2, 23)], &[3.0, 5.0, 6.0]);
    let hourly = bars(
        &[d(0, 15), d(0, 16), d(1, 15), d(1, 23)],
        &[1.0, 2.0, 4.0, 99.0],
    );
    let m = merge_daily_and_hourly(&daily, &hourly);
    assert_eq!(
        m.ts,
        vec![d(0, 15), d(0, 16), d(0, 23), d(1, 15), d(1, 23), d(2, 23)]
    );
    assert_eq!(m.close, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
}

#[test]
fn merged_bars_fill_daily_nan_from_hourly_like_groupby_last() {
    let mut daily = bars(&[23 * H], &[2.0]);
    daily.volume[0] = f64::NAN;
    let mut hourly = bars(&[23 * H], &[1.0]);
    hourly.volume[0] = 10.0;
    let m = merge_daily_and_hourly(&daily, &hourly);
    assert_eq!((m.close[0], m.volume[0]), (2.0, 10.0));
}

// --- full merge ---------------------------------------------------------------------------

#[test]
fn full_merge_matches_pysystemtrade_doctest() {
    let old = series(&[D, 2 * D, 3 * D, 4 * D], &[1.0, f64::NAN, 3.0, f64::NAN]);
    let new = series(&[D, 2 * D, 3 * D, 4 * D], &[2.0, 5.0, f64::NAN, 8.0]);
    assert_eq!(full_merge(&old, &new).value, vec![1.0, 5.0, 3.0, 8.0]);
    // appends and interleaves new timestamps; a NaN without a new value stays NaN
    let old = series(&[D, 3 * D], &[f64::NAN, 3.0]);
    let new = series(&[2 * D, 4 * D], &[2.0, 4.0]);
    let m = full_merge(&old, &new);
    assert_eq!(m.ts, vec![D, 2 * D, 3 * D, 4 * D]);
    assert!(same(&m.value, &[f64::NAN, 2.0, 3.0, 4.0]));
    assert_eq!(full_merge(&PriceSeries::default(), &new), new);
    let kept = full_merge(&old, &PriceSeries::default());
    assert_eq!(kept.ts, old.ts);
    assert!(same(&kept.value, &old.value));
}

// --- label-column merge: pysystemtrade's doctests (index a1..a4 = 1..4) -------------------

fn labels(s: &[&str]) -> Vec<ContractId> {
    s.iter()
        .map(|x| match *x {
            "a" => cid("20200100"),
            "b" => cid("20200200"),
            _ => cid("20200300"),
        })
        .collect()
}

fn run_label_merge(
    ov: &[f64],
    ol: &[&str],
    nts: &[Micros],
    nv: &[f64],
    nl: &[&str],
) -> (Vec<Micros>, Vec<f64>, Vec<Option<ContractId>>) {
    let ots: Vec<Micros> = (1..=ov.len() as i64).collect();
    let out = merge_with_label_column(&ots, ov, &labels(ol), nts, nv, &labels(nl));
    (out.ts, out.value, out.label)
}

fn some(s: &[&str]) -> Vec<Option<ContractId>> {
    labels(s).into_iter().map(Some).collect()
}

#[test]
fn label_merge_doctests() {
    let nan = f64::NAN;
    let s1 = [1.0, 2.0, 3.0, nan];
    let l1 = ["a", "a", "b", "b"];
    let (ts, v, l) = run_label_merge(&s1, &l1, &[2, 3, 4], &[7.0, 3.0, 4.0], &["b", "b", "b"]);
    assert_eq!(ts, vec![1, 2, 3, 4]);
    assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(l, some(&["a", "a", "b", "b"]));

    let (_, v, _) = run_label_merge(&s1, &l1, &[2, 3, 4], &[2.0, 5.0, 4.0], &["b", "b", "b"]);
    assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0]);

    let (_, v, _) = run_label_merge(&s1, &l1, &[2, 3, 4], &[2.0, 3.0, nan], &["b", "b", "b"]);
    assert!(same(&v, &[1.0, 2.0, 3.0, nan]));

    let s1 = [1.0, nan, 3.0, nan];
    let (_, v, l) = run_label_merge(&s1, &l1, &[2, 3, 4], &[2.0, 3.0, 4.0], &["a", "b", "b"]);
    assert_eq!(v, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(l, some(&["a", "a", "b", "b"]));

    let s1 = [1.0, nan, nan];
    let l1 = ["a", "a", "b"];
    let (ts, v, l) = run_label_merge(&s1, &l1, &[2, 3, 4], &[2.0, 3.0, 4.0], &["b", "b", "b"]);
    assert_eq!(ts, vec![1, 2, 3, 4]);
    assert!(same(&v, &[1.0, nan, 3.0, 4.0]));
    assert_eq!(l, some(&["a", "a", "b", "b"]));

    let (ts, v, l) = run_label_merge(&s1, &l1, &[2, 3, 4], &[2.0, 3.0, 4.0], &["b", "c", "c"]);
    assert_eq!(ts, vec![1, 2, 3]);
    assert!(same(&v, &[1.0, nan, nan]));
    assert_eq!(l, some(&["a", "a", "b"]));
}

#[test]
fn label_match_doctests() {
    let o: Vec<Micros> = vec![1, 2, 3, 4];
    let ol = labels(&["a", "a", "b", "b"]);
    let m = |nts: &[Micros], nl: &[&str]| find_label_match(&o, &ol, nts, &labels(nl));
    assert_eq!(
        m(&[2, 3, 4], &["b", "b", "b"]),
        LabelMatch::From {
            first_after: 3,
            last_mismatch: 2
        }
    );
    assert_eq!(
        m(&[2, 3, 4], &["a", "b", "b"]),
        LabelMatch::From {
            first_after: 2,
            last_mismatch: 1
        }
    );
    assert_eq!(
        m(&[2, 3, 4], &["c", "c", "c"]),
        LabelMatch::MismatchOnLastDay
    );
    assert_eq!(
        m(&[1, 2, 3, 4], &["a", "a", "b", "b"]),
        LabelMatch::OriginalIndexMatchesNew
    );
    assert_eq!(
        m(&[1, 2, 3, 4], &["a", "c", "c", "c"]),
        LabelMatch::MismatchOnLastDay
    );
}

#[test]
fn new_start_missing_from_stored_counts_as_mismatch_and_is_dropped() {
    // stored t=10 (a), t=30 (b); new b at t=20 and t=30: t=20 has no stored label yet
    let out = merge_with_label_column(
        &[10, 30],
        &[1.0, f64::NAN],
        &labels(&["a", "b"]),
        &[20, 30, 40],
        &[2.0, 3.0, 4.0],
        &labels(&["b", "b", "b"]),
    );
    assert_eq!(out.ts, vec![10, 30, 40]);
    assert_eq!(out.value, vec![1.0, 3.0, 4.0]);
}

// --- multiple prices update ---------------------------------------------------------------

fn stored() -> MultiplePrices {
    let a = cid("20230300");
    let b = cid("20230600");
    let c = cid("20230900");
    MultiplePrices {
        ts: vec![D, 2 * D, 3 * D, 4 * D],
        price: vec![10.0, 11.0, 20.0, f64::NAN],
        forward: vec![20.0, 21.0, 30.0, 31.0],
        carry: vec![20.0, 21.0, 30.0, f64::NAN],
        price_contract: vec![a, a, b, b],
        forward_contract: vec![b, b, c, c],
        carry_contract: vec![b, b, c, c],
    }
}

#[test]
fn multiple_prices_update_fills_and_appends() {
    let s = stored();
    // full price history of the current contracts
    let price = series(
        &[D, 2 * D, 3 * D, 4 * D, 5 * D],
        &[19.0, 19.5, 99.0, 21.0, 22.0],
    );
    let forward = series(&[3 * D, 4 * D, 5 * D, 6 * D], &[30.0, 77.0, 32.0, 33.0]);
    let carry = series(&[3 * D, 5 * D], &[30.5, 32.5]);
    let m = update_multiple_prices(&s, &price, &forward, &carry).unwrap();
    assert_eq!(m.ts, vec![D, 2 * D, 3 * D, 4 * D, 5 * D, 6 * D]);
    // old labels a at D, 2D differ from b: untouched; 3D keeps 20.0; 4D filled; 5D appended
    assert!(same(&m.price, &[10.0, 11.0, 20.0, 21.0, 22.0, f64::NAN]));
    assert!(same(&m.forward, &[20.0, 21.0, 30.0, 31.0, 32.0, 33.0]));
    // 3D keeps the stored 30.0, 4D has no new value and stays NaN
    assert!(same(
        &m.carry,
        &[20.0, 21.0, 30.0, f64::NAN, 32.5, f64::NAN]
    ));
    let b = cid("20230600");
    let c = cid("20230900");
    assert_eq!(m.price_contract[3..], [b, b, b]);
    assert_eq!(m.forward_contract[4..], [c, c]);
    assert_eq!(m.carry_contract[5], c);
    assert!(m.is_consistent());
}

#[test]
fn new_data_starting_after_the_last_stored_row_is_ignored() {
    // pysystemtrade compares labels from the first new timestamp on, with stored labels
    // filled forward only within that period: none exists there, so it is a mismatch on
    // the last day and the stored column is kept.
    let s = stored();
    let e = PriceSeries::default();
    let carry = series(&[5 * D], &[32.5]);
    let m = update_multiple_prices(&s, &e, &e, &carry).unwrap();
    assert_eq!(m.ts, s.ts);
    assert!(same(&m.carry, &s.carry));
}

#[test]
fn multiple_prices_update_with_no_new_data_is_identity() {
    let s = stored();
    let e = PriceSeries::default();
    let m = update_multiple_prices(&s, &e, &e, &e).unwrap();
    assert_eq!(m.ts, s.ts);
    assert!(same(&m.price, &s.price));
    assert_eq!(m.carry_contract, s.carry_contract);
}

#[test]
fn multiple_prices_update_errors() {
    let e = PriceSeries::default();
    assert_eq!(
        update_multiple_prices(&MultiplePrices::default(), &e, &e, &e),
        Err(MergeError::EmptyStored)
    );
    let bad = series(&[2 * D, D], &[1.0, 2.0]);
    let err = update_multiple_prices(&stored(), &e, &bad, &e).unwrap_err();
    assert!(err.to_string().starts_with("FORWARD series"));
}

// --- real data: truncate, then update from per-contract closes ------------------------------

fn data_dir() -> Option<std::path::PathBuf> {
    crate::test_support::shared_data_dir()
}

/// Values of one column where its contract is `c`, standing in for that contract's closes.
/// Like a real contract history it starts long before: a bogus first bar at the first
/// timestamp, where the stored label differs, so it must be ignored.
fn closes_of(ts: &[Micros], v: &[f64], l: &[ContractId], c: ContractId) -> PriceSeries {
    let mut s = PriceSeries::default();
    if l[0] != c {
        s.ts.push(ts[0]);
        s.value.push(1e6);
    }
    for i in 0..ts.len() {
        if l[i] == c && !v[i].is_nan() {
            s.ts.push(ts[i]);
            s.value.push(v[i]);
        }
    }
    s
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn update_rebuilds_truncated_real_multiple_prices() {
    let Some(dir) = data_dir() else {
        return;
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir.join("multiple_prices_csv"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    for path in paths {
        let code = path.file_stem().unwrap().to_string_lossy().to_string();
        let full = crate::adapters::pysystemtrade_csv::read_multiple_prices(&path)
            .unwrap_or_else(|e| panic!("{code}: {e:?}"));
        let n = full.len();
        // cut after the last contract change in any column, keeping some rows to add
        let last_change = (1..n)
            .rev()
            .find(|&i| {
                full.price_contract[i] != full.price_contract[i - 1]
                    || full.forward_contract[i] != full.forward_contract[i - 1]
                    || full.carry_contract[i] != full.carry_contract[i - 1]
            })
            .unwrap_or(0);
        let cut = (last_change + 5).max(n.saturating_sub(150));
        assert!(cut < n, "{code}: nothing to add");
        let take = |v: &Vec<f64>| v[..cut].to_vec();
        let takec = |v: &Vec<ContractId>| v[..cut].to_vec();
        let mut stored = MultiplePrices {
            ts: full.ts[..cut].to_vec(),
            price: take(&full.price),
            forward: take(&full.forward),
            carry: take(&full.carry),
            price_contract: takec(&full.price_contract),
            forward_contract: takec(&full.forward_contract),
            carry_contract: takec(&full.carry_contract),
        };
        // knock a hole into the current segment: it must be filled again
        let hole = cut - 2;
        stored.price[hole] = f64::NAN;
        let pc = full.price_contract[n - 1];
        let fc = full.forward_contract[n - 1];
        let cc = full.carry_contract[n - 1];
        let price = closes_of(&full.ts, &full.price, &full.price_contract, pc);
        let forward = closes_of(&full.ts, &full.forward, &full.forward_contract, fc);
        let carry = closes_of(&full.ts, &full.carry, &full.carry_contract, cc);
        let m = update_multiple_prices(&stored, &price, &forward, &carry).unwrap();

        let expected: Vec<usize> = (0..n)
            .filter(|&i| {
                i < cut
                    || !(full.price[i].is_nan()
                        && full.forward[i].is_nan()
                        && full.carry[i].is_nan())
            })
            .collect();
        assert_eq!(m.len(), expected.len(), "{code}: row count");
        for (k, &i) in expected.iter().enumerate() {
            assert_eq!(m.ts[k], full.ts[i], "{code}: row {k}");
            let want = [full.price[i], full.forward[i], full.carry[i]];
            let got = [m.price[k], m.forward[k], m.carry[k]];
            assert!(
                same(&got, &want),
                "{code} at {}: {got:?} vs {want:?}",
                format_timestamp(m.ts[k])
            );
            assert_eq!(
                (
                    m.price_contract[k],
                    m.forward_contract[k],
                    m.carry_contract[k]
                ),
                (
                    full.price_contract[i],
                    full.forward_contract[i],
                    full.carry_contract[i]
                ),
                "{code}: contracts at {}",
                format_timestamp(m.ts[k])
            );
        }
    }
}

// --- invariants ---------------------------------------------------------------------------

fn arb_series() -> impl Strategy<Value = PriceSeries> {
    prop::collection::btree_map(0i64..60, prop::option::of(-100.0f64..100.0), 0..25).prop_map(|m| {
        PriceSeries {
            ts: m.keys().copied().collect(),
            value: m.values().map(|v| v.unwrap_or(f64::NAN)).collect(),
        }
    })
}

proptest! {
    #[test]
    fn full_merge_keeps_every_old_value(old in arb_series(), new in arb_series()) {
        let m = full_merge(&old, &new);
        prop_assert!(check_order(&m.ts).is_ok());
        for (t, v) in old.ts.iter().zip(&old.value) {
            let k = m.ts.binary_search(t).unwrap();
            if !v.is_nan() { prop_assert_eq!(m.value[k], *v); }
        }
        for (t, v) in new.ts.iter().zip(&new.value) {
            let k = m.ts.binary_search(t).unwrap();
            let old_nan = old.ts.binary_search(t).map_or(true, |i| old.value[i].is_nan());
            if old_nan && !v.is_nan() { prop_assert_eq!(m.value[k], *v); }
        }
    }

    #[test]
    fn append_merge_keeps_old_rows(old in arb_series(), new in arb_series()) {
        let out = spike_check_merge_series(&old, &new, f64::INFINITY).unwrap();
        prop_assert!(check_order(&out.merged.ts).is_ok());
        prop_assert_eq!(&out.merged.ts[..old.len()], &old.ts[..]);
        prop_assert!(same(&out.merged.value[..old.len()], &old.value));
        prop_assert_eq!(out.merged.len(), old.len() + out.new_rows);
    }

    #[test]
    fn multiple_prices_update_keeps_old_non_nan(
        new_p in arb_series(), new_f in arb_series(), new_c in arb_series()
    ) {
        let mut s = stored();
        for t in s.ts.iter_mut() { *t /= D; *t *= 10; } // 10, 20, 30, 40
        let m = update_multiple_prices(&s, &new_p, &new_f, &new_c).unwrap();
        prop_assert!(check_order(&m.ts).is_ok());
        prop_assert!(m.is_consistent());
        for (i, t) in s.ts.iter().enumerate() {
            let k = m.ts.binary_search(t).unwrap();
            for (old, new) in [(&s.price, &m.price), (&s.forward, &m.forward), (&s.carry, &m.carry)] {
                if !old[i].is_nan() { prop_assert_eq!(new[k], old[i]); }
            }
        }
    }
}
