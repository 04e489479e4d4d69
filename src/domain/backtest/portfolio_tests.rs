//! Unit tests of the strategy run with remembered instruments: a run that shows a few
//! instruments and takes the others' weight inputs from a previous run gives the same results,
//! to the bit, as the whole run; a changed input is run again.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use super::*;
use crate::domain::backtest::config::parse_strategy;
use crate::domain::contract::ContractId;

const DAY: i64 = 86_400_000_000;

/// Three instruments of synthetic prices starting on different days, with versions a test
/// can change; counts the instruments read.
struct Synthetic {
    versions: Mutex<BTreeMap<String, u32>>,
    reads: Mutex<Vec<String>>,
}

fn start_day(code: &str) -> i64 {
    match code {
        "SP500" => 0,
        "GOLD" => 400,
        _ => 900,
    }
}

fn series(code: &str) -> (Vec<i64>, Vec<f64>) {
    let seed = code.bytes().map(u64::from).sum::<u64>();
    let mut x = seed;
    let mut price = 100.0;
    let (mut ts, mut v) = (Vec::new(), Vec::new());
    for day in start_day(code)..2000 {
        // Weekdays only (1970-01-01 was a Thursday).
        if (day + 3) % 7 >= 5 {
            continue;
        }
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        price += ((x >> 33) as f64 / f64::from(1u32 << 31) - 0.5) * 2.0;
        ts.push(day * DAY + 20 * 3_600_000_000);
        v.push(price);
    }
    (ts, v)
}

impl BacktestInputs for Synthetic {
    fn adjusted(&self, code: &InstrumentCode) -> Result<Option<AdjustedPrices>, String> {
        self.reads.lock().unwrap().push(code.to_string());
        let (ts, value) = series(code.as_str());
        Ok(Some(AdjustedPrices { ts, value }))
    }
    fn multiple(&self, code: &InstrumentCode) -> Result<Option<MultiplePrices>, String> {
        let (ts, price) = series(code.as_str());
        let n = ts.len();
        let c = |s: &str| ContractId::parse(s).unwrap();
        Ok(Some(MultiplePrices {
            ts,
            carry: price.iter().map(|p| p - 0.5).collect(),
            forward: price.iter().map(|p| p - 0.5).collect(),
            price,
            price_contract: vec![c("20300300"); n],
            forward_contract: vec![c("20300600"); n],
            carry_contract: vec![c("20300600"); n],
        }))
    }
    fn fx(&self, _currency: &str) -> Result<Option<FxPrices>, String> {
        Ok(None)
    }
    fn version(&self, code: &InstrumentCode, _currencies: &[&str]) -> Option<String> {
        let v = self.versions.lock().unwrap();
        Some(v.get(code.as_str()).copied().unwrap_or(0).to_string())
    }
}

fn setup() -> (StrategyConfig, ReferenceData, Synthetic) {
    let reference =
        crate::adapters::reference_files::load_reference_data(Path::new("/nonexistent")).unwrap();
    // The config tests' small strategy, over three instruments that start on different days.
    let text = crate::domain::backtest::config::tests::BASE.replace(
        "instruments = { AUD = 0.5, SP500 = 0.5 }",
        "instruments = { SP500 = 0.5, GOLD = 0.3, US10 = 0.2 }",
    );
    assert!(text.contains("GOLD = 0.3"), "the base strategy changed");
    let known: Vec<&str> = reference.instruments.keys().map(|c| c.as_str()).collect();
    let is_known =
        |c: &str| InstrumentCode::new(c).is_ok_and(|c| reference.instrument(&c).is_some());
    let strategy = parse_strategy("t.toml", &text, &is_known, &known).unwrap();
    let inputs = Synthetic {
        versions: Mutex::new(BTreeMap::new()),
        reads: Mutex::new(Vec::new()),
    };
    (strategy, reference, inputs)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn assert_same(a: &InstrumentRun, b: &InstrumentRun) {
    assert_eq!(a.code, b.code);
    let (p, q) = (&a.positions, &b.positions);
    for (name, x, y) in [
        (
            "instrument_weight",
            &p.instrument_weight,
            &q.instrument_weight,
        ),
        (
            "notional_position",
            &p.notional_position,
            &q.notional_position,
        ),
        ("top_pos", &p.top_pos, &q.top_pos),
        ("bot_pos", &p.bot_pos, &q.bot_pos),
    ] {
        assert_eq!(bits(x), bits(y), "{} {name}", a.code);
    }
}

#[test]
fn shown_instruments_with_remembered_others_equal_the_whole_run() {
    let (strategy, reference, inputs) = setup();
    let (whole, known) =
        run_strategy_shown(&strategy, &reference, &inputs, 2, None, &BTreeMap::new());
    assert_eq!(whole.instruments.len(), 3, "{:?}", whole.skipped);
    assert_eq!(known.len(), 3);
    // The late instruments take no weight before their first position: the weights differ
    // by day, so a wrong remembered input would show.
    let gold = whole.instruments.iter().find(|r| r.code == "GOLD").unwrap();
    assert_eq!(known["GOLD"].inputs.first_day, gold.stages.days[0]);
    assert!(known["GOLD"].inputs.first_position_day > known["SP500"].inputs.first_position_day);

    inputs.reads.lock().unwrap().clear();
    let shown = vec!["GOLD".to_string()];
    let (part, known_after) =
        run_strategy_shown(&strategy, &reference, &inputs, 2, Some(&shown), &known);
    assert_eq!(*inputs.reads.lock().unwrap(), ["GOLD"], "only GOLD is read");
    assert_eq!(part.instruments.len(), 1);
    assert_same(&part.instruments[0], gold);
    assert_eq!(known_after, known);
}

#[test]
fn a_changed_instrument_is_run_again_and_remembered_anew() {
    let (strategy, reference, inputs) = setup();
    let (whole, known) =
        run_strategy_shown(&strategy, &reference, &inputs, 2, None, &BTreeMap::new());
    // US10's prices "change" (a new version) and what was remembered of it is wrong: it must be
    // run again, not believed.
    inputs.versions.lock().unwrap().insert("US10".into(), 1);
    let mut stale = known.clone();
    stale.get_mut("US10").unwrap().inputs.first_position_day = Some(0);
    inputs.reads.lock().unwrap().clear();
    let shown = vec!["SP500".to_string()];
    let (part, known_after) =
        run_strategy_shown(&strategy, &reference, &inputs, 2, Some(&shown), &stale);
    let mut reads = inputs.reads.lock().unwrap().clone();
    reads.sort();
    assert_eq!(reads, ["SP500", "US10"]);
    let sp = whole
        .instruments
        .iter()
        .find(|r| r.code == "SP500")
        .unwrap();
    let got = part.instruments.iter().find(|r| r.code == "SP500").unwrap();
    assert_same(got, sp);
    assert_eq!(
        known_after["US10"].version,
        known["US10"].version.replacen('0', "1", 1)
    );
    assert_eq!(known_after["US10"].inputs, known["US10"].inputs);
}

#[test]
fn without_versions_nothing_is_remembered() {
    struct NoVersion(Synthetic);
    impl BacktestInputs for NoVersion {
        fn adjusted(&self, c: &InstrumentCode) -> Result<Option<AdjustedPrices>, String> {
            self.0.adjusted(c)
        }
        fn multiple(&self, c: &InstrumentCode) -> Result<Option<MultiplePrices>, String> {
            self.0.multiple(c)
        }
        fn fx(&self, c: &str) -> Result<Option<FxPrices>, String> {
            self.0.fx(c)
        }
    }
    let (strategy, reference, inputs) = setup();
    let inputs = NoVersion(inputs);
    let (run, known) =
        run_strategy_shown(&strategy, &reference, &inputs, 1, None, &BTreeMap::new());
    assert_eq!(run.instruments.len(), 3);
    assert!(known.is_empty());
}
