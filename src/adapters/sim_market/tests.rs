//! Tests of the simulated exchange.

use super::*;
use crate::domain::instrument::RollCycle;
use crate::domain::series::parse_timestamp;
use chrono::{Timelike, Weekday};

#[allow(clippy::too_many_arguments)]
fn inst(
    code: &str,
    class: &str,
    currency: &str,
    hold: &str,
    priced: &str,
    roll_offset: i32,
    carry_offset: i32,
    expiry_offset: i32,
) -> (Instrument, RollParameters) {
    let c = InstrumentCode::new(code).unwrap();
    (
        Instrument {
            code: c.clone(),
            description: code.into(),
            point_size: 1.0,
            currency: currency.into(),
            asset_class: class.into(),
            per_block: 1.0,
            percentage: 0.0,
            per_trade: 0.0,
            region: "US".into(),
        },
        RollParameters {
            code: c,
            hold_cycle: RollCycle::parse(hold).unwrap(),
            roll_offset_days: roll_offset,
            carry_offset,
            priced_cycle: RollCycle::parse(priced).unwrap(),
            expiry_offset,
        },
    )
}

fn instruments() -> Vec<(Instrument, RollParameters)> {
    vec![
        inst("SP500", "Equity", "USD", "HMUZ", "HMUZ", -5, 1, 14),
        inst("US10", "Bond", "USD", "HMUZ", "HMUZ", -25, 1, 19),
        inst("GOLD", "Metals", "USD", "GJMQVZ", "GJMQVZ", -30, 1, 26),
        inst(
            "CRUDE_W",
            "OilGas",
            "USD",
            "Z",
            "FGHJKMNQUVXZ",
            -40,
            -1,
            -11,
        ),
        inst("EUR", "FX", "USD", "HMUZ", "HMUZ", -5, 1, 17),
        inst(
            "V2X",
            "Vol",
            "EUR",
            "FGHJKMNQUVXZ",
            "FGHJKMNQUVXZ",
            -60,
            -1,
            19,
        ),
        inst("CORN", "Ags", "USD", "Z", "HKNUZ", -60, -1, 14),
        inst("EDOLLAR", "Bond", "USD", "HMUZ", "HMUZ", -1100, -1, 18),
        inst("KOSPI", "Equity", "KRW", "HMUZ", "HMUZ", -1, 1, 13),
    ]
}

fn now() -> Micros {
    parse_timestamp("2024-06-28 22:00:00").unwrap()
}

fn config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        start: date("2015-01-01"),
        ..SimConfig::default()
    }
}

fn exchange_with(config: SimConfig) -> SimulatedExchange {
    SimulatedExchange::new(config, instruments()).with_now(now())
}

fn exchange(seed: u64) -> SimulatedExchange {
    exchange_with(config(seed))
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn code(s: &str) -> InstrumentCode {
    InstrumentCode::new(s).unwrap()
}

fn cid(s: &str) -> ContractId {
    ContractId::parse(s).unwrap()
}

const ALL: (Micros, Micros) = (Micros::MIN, Micros::MAX);

fn bars(
    x: &SimulatedExchange,
    c: &str,
    contract: &str,
    f: Frequency,
    from: Micros,
    to: Micros,
) -> ContractPrices {
    x.contract_bars(&code(c), cid(contract), f, from, to)
        .unwrap()
}

fn daily(x: &SimulatedExchange, c: &str, contract: &str) -> ContractPrices {
    bars(x, c, contract, Frequency::Daily, ALL.0, ALL.1)
}

fn concat(parts: &[ContractPrices]) -> ContractPrices {
    let mut out = ContractPrices::default();
    for p in parts {
        out.ts.extend(&p.ts);
        out.open.extend(&p.open);
        out.high.extend(&p.high);
        out.low.extend(&p.low);
        out.close.extend(&p.close);
        out.volume.extend(&p.volume);
    }
    out
}

#[test]
fn same_seed_same_bars_whatever_the_requests() {
    let x = exchange(7);
    let full = bars(&x, "SP500", "20231200", Frequency::Merged, ALL.0, ALL.1);
    assert!(full.len() > 2000, "{}", full.len());
    assert_eq!(
        full,
        bars(&x, "SP500", "20231200", Frequency::Merged, ALL.0, ALL.1)
    );

    // A fresh exchange, asked for the later half first and in pieces.
    let y = exchange(7);
    let mid = parse_timestamp("2023-06-15 18:00:00").unwrap();
    let late = bars(&y, "SP500", "20231200", Frequency::Merged, mid + 1, ALL.1);
    let early = bars(&y, "SP500", "20231200", Frequency::Merged, ALL.0, mid);
    assert_eq!(concat(&[early, late]), full);

    // Other contracts generated first do not change anything either.
    let z = exchange(7);
    let _ = daily(&z, "SP500", "20240300");
    let _ = daily(&z, "EUR", "20240300");
    assert_eq!(
        bars(&z, "SP500", "20231200", Frequency::Merged, ALL.0, ALL.1),
        full
    );

    let other = exchange(8);
    let d1 = daily(&x, "SP500", "20231200");
    let d2 = daily(&other, "SP500", "20231200");
    assert_eq!(d1.ts, d2.ts);
    assert_ne!(d1.close, d2.close);
}

#[test]
fn bars_are_consistent_business_days_at_the_right_hours() {
    let x = exchange(1);
    for (c, k) in [
        ("SP500", "20231200"),
        ("US10", "20220600"),
        ("CRUDE_W", "20201000"),
        ("V2X", "20240500"),
        ("CORN", "20230700"),
    ] {
        let d = daily(&x, c, k);
        assert!(!d.is_empty(), "{c} {k}");
        crate::domain::series::check_order(&d.ts).unwrap();
        for i in 0..d.len() {
            let dt = DateTime::from_timestamp_micros(d.ts[i]).unwrap();
            assert_eq!((dt.hour(), dt.minute(), dt.second()), (23, 0, 0));
            assert!(!matches!(dt.weekday(), Weekday::Sat | Weekday::Sun));
            assert!(d.low[i] > 0.0);
            assert!(d.low[i] <= d.open[i].min(d.close[i]), "{c} {k} row {i}");
            assert!(d.high[i] >= d.open[i].max(d.close[i]), "{c} {k} row {i}");
            assert!(d.volume[i] >= 0.0);
        }
        let h = bars(&x, c, k, Frequency::Hourly, ALL.0, ALL.1);
        assert_eq!(h.len(), d.len() * HOURS);
        crate::domain::series::check_order(&h.ts).unwrap();
        for i in 0..h.len() {
            let dt = DateTime::from_timestamp_micros(h.ts[i]).unwrap();
            assert!((14..=21).contains(&dt.hour()) && dt.minute() == 0);
            assert!(h.low[i] <= h.open[i].min(h.close[i]));
            assert!(h.high[i] >= h.open[i].max(h.close[i]));
        }
        // The daily bar aggregates the day's hourly bars.
        for (j, day) in h.close.chunks(HOURS).enumerate() {
            let r = j * HOURS..(j + 1) * HOURS;
            assert_eq!(day[HOURS - 1], d.close[j]);
            assert_eq!(h.open[r.start], d.open[j]);
            assert_eq!(date_of(h.ts[r.start]), date_of(d.ts[j]));
            let hi = h.high[r.clone()].iter().cloned().fold(f64::MIN, f64::max);
            let lo = h.low[r.clone()].iter().cloned().fold(f64::MAX, f64::min);
            assert_eq!((hi, lo), (d.high[j], d.low[j]));
            assert_eq!(h.volume[r].iter().sum::<f64>(), d.volume[j]);
        }
        // Merged = both, each day's hourly bars then its daily close.
        let m = bars(&x, c, k, Frequency::Merged, ALL.0, ALL.1);
        assert_eq!(m.len(), d.len() + h.len());
        crate::domain::series::check_order(&m.ts).unwrap();
    }
}

#[test]
fn contracts_trade_between_listing_and_expiry_only() {
    let x = exchange(3);
    for (c, k) in [
        ("SP500", "20231200"),
        ("CORN", "20231200"),
        ("EDOLLAR", "20231200"),
    ] {
        let (listing, expiry) = x.contract_life(&code(c), cid(k)).unwrap();
        let d = daily(&x, c, k);
        assert_eq!(date_of(d.ts[0]), business_day_on_or_after(listing), "{c}");
        assert_eq!(date_of(*d.ts.last().unwrap()), expiry, "{c}");
        assert!((expiry - listing).num_days() >= 380);
        let before = stamp(listing - Duration::days(30), 23);
        assert!(bars(&x, c, k, Frequency::Daily, ALL.0, before).is_empty());
        let after = stamp(expiry + Duration::days(1), 0);
        assert!(bars(&x, c, k, Frequency::Hourly, after, ALL.1).is_empty());
    }
    // The EDOLLAR contract held 1100 days before expiry, and the next held one, trade then.
    let (listing, _) = x.contract_life(&code("EDOLLAR"), cid("20270300")).unwrap();
    let roll = cid("20261200").approx_expiry(18) - Duration::days(1100);
    assert!(listing < roll);
    // CORN holds only Z and rolls 60 days early: next year's Z must already trade.
    let (listing, _) = x.contract_life(&code("CORN"), cid("20241200")).unwrap();
    assert!(listing < cid("20231200").approx_expiry(14) - Duration::days(60));
    // Nothing before the first simulated day.
    let d = daily(&x, "SP500", "20150300");
    assert_eq!(date_of(d.ts[0]), date("2015-01-01"));
    // A contract listed after "now" has no bars.
    assert!(daily(&x, "SP500", "20260300").is_empty());
    assert_eq!(
        x.contract_expiry(&code("SP500"), cid("20260300")).unwrap(),
        None
    );
}

#[test]
fn unknown_contracts_and_instruments() {
    let x = exchange(3);
    for k in ["20230100", "20231215"] {
        let e = x
            .contract_bars(&code("SP500"), cid(k), Frequency::Daily, ALL.0, ALL.1)
            .unwrap_err();
        assert!(matches!(e, MarketDataError::UnknownContract { .. }), "{e}");
        assert!(!e.is_retryable());
        assert_eq!(x.contract_expiry(&code("SP500"), cid(k)).unwrap(), None);
    }
    let e = x
        .contract_bars(
            &code("NOPE"),
            cid("20231200"),
            Frequency::Daily,
            ALL.0,
            ALL.1,
        )
        .unwrap_err();
    assert!(matches!(e, MarketDataError::UnknownInstrument(_)));
    assert!(x.contract_expiry(&code("NOPE"), cid("20231200")).is_err());
}

#[test]
fn expiry_is_near_but_not_at_the_approximate_expiry() {
    let x = exchange(5);
    let mut moved = 0;
    for (c, offset) in [("SP500", 14), ("GOLD", 26), ("CRUDE_W", -11), ("V2X", 19)] {
        for k in x.listed_contracts(&code(c), date("2024-01-15")).unwrap() {
            let e = x.contract_expiry(&code(c), k).unwrap().unwrap();
            let approx = k.approx_expiry(offset);
            let diff = (e - approx).num_days().abs();
            assert!((1..=5).contains(&diff), "{c} {k}: {e} vs {approx}");
            assert!(is_business_day(e));
            assert_eq!(x.contract_life(&code(c), k).unwrap().1, e);
            moved += 1;
        }
    }
    assert!(moved > 20);
}

#[test]
fn listed_contracts_are_the_live_chain() {
    let x = exchange(5);
    let d = date("2023-11-01");
    let l = x.listed_contracts(&code("SP500"), d).unwrap();
    assert_eq!(l[0], cid("20231200"));
    assert!(l.len() >= 4, "{l:?}");
    for k in &l {
        let (a, b) = x.contract_life(&code("SP500"), *k).unwrap();
        assert!(a <= d && d <= b);
    }
}

/// Log of (far / near) closes on common dates, with the carry rate and the years between the
/// two expiries.
fn spreads(x: &SimulatedExchange, c: &str, near: &str, far: &str) -> Vec<(f64, f64)> {
    let a = daily(x, c, near);
    let b = daily(x, c, far);
    let ea = x.contract_life(&code(c), cid(near)).unwrap().1;
    let eb = x.contract_life(&code(c), cid(far)).unwrap().1;
    let dt = (eb - ea).num_days() as f64 / 365.25;
    let mut out = Vec::new();
    for (i, ts) in a.ts.iter().enumerate() {
        if let Ok(j) = b.ts.binary_search(ts) {
            let carry = x.carry_rate(&code(c), date_of(*ts)).unwrap().unwrap();
            out.push(((b.close[j] / a.close[i]).ln(), carry * dt));
        }
    }
    out
}

#[test]
fn forward_contracts_differ_by_the_carry() {
    let x = exchange(11);
    let mut checked = 0;
    let mut signs = BTreeSet::new();
    // `tol`: daily scatter of the spread around the carry; `offset`: the largest constant
    // basis between the two contracts (seasonality of commodities).
    for (c, near, far, tol, offset) in [
        ("SP500", "20231200", "20240600", 0.004, 0.003),
        ("US10", "20220600", "20221200", 0.004, 0.003),
        ("EUR", "20210300", "20210900", 0.004, 0.003),
        ("GOLD", "20230600", "20231200", 0.006, 0.015),
        ("CRUDE_W", "20221100", "20230500", 0.006, 0.07),
    ] {
        let s = spreads(&x, c, near, far);
        assert!(s.len() > 60, "{c}");
        let n = s.len() as f64;
        let mean = s.iter().map(|(a, p)| a - p).sum::<f64>() / n;
        let sd = (s.iter().map(|(a, p)| (a - p - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < offset, "{c}: basis {mean}");
        assert!(sd < tol, "{c}: scatter {sd}");
        for (actual, predicted) in s {
            assert!((actual - predicted - mean).abs() < 5.0 * tol, "{c}");
            if predicted.abs() > offset + tol {
                assert_eq!(actual.signum(), predicted.signum(), "{c}");
                signs.insert(predicted > 0.0);
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked}");
    // Across seeds and instruments the curve is sometimes in contango, sometimes backwardated.
    for seed in 0..20 {
        let x = exchange(seed);
        for c in ["SP500", "GOLD", "CRUDE_W", "CORN", "US10"] {
            let r = x.carry_rate(&code(c), date("2020-06-01")).unwrap().unwrap();
            signs.insert(r > 0.0);
        }
    }
    assert_eq!(signs.len(), 2);
    // Vol indices: mostly contango.
    let v = x
        .carry_rate(&code("V2X"), date("2019-06-03"))
        .unwrap()
        .unwrap();
    assert!(v > -1.5 && v < 2.0, "{v}");
}

/// Annualised vol of daily log returns within contracts, each used in its last 4 months.
fn realised_vol(x: &SimulatedExchange, c: &str, from: NaiveDate, to: NaiveDate) -> f64 {
    let mut rets = Vec::new();
    let mut d = from;
    let mut seen = BTreeSet::new();
    while d < to {
        for k in x.listed_contracts(&code(c), d).unwrap().into_iter().take(1) {
            if seen.insert(k) {
                let (_, expiry) = x.contract_life(&code(c), k).unwrap();
                let p = bars(
                    x,
                    c,
                    &k.to_string(),
                    Frequency::Daily,
                    stamp(expiry - Duration::days(120), 0),
                    stamp(expiry, 23),
                );
                rets.extend(p.close.windows(2).map(|w| (w[1] / w[0]).ln()));
            }
        }
        d += Duration::days(7);
    }
    let n = rets.len() as f64;
    let mean = rets.iter().sum::<f64>() / n;
    let var = rets.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (var * 252.0).sqrt()
}

#[test]
fn realised_vol_is_near_the_target() {
    let x = exchange(2);
    for (c, target) in [
        ("SP500", 0.17),
        ("US10", 0.06),
        ("EUR", 0.08),
        ("GOLD", 0.15),
        ("CRUDE_W", 0.33),
        ("CORN", 0.24),
    ] {
        assert_eq!(x.instruments[&code(c)].params.vol, target);
        let v = realised_vol(&x, c, date("2018-01-01"), date("2023-01-01"));
        assert!(v > 0.5 * target && v < 2.0 * target, "{c}: {v} vs {target}");
    }
}

#[test]
fn volume_is_highest_in_the_front_contract() {
    let x = exchange(4);
    let at = |k: &str, d: &str| {
        let t = stamp(date(d), 23);
        bars(&x, "SP500", k, Frequency::Daily, t, t).volume[0]
    };
    // Mid-quarter: the front is far more liquid than the next.
    assert!(at("20230900", "2023-07-20") > 3.0 * at("20231200", "2023-07-20"));
    assert!(at("20231200", "2023-07-20") > at("20240300", "2023-07-20"));
    // On expiry day the next contract has taken over.
    let (_, e) = x.contract_life(&code("SP500"), cid("20230900")).unwrap();
    let e = e.format("%Y-%m-%d").to_string();
    assert!(at("20231200", &e) > at("20230900", &e));
}

#[test]
fn nothing_after_now() {
    let x = exchange(4);
    let h = bars(&x, "SP500", "20240900", Frequency::Merged, ALL.0, ALL.1);
    assert!(*h.ts.last().unwrap() <= now());
    assert_eq!(
        crate::domain::series::format_timestamp(*h.ts.last().unwrap()),
        "2024-06-28 21:00:00"
    );
    let d = daily(&x, "SP500", "20240900");
    assert_eq!(
        crate::domain::series::format_timestamp(*d.ts.last().unwrap()),
        "2024-06-27 23:00:00"
    );
    let later = x.with_now(parse_timestamp("2024-07-01 23:00:00").unwrap());
    let d2 = daily(&later, "SP500", "20240900");
    assert_eq!(d2.len(), d.len() + 2);
    assert_eq!(d2.close[..d.len()], d.close[..]);
}

#[test]
fn default_now_is_the_wall_clock() {
    let x = SimulatedExchange::new(config(4), instruments());
    let today = chrono::Utc::now().date_naive();
    let live = x.listed_contracts(&code("SP500"), today).unwrap();
    let before = chrono::Utc::now().timestamp_micros();
    let h = bars(
        &x,
        "SP500",
        &live[0].to_string(),
        Frequency::Merged,
        ALL.0,
        ALL.1,
    );
    assert!(!h.is_empty());
    assert!(*h.ts.last().unwrap() <= chrono::Utc::now().timestamp_micros());
    assert!(*h.ts.last().unwrap() > before - 5 * 86_400_000_000);
}

#[test]
fn spikes_multiply_the_close() {
    let base = exchange(9);
    let mut cfg = config(9);
    cfg.spikes.push(SpikeRequest {
        instrument: code("SP500"),
        contract: None,
        date: date("2023-10-10"),
        multiplier: 1.5,
    });
    cfg.spikes.push(SpikeRequest {
        instrument: code("US10"),
        contract: Some(cid("20231200")),
        date: date("2023-10-11"),
        multiplier: 0.5,
    });
    let spiked = exchange_with(cfg);
    for k in ["20231200", "20240300"] {
        let a = daily(&base, "SP500", k);
        let b = daily(&spiked, "SP500", k);
        for i in 0..a.len() {
            if date_of(a.ts[i]) == date("2023-10-10") {
                assert!((b.close[i] / a.close[i] - 1.5).abs() < 1e-12);
                assert!(b.high[i] >= b.close[i]);
                assert_eq!(b.open[i], a.open[i]);
            } else {
                assert_eq!(b.close[i], a.close[i]);
            }
        }
        let h = bars(&spiked, "SP500", k, Frequency::Hourly, ALL.0, ALL.1);
        let t = stamp(date("2023-10-10"), 21);
        let j = h.ts.binary_search(&t).unwrap();
        let i = b.ts.binary_search(&stamp(date("2023-10-10"), 23)).unwrap();
        assert_eq!(h.close[j], b.close[i]);
    }
    let a = daily(&base, "US10", "20240300");
    assert_eq!(a, daily(&spiked, "US10", "20240300"));
    let a = daily(&base, "US10", "20231200");
    let b = daily(&spiked, "US10", "20231200");
    let i = a.ts.binary_search(&stamp(date("2023-10-11"), 23)).unwrap();
    assert!((b.close[i] / a.close[i] - 0.5).abs() < 1e-12);
    assert!(b.low[i] <= b.close[i]);
}

#[test]
fn gaps_remove_bars() {
    let mut cfg = config(9);
    cfg.gaps.push(GapRequest {
        instrument: code("SP500"),
        contract: None,
        from: date("2023-10-09"),
        to: date("2023-10-13"),
    });
    let base = exchange(9);
    let gapped = exchange_with(cfg);
    for f in [Frequency::Daily, Frequency::Hourly] {
        let a = bars(&base, "SP500", "20231200", f, ALL.0, ALL.1);
        let b = bars(&gapped, "SP500", "20231200", f, ALL.0, ALL.1);
        let per_day = if f == Frequency::Daily { 1 } else { HOURS };
        assert_eq!(a.len() - b.len(), 5 * per_day);
        assert!(b.ts.iter().all(|t| {
            let d = date_of(*t);
            d < date("2023-10-09") || d > date("2023-10-13")
        }));
        // The days around are untouched.
        let keep: Vec<usize> = (0..a.len()).filter(|i| b.ts.contains(&a.ts[*i])).collect();
        assert_eq!(
            keep.iter().map(|i| a.close[*i]).collect::<Vec<_>>(),
            b.close
        );
    }
    assert_eq!(
        daily(&base, "US10", "20231200"),
        daily(&gapped, "US10", "20231200")
    );
}

#[test]
fn unavailable_fails_everything_retryably() {
    let mut cfg = config(1);
    cfg.unavailable = true;
    let x = exchange_with(cfg);
    let errs = [
        x.contract_bars(
            &code("SP500"),
            cid("20231200"),
            Frequency::Daily,
            ALL.0,
            ALL.1,
        )
        .unwrap_err(),
        x.fx_rates("EUR", ALL.0, ALL.1).unwrap_err(),
        x.contract_expiry(&code("SP500"), cid("20231200"))
            .unwrap_err(),
        x.listed_contracts(&code("SP500"), date("2023-01-02"))
            .unwrap_err(),
    ];
    for e in errs {
        assert!(matches!(e, MarketDataError::Unavailable(_)), "{e}");
        assert!(e.is_retryable());
    }
}

#[test]
fn fx_rates_are_plausible() {
    let mut cfg = config(6);
    cfg.extra_currencies = vec!["JPY".into(), "GBP".into(), "USD".into()];
    let x = exchange_with(cfg);
    assert_eq!(x.currencies(), vec!["EUR", "GBP", "JPY", "KRW"]);
    let eur = x.fx_rates("EUR", ALL.0, ALL.1).unwrap();
    assert!(eur.len() > 2000);
    assert!(eur.value.iter().all(|v| *v > 0.7 && *v < 1.6), "EUR");
    for t in &eur.ts {
        let dt = DateTime::from_timestamp_micros(*t).unwrap();
        assert_eq!(dt.hour(), 23);
        assert!(is_business_day(dt.date_naive()));
    }
    assert!(*eur.ts.last().unwrap() <= now());
    let jpy = x.fx_rates("JPY", ALL.0, ALL.1).unwrap();
    assert!(jpy.value.iter().all(|v| *v > 0.004 && *v < 0.011), "JPY");
    let krw = x.fx_rates("KRW", ALL.0, ALL.1).unwrap();
    assert!(krw.value.iter().all(|v| *v > 0.0004 && *v < 0.0013), "KRW");
    // Daily log changes of ~8 % a year.
    let r: Vec<f64> = eur.value.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let vol = (r.iter().map(|x| x * x).sum::<f64>() / r.len() as f64 * 252.0).sqrt();
    assert!(vol > 0.04 && vol < 0.16, "{vol}");
    // Ranges.
    let from = parse_timestamp("2020-03-02 00:00:00").unwrap();
    let to = parse_timestamp("2020-03-06 23:00:00").unwrap();
    assert_eq!(x.fx_rates("EUR", from, to).unwrap().len(), 5);
    // The EUR future converges to the EUR rate at expiry.
    let (_, e) = x.contract_life(&code("EUR"), cid("20220300")).unwrap();
    let f = daily(&x, "EUR", "20220300");
    let spot = x.fx_rates("EUR", stamp(e, 0), stamp(e, 23)).unwrap();
    assert!((f.close.last().unwrap() / spot.value[0] - 1.0).abs() < 0.002);

    for c in ["USD", "XYZ"] {
        let e = x.fx_rates(c, ALL.0, ALL.1).unwrap_err();
        assert!(matches!(e, MarketDataError::UnknownCurrency(_)), "{e}");
    }
}

#[test]
fn config_reads_from_toml() {
    let c: SimConfig = toml::from_str(
        r#"
        seed = 3
        start = "2010-01-01"
        [[spikes]]
        instrument = "SP500"
        date = "2020-01-06"
        multiplier = 10.0
        [[gaps]]
        instrument = "US10"
        contract = "20200300"
        from = "2020-01-06"
        to = "2020-01-10"
        "#,
    )
    .unwrap();
    assert_eq!(c.seed, 3);
    assert_eq!(c.spikes[0].contract, None);
    assert_eq!(c.gaps[0].contract, Some(cid("20200300")));
    assert!(!c.unavailable);
}

#[test]
fn ten_years_of_a_chain_is_fast() {
    let x = exchange(12);
    let t = std::time::Instant::now();
    let mut n = 0;
    for year in 2015..2025 {
        for m in [3, 6, 9, 12] {
            let k = ContractId::monthly(year, m).to_string();
            n += daily(&x, "SP500", &k).len();
        }
    }
    let took = t.elapsed();
    eprintln!("10 years of SP500 daily bars: {n} bars in {took:?}");
    assert!(n > 9000);
    assert!(took.as_secs_f64() < 2.0, "{took:?}");
}

/// The simulated exchange must be rich enough to start a price history from: for every shipped
/// instrument of the reference strategy, multiple prices built from its contracts' daily closes
/// stitch (the row before every roll has priced and forward closes).
#[test]
fn multiple_prices_built_from_the_market_stitch_for_the_reference_instruments() {
    use crate::domain::bootstrap::build_multiple_prices;
    use crate::domain::panama::panama_stitch;
    let reference =
        crate::adapters::reference_files::load_reference_data(std::path::Path::new("/nonexistent"))
            .unwrap();
    let codes = [
        "AUD", "COPPER", "CORN", "CRUDE_W", "EUR", "EUROSTX", "GAS_US", "GBP", "GOLD", "JPY",
        "KOSPI", "KR10", "KR3", "LEANHOG", "LIVECOW", "MXP", "NASDAQ", "NZD", "OAT", "PALLAD",
        "PLAT", "SHATZ", "SMI", "SOYBEAN", "SP500", "US10", "US2", "US20", "US5", "V2X", "VIX",
        "WHEAT",
    ];
    let mut subset = crate::domain::instrument::ReferenceData::default();
    for c in codes {
        let k = code(c);
        subset
            .instruments
            .insert(k.clone(), reference.instruments[&k].clone());
        subset
            .roll_parameters
            .insert(k.clone(), reference.roll_parameters[&k].clone());
    }
    let cfg = SimConfig {
        start: date("2021-01-01"),
        ..SimConfig::default()
    };
    let now = parse_timestamp("2023-06-30 23:00:00").unwrap();
    let x = SimulatedExchange::from_reference(cfg, &subset).with_now(now);
    let from = parse_timestamp("2021-01-01 00:00:00").unwrap();
    for c in codes {
        let k = code(c);
        let params = &subset.roll_parameters[&k];
        let mut contracts = std::collections::BTreeMap::new();
        let mut id = ContractId::monthly(2020, 1).at_or_after_in(&params.priced_cycle);
        while id.year() <= 2026 {
            let bars = x
                .contract_bars(&k, id, Frequency::Daily, from, now)
                .unwrap();
            if !bars.is_empty() {
                contracts.insert(id, bars);
            }
            id = id.next_in(&params.priced_cycle);
        }
        let m = build_multiple_prices(params, &contracts).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert!(m.len() > 500, "{c}: only {} rows", m.len());
        let adj = panama_stitch(&m, false).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_eq!(
            adj.value.last(),
            m.price.last(),
            "{c}: the latest segment equals raw prices"
        );
    }
}
