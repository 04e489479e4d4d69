use std::fs;
use std::path::Path;

use polars::prelude::{Column, DataFrame, ParquetWriter};

use super::*;
use crate::domain::ports::{Frequency, PriceStore, PriceStoreError};

fn code(s: &str) -> InstrumentCode {
    InstrumentCode::new(s).unwrap()
}

fn cid(s: &str) -> ContractId {
    ContractId::parse(s).unwrap()
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn multiple(n: usize) -> MultiplePrices {
    let mut m = MultiplePrices::default();
    for i in 0..n {
        m.ts.push(1_600_000_000_000_000 + i as i64 * 3_600_000_000);
        m.price.push(if i % 7 == 3 {
            f64::NAN
        } else {
            100.0 + i as f64 * 0.1
        });
        m.forward.push(if i % 5 == 1 {
            f64::NAN
        } else {
            101.0 + (i as f64).sin()
        });
        m.carry.push(1e-300 * i as f64 - 0.1);
        let held = ContractId::monthly(2020 + (i / 400) as i32, 3 * ((i / 100) % 4) as u32 + 3);
        m.price_contract.push(held);
        m.forward_contract
            .push(held.next_in(&crate::domain::instrument::RollCycle::parse("HMUZ").unwrap()));
        m.carry_contract.push(cid("20230915"));
    }
    m
}

fn assert_multiple_eq(a: &MultiplePrices, b: &MultiplePrices) {
    assert_eq!(a.ts, b.ts);
    assert_eq!(bits(&a.price), bits(&b.price));
    assert_eq!(bits(&a.forward), bits(&b.forward));
    assert_eq!(bits(&a.carry), bits(&b.carry));
    assert_eq!(a.price_contract, b.price_contract);
    assert_eq!(a.forward_contract, b.forward_contract);
    assert_eq!(a.carry_contract, b.carry_contract);
}

fn series(ts: &[i64], value: &[f64]) -> PriceSeries {
    PriceSeries {
        ts: ts.to_vec(),
        value: value.to_vec(),
    }
}

fn assert_corrupt(err: PriceStoreError, path: &Path, needle: &str) {
    let msg = err.to_string();
    match err {
        PriceStoreError::Corrupt { path: p, detail } => {
            assert_eq!(p, path);
            assert!(
                detail.contains(needle),
                "detail `{detail}` lacks `{needle}`"
            );
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn assert_write_refused(err: PriceStoreError, needle: &str) {
    match err {
        PriceStoreError::Write { detail, .. } => {
            assert!(
                detail.contains(needle),
                "detail `{detail}` lacks `{needle}`"
            )
        }
        other => panic!("expected Write, got {other:?}"),
    }
}

#[test]
fn multiple_prices_round_trip_bit_exact_with_nan() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().join("data"));
    let m = multiple(1000);
    store.write_multiple(&code("SP500"), &m).unwrap();
    assert!(dir.path().join("data/multiple/SP500.parquet").is_file());
    let back = store.read_multiple(&code("SP500")).unwrap().unwrap();
    assert_multiple_eq(&m, &back);
    assert!(back.price[3].is_nan());

    // Overwrite replaces the whole series.
    let shorter = multiple(10);
    store.write_multiple(&code("SP500"), &shorter).unwrap();
    assert_multiple_eq(
        &shorter,
        &store.read_multiple(&code("SP500")).unwrap().unwrap(),
    );
}

#[test]
fn empty_series_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().to_path_buf());
    store
        .write_multiple(&code("GOLD"), &MultiplePrices::default())
        .unwrap();
    let back = store.read_multiple(&code("GOLD")).unwrap().unwrap();
    assert!(back.is_empty() && back.is_consistent());
    store
        .write_adjusted(&code("GOLD"), &PriceSeries::default())
        .unwrap();
    assert!(store
        .read_adjusted(&code("GOLD"))
        .unwrap()
        .unwrap()
        .is_empty());
}

#[test]
fn adjusted_fx_contracts_and_roll_calendars_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().to_path_buf());
    let values = [1.5, f64::NAN, -0.0, f64::INFINITY, 1.0 / 3.0];
    let ts = [10, 20, 30, 40, 50];

    let adj = series(&ts, &values);
    store.write_adjusted(&code("US10"), &adj).unwrap();
    let back = store.read_adjusted(&code("US10")).unwrap().unwrap();
    assert_eq!(
        (back.ts.clone(), bits(&back.value)),
        (adj.ts.clone(), bits(&adj.value))
    );

    store.write_fx("EUR", &adj).unwrap();
    assert!(dir.path().join("fx/EUR.parquet").is_file());
    let back = store.read_fx("EUR").unwrap().unwrap();
    assert_eq!(bits(&back.value), bits(&adj.value));

    let bars = ContractPrices {
        ts: ts.to_vec(),
        open: values.to_vec(),
        high: vec![2.0; 5],
        low: vec![0.5, 0.5, f64::NAN, 0.5, 0.5],
        close: vec![1.25; 5],
        volume: vec![0.0, 10.0, f64::NAN, 3.0, 7.0],
    };
    let c = cid("20231200");
    for (i, freq) in [Frequency::Daily, Frequency::Hourly, Frequency::Merged]
        .into_iter()
        .enumerate()
    {
        let mut b = bars.clone();
        b.close[0] = i as f64;
        store.write_contract(&code("CRUDE_W"), c, freq, &b).unwrap();
        assert!(dir
            .path()
            .join(format!(
                "contracts/CRUDE_W/20231200.{}.parquet",
                freq.as_str()
            ))
            .is_file());
    }
    for (i, freq) in [Frequency::Daily, Frequency::Hourly, Frequency::Merged]
        .into_iter()
        .enumerate()
    {
        let back = store
            .read_contract(&code("CRUDE_W"), c, freq)
            .unwrap()
            .unwrap();
        assert_eq!(back.ts, bars.ts);
        assert_eq!(back.close[0], i as f64);
        assert_eq!(bits(&back.open), bits(&bars.open));
        assert_eq!(bits(&back.low), bits(&bars.low));
        assert_eq!(bits(&back.volume), bits(&bars.volume));
        assert_eq!(bits(&back.high), bits(&bars.high));
    }

    let cal = RollCalendar {
        ts: vec![100, 200, 300],
        current: vec![cid("20230300"), cid("20230600"), cid("20230915")],
        next: vec![cid("20230600"), cid("20230915"), cid("20231200")],
        carry: vec![cid("20230600"), cid("20230915"), cid("20231200")],
    };
    store.write_roll_calendar(&code("SP500"), &cal).unwrap();
    assert!(dir.path().join("roll_calendars/SP500.parquet").is_file());
    assert_eq!(
        store.read_roll_calendar(&code("SP500")).unwrap().unwrap(),
        cal
    );
}

#[test]
fn missing_files_read_as_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().join("nothing-here"));
    assert!(store.read_multiple(&code("SP500")).unwrap().is_none());
    assert!(store.read_adjusted(&code("SP500")).unwrap().is_none());
    assert!(store.read_fx("EUR").unwrap().is_none());
    assert!(store.read_roll_calendar(&code("SP500")).unwrap().is_none());
    assert!(store
        .read_contract(&code("SP500"), cid("20231200"), Frequency::Daily)
        .unwrap()
        .is_none());
    assert!(store.instruments_with_multiple().unwrap().is_empty());
    assert!(store.instruments_with_adjusted().unwrap().is_empty());
    assert!(store.fx_currencies().unwrap().is_empty());
    assert!(store
        .contracts_with_prices(&code("SP500"), Frequency::Daily)
        .unwrap()
        .is_empty());
}

#[test]
fn listings_are_sorted_and_skip_temp_files_and_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = ParquetPriceStore::new(root.to_path_buf());
    let m = multiple(3);
    for c in ["US10", "AEX_mini", "SP500"] {
        store.write_multiple(&code(c), &m).unwrap();
        store
            .write_adjusted(&code(c), &series(&[1], &[1.0]))
            .unwrap();
    }
    for ccy in ["JPY", "EUR", "GBP"] {
        store.write_fx(ccy, &series(&[1], &[1.0])).unwrap();
    }
    let bars = ContractPrices {
        ts: vec![1],
        open: vec![1.0],
        high: vec![1.0],
        low: vec![1.0],
        close: vec![1.0],
        volume: vec![1.0],
    };
    for c in ["20240300", "20231200", "20230915"] {
        store
            .write_contract(&code("SP500"), cid(c), Frequency::Daily, &bars)
            .unwrap();
    }
    store
        .write_contract(&code("SP500"), cid("20250300"), Frequency::Hourly, &bars)
        .unwrap();
    // Junk: temp files, names that do not parse, other extensions, a directory.
    for junk in [
        "multiple/.GOLD.parquet.tmp-123-0",
        "multiple/bad name.parquet",
        "multiple/GOLD.csv",
        "multiple/GOLD.parquet.tmp-1-1",
        "fx/.CHF.parquet.tmp-9-9",
        "fx/E.UR.parquet",
        "contracts/SP500/.20250600.daily.parquet.tmp-1-2",
        "contracts/SP500/2023120.daily.parquet",
        "contracts/SP500/20231300.daily.parquet",
        "contracts/SP500/20231200.0.daily.parquet",
        "contracts/SP500/notes.txt",
    ] {
        fs::write(root.join(junk), b"junk").unwrap();
    }
    fs::create_dir(root.join("adjusted/SUBDIR.parquet")).unwrap();

    let names = |v: Vec<InstrumentCode>| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(store.instruments_with_multiple().unwrap()),
        ["AEX_mini", "SP500", "US10"]
    );
    assert_eq!(
        names(store.instruments_with_adjusted().unwrap()),
        ["AEX_mini", "SP500", "US10"]
    );
    assert_eq!(store.fx_currencies().unwrap(), ["EUR", "GBP", "JPY"]);
    assert_eq!(
        store
            .contracts_with_prices(&code("SP500"), Frequency::Daily)
            .unwrap(),
        [cid("20230915"), cid("20231200"), cid("20240300")]
    );
    assert_eq!(
        store
            .contracts_with_prices(&code("SP500"), Frequency::Hourly)
            .unwrap(),
        [cid("20250300")]
    );
    assert!(store
        .contracts_with_prices(&code("SP500"), Frequency::Merged)
        .unwrap()
        .is_empty());
    // The leftover temp file does not disturb reads either.
    assert!(store.read_multiple(&code("GOLD")).unwrap().is_none());
    assert_multiple_eq(&store.read_multiple(&code("SP500")).unwrap().unwrap(), &m);
}

#[test]
fn unordered_or_ragged_writes_are_refused_and_leave_the_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().to_path_buf());
    let good = multiple(20);
    store.write_multiple(&code("SP500"), &good).unwrap();
    let path = dir.path().join("multiple/SP500.parquet");
    let before = fs::read(&path).unwrap();

    let mut dup = good.clone();
    dup.ts[5] = dup.ts[4];
    assert_write_refused(
        store.write_multiple(&code("SP500"), &dup).unwrap_err(),
        "duplicate timestamp",
    );
    let mut unsorted = good.clone();
    unsorted.ts.swap(7, 8);
    assert_write_refused(
        store.write_multiple(&code("SP500"), &unsorted).unwrap_err(),
        "earlier than the row before",
    );
    let mut ragged = good.clone();
    ragged.carry_contract.pop();
    assert_write_refused(
        store.write_multiple(&code("SP500"), &ragged).unwrap_err(),
        "`carry_contract` has 19 values but there are 20 timestamps",
    );
    assert_write_refused(
        store
            .write_adjusted(&code("SP500"), &series(&[1, 2], &[1.0]))
            .unwrap_err(),
        "`value` has 1 values",
    );
    assert_write_refused(
        store
            .write_fx("EUR", &series(&[2, 1], &[1.0, 2.0]))
            .unwrap_err(),
        "strictly increase",
    );

    assert_eq!(fs::read(&path).unwrap(), before);
    assert_multiple_eq(
        &store.read_multiple(&code("SP500")).unwrap().unwrap(),
        &good,
    );
    // Nothing at all was written for refused new series, and no temp file was left.
    assert!(store.read_adjusted(&code("SP500")).unwrap().is_none());
    assert!(store.read_fx("EUR").unwrap().is_none());
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("multiple"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["SP500.parquet"]);
}

#[test]
fn corrupt_files_and_wrong_schemas_are_reported_with_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().to_path_buf());
    store.write_multiple(&code("SP500"), &multiple(50)).unwrap();

    // Garbage.
    let path = dir.path().join("multiple/SP500.parquet");
    fs::write(&path, b"this is not parquet").unwrap();
    let err = store.read_multiple(&code("SP500")).unwrap_err();
    assert_corrupt(err, &path, "");

    // Truncated real file.
    store.write_multiple(&code("US10"), &multiple(50)).unwrap();
    let path = dir.path().join("multiple/US10.parquet");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_corrupt(store.read_multiple(&code("US10")).unwrap_err(), &path, "");

    // A valid Parquet file of the wrong series: adjusted prices where multiple are expected.
    store
        .write_adjusted(&code("GOLD"), &series(&[1, 2], &[1.0, 2.0]))
        .unwrap();
    let path = dir.path().join("multiple/GOLD.parquet");
    fs::copy(dir.path().join("adjusted/GOLD.parquet"), &path).unwrap();
    assert_corrupt(
        store.read_multiple(&code("GOLD")).unwrap_err(),
        &path,
        "no column `price`",
    );

    // Wrong column type, unordered timestamps, invalid contract ids.
    let write = |path: &Path, columns: Vec<Column>| {
        let mut df = DataFrame::new_infer_height(columns).unwrap();
        let f = fs::File::create(path).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
    };
    let path = dir.path().join("adjusted/STR.parquet");
    write(
        &path,
        vec![
            Column::new("ts".into(), [1i64, 2]),
            Column::new("value".into(), ["a", "b"]),
        ],
    );
    assert_corrupt(
        store.read_adjusted(&code("STR")).unwrap_err(),
        &path,
        "column `value` is str, expected Float64",
    );
    let path = dir.path().join("adjusted/UNSORTED.parquet");
    write(
        &path,
        vec![
            Column::new("ts".into(), [2i64, 1]),
            Column::new("value".into(), [1.0, 2.0]),
        ],
    );
    assert_corrupt(
        store.read_adjusted(&code("UNSORTED")).unwrap_err(),
        &path,
        "timestamps out of order",
    );
    let path = dir.path().join("roll_calendars/BAD.parquet");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    write(
        &path,
        vec![
            Column::new("ts".into(), [1i64]),
            Column::new("current".into(), [20231300u32]),
            Column::new("next".into(), [20240300u32]),
            Column::new("carry".into(), [20240300u32]),
        ],
    );
    assert_corrupt(
        store.read_roll_calendar(&code("BAD")).unwrap_err(),
        &path,
        "column `current`: invalid contract id `20231300`",
    );
}

#[test]
fn nulls_read_as_nan_and_other_widths_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().to_path_buf());
    let path = dir.path().join("roll_calendars/X.parquet");
    fs::create_dir_all(dir.path().join("adjusted")).unwrap();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("ts".into(), [1i64, 2, 3]),
        Column::new("value".into(), [Some(1.5f32), None, Some(2.0)]),
        Column::new("extra".into(), ["ignored", "x", "y"]),
    ])
    .unwrap();
    let f = fs::File::create(dir.path().join("adjusted/X.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    let back = store.read_adjusted(&code("X")).unwrap().unwrap();
    assert_eq!(back.ts, [1, 2, 3]);
    assert_eq!(back.value[0], 1.5);
    assert!(back.value[1].is_nan());

    let mut df = DataFrame::new_infer_height(vec![
        Column::new("ts".into(), [1i64]),
        Column::new("current".into(), [20231200i64]),
        Column::new("next".into(), [20240300i64]),
        Column::new("carry".into(), [Some(20240300i64)]),
    ])
    .unwrap();
    ParquetWriter::new(fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let cal = store.read_roll_calendar(&code("X")).unwrap().unwrap();
    assert_eq!(cal.current, [cid("20231200")]);

    // A negative id does not fit UInt32: corrupt, not silently wrapped.
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("ts".into(), [1i64]),
        Column::new("current".into(), [-1i64]),
        Column::new("next".into(), [20240300i64]),
        Column::new("carry".into(), [20240300i64]),
    ])
    .unwrap();
    ParquetWriter::new(fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    assert_corrupt(
        store.read_roll_calendar(&code("X")).unwrap_err(),
        &path,
        "missing or out-of-range",
    );
}

#[test]
fn leftover_temp_file_is_ignored_and_overwritten_safely() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().to_path_buf());
    let m = multiple(30);
    store.write_multiple(&code("SP500"), &m).unwrap();
    // A crashed writer's half-written temp file, even one with our own pid.
    let stale = dir.path().join(format!(
        "multiple/.SP500.parquet.tmp-{}-0",
        std::process::id()
    ));
    fs::write(&stale, b"PAR1 half written").unwrap();
    assert_multiple_eq(&store.read_multiple(&code("SP500")).unwrap().unwrap(), &m);
    assert_eq!(store.instruments_with_multiple().unwrap(), [code("SP500")]);
    let m2 = multiple(31);
    store.write_multiple(&code("SP500"), &m2).unwrap();
    assert_multiple_eq(&store.read_multiple(&code("SP500")).unwrap().unwrap(), &m2);
}

#[test]
fn one_instrument_read_does_not_touch_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().to_path_buf());
    let m = multiple(30);
    store.write_multiple(&code("SP500"), &m).unwrap();
    store.write_multiple(&code("US10"), &m).unwrap();
    store
        .write_adjusted(&code("SP500"), &series(&[1], &[2.0]))
        .unwrap();
    fs::write(dir.path().join("multiple/US10.parquet"), b"broken").unwrap();
    // An unreadable entry in the same directory (a directory named like a file).
    fs::create_dir(dir.path().join("multiple/GOLD.parquet")).unwrap();
    assert_multiple_eq(&store.read_multiple(&code("SP500")).unwrap().unwrap(), &m);
    assert_eq!(
        store.read_adjusted(&code("SP500")).unwrap().unwrap().value,
        [2.0]
    );
    assert!(store.read_multiple(&code("US10")).is_err());
    assert!(store.read_multiple(&code("GOLD")).is_err());
}

#[test]
fn invalid_currency_codes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().join("data"));
    for bad in ["", "../EUR", "E UR", "a/b"] {
        assert!(store.write_fx(bad, &series(&[1], &[1.0])).is_err(), "{bad}");
        assert!(store.read_fx(bad).is_err(), "{bad}");
    }
    assert!(!dir.path().join("EUR.parquet").exists());
}

/// Timing of a 50k-row multiple prices file per compression. Run with
/// `cargo test --release --lib adapters::parquet::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    use polars::prelude::{ParquetCompression, ParquetReader, SerReader};
    use std::time::Instant;

    let m = multiple(50_000);
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetPriceStore::new(dir.path().to_path_buf());
    let path = store.instrument_file(MULTIPLE, &code("SP500"));
    let rounds = 32;
    for (name, comp) in [
        ("uncompressed", ParquetCompression::Uncompressed),
        ("snappy", ParquetCompression::Snappy),
        ("lz4", ParquetCompression::Lz4Raw),
        ("zstd(default)", ParquetCompression::Zstd(None)),
    ] {
        let t = Instant::now();
        for _ in 0..rounds {
            let mut df = FrameBuilder::new(&path, &m.ts)
                .f64("price", &m.price)
                .f64("forward", &m.forward)
                .f64("carry", &m.carry)
                .contracts("price_contract", &m.price_contract)
                .contracts("forward_contract", &m.forward_contract)
                .contracts("carry_contract", &m.carry_contract)
                .build()
                .unwrap();
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let f = fs::File::create(&path).unwrap();
            ParquetWriter::new(std::io::BufWriter::new(f))
                .with_compression(comp)
                .finish(&mut df)
                .unwrap();
        }
        let w = t.elapsed() / rounds;
        let size = fs::metadata(&path).unwrap().len();
        let t = Instant::now();
        for _ in 0..rounds {
            let df = ParquetReader::new(fs::File::open(&path).unwrap())
                .finish()
                .unwrap();
            let f = Frame::new(&path, df);
            assert_eq!(f.ts().unwrap().len(), 50_000);
            f.f64("price").unwrap();
            f.f64("forward").unwrap();
            f.f64("carry").unwrap();
            f.contracts("price_contract").unwrap();
            f.contracts("forward_contract").unwrap();
            f.contracts("carry_contract").unwrap();
        }
        let r = t.elapsed() / rounds;
        println!("{name:>12}: write {w:?} read {r:?} size {size} bytes");
    }
    // Through the store: atomic write (with fsyncs) and read.
    let t = Instant::now();
    for _ in 0..rounds {
        store.write_multiple(&code("SP500"), &m).unwrap();
    }
    let w = t.elapsed() / rounds;
    let t = Instant::now();
    for _ in 0..rounds {
        store.read_multiple(&code("SP500")).unwrap().unwrap();
    }
    let r = t.elapsed() / rounds;
    let adj = series(&m.ts, &m.price);
    let t = Instant::now();
    for _ in 0..rounds {
        store.write_adjusted(&code("SP500"), &adj).unwrap();
    }
    let a = t.elapsed() / rounds;
    println!("store: write_multiple {w:?} read_multiple {r:?} write_adjusted {a:?}");
}
