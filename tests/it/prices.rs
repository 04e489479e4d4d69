//! `systrade import pysystemtrade` and `systrade prices`: a golden comparison of regenerated
//! adjusted prices against pysystemtrade's own files, the output formats of `prices show`/`fx`/
//! `list`, bad files (exit 2, file and line named, nothing written) and bad command-line input,
//! and re-import semantics.
//!
//! The shared data set is found via `SYSTRADE_TEST_DATA` or `../shared/data/pysystemtrade`
//! next to the crate; without it the tests that need it are built as ignored (`build.rs`), except
//! under `CI=true`, where they fail; the small set in `tests/data/` always runs. Only the golden test imports the whole set; the others copy
//! the tails of a few files into a small fixture directory.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::SystemTime;

use serde_json::{json, Value};
use systrade::adapters::parquet::ParquetPriceStore;
use systrade::domain::contract::ContractId;
use systrade::domain::instrument::InstrumentCode;
use systrade::domain::ports::{Frequency, PriceStore};
use systrade::domain::series::{parse_timestamp, ContractPrices};

use crate::support::{stderr, stdout, TestHome};

const MULTI_HEADER: &str =
    "timestamp,price,price_contract,forward,forward_contract,carry,carry_contract";

/// The shared pysystemtrade data (the callers are ignored on a build without it).
fn shared_data() -> Option<PathBuf> {
    systrade::test_support::shared_data_dir()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn write(root: &Path, rel: &str, text: &str) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// Copies the header and the last `n` rows of `shared/rel` to `root/rel`.
fn copy_tail(shared: &Path, root: &Path, rel: &str, n: usize) {
    let text = std::fs::read_to_string(shared.join(rel)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = vec![lines[0]];
    out.extend(&lines[lines.len().saturating_sub(n).max(1)..]);
    write(root, rel, &(out.join("\n") + "\n"));
}

/// A small pysystemtrade directory: the real csvconfig/, the last `n` rows of the multiple and
/// adjusted prices of AUD (USD) and V2X (EUR, with empty prices near the end), of EURUSD, and
/// AUD's whole roll calendar.
fn fixture(shared: &Path, n: usize) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in ["instrumentconfig", "rollconfig", "spreadcosts"] {
        let rel = format!("csvconfig/{f}.csv");
        std::fs::create_dir_all(d.path().join("csvconfig")).unwrap();
        std::fs::copy(shared.join(&rel), d.path().join(&rel)).unwrap();
    }
    for rel in [
        "multiple_prices_csv/AUD.csv",
        "multiple_prices_csv/V2X.csv",
        "adjusted_prices_csv/AUD.csv",
        "adjusted_prices_csv/V2X.csv",
        "fx_prices_csv/EURUSD.csv",
    ] {
        copy_tail(shared, d.path(), rel, n);
    }
    copy_tail(shared, d.path(), "roll_calendars_csv/AUD.csv", usize::MAX);
    d
}

/// Asserts the exit code; returns stdout.
fn expect(out: &Output, code: i32, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

fn ok(h: &TestHome, args: &[&str]) -> String {
    expect(&h.run(args), 0, &format!("{args:?}"))
}

/// Runs a command that must fail with exit 2; returns stderr.
fn invalid(h: &TestHome, args: &[&str]) -> String {
    let out = h.run(args);
    expect(&out, 2, &format!("{args:?}"));
    stderr(&out)
}

fn import(h: &TestHome, dir: &Path) -> Value {
    let v = h.json(&["import", "pysystemtrade", s(dir), "--json"]);
    assert!(v["summary"].is_object(), "import failed: {v}");
    v
}

/// A price cell: empty or NaN is `None`.
fn cell(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("nan") {
        None
    } else {
        Some(t.parse().unwrap_or_else(|e| panic!("`{t}`: {e}")))
    }
}

/// Data rows of CSV text (header dropped) as cells.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn read_rows(path: &Path) -> Vec<Vec<String>> {
    rows(&std::fs::read_to_string(path).unwrap())
}

/// The elements of array `key` of pretty-printed JSON, as printed.
fn json_array_text(text: &str, key: &str) -> Vec<String> {
    let start = text
        .find(&format!("\"{key}\": ["))
        .unwrap_or_else(|| panic!("no `{key}` array in {text}"));
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with(']'))
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .collect()
}

/// Every file and directory under `root`: contents (files) and modification time.
type Snapshot = BTreeMap<String, (Option<Vec<u8>>, SystemTime)>;

fn snapshot(root: &Path) -> Snapshot {
    fn walk(root: &Path, dir: &Path, out: &mut Snapshot) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let meta = std::fs::metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let bytes = meta.is_file().then(|| std::fs::read(&p).unwrap());
            out.insert(rel, (bytes, meta.modified().unwrap()));
            if meta.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Snapshot::new();
    walk(root, root, &mut out);
    out
}

/// Contents only (mtimes dropped), for idempotency.
fn contents(snap: &Snapshot) -> BTreeMap<String, Option<Vec<u8>>> {
    snap.iter()
        .map(|(k, (b, _))| (k.clone(), b.clone()))
        .collect()
}

fn assert_unchanged(before: &Snapshot, h: &TestHome, what: &str) {
    let after = snapshot(h.path());
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "{what}: the home changed: {changed:?}");
}

/// Rewrites line `line` (1-based) of a file.
fn edit_line(path: &Path, line: usize, f: impl FnOnce(&str) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[line - 1] = f(&lines[line - 1]);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// Line `line` (1-based) of a file.
fn nth_line(path: &Path, line: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().nth(line - 1).unwrap().to_string()
}

/// Replaces cell `index` of a comma-separated line (no quoted cells).
fn set_cell(line: &str, index: usize, value: &str) -> String {
    let mut cells: Vec<&str> = line.split(',').collect();
    cells[index] = value;
    cells.join(",")
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn golden_regenerated_adjusted_prices_match_pysystemtrade() {
    let Some(data) = shared_data() else { return };
    let h = TestHome::new();
    let v = import(&h, &data);
    let sum = &v["summary"];
    assert_eq!(sum["multiple_files"], 32, "{sum}");
    assert_eq!(sum["adjusted_files"], 36, "{sum}");
    assert_eq!(sum["fx_files"], 12, "{sum}");
    assert_eq!(sum["roll_calendar_files"], 38, "{sum}");
    assert_eq!(sum["instruments"], 586, "{sum}");
    assert_eq!(v["series_written"], 32 + 36 + 12 + 38);
    assert_eq!(v["reference_written"], true);
    for f in ["instrumentconfig.csv", "rollconfig.csv", "spreadcosts.csv"] {
        assert!(h.path().join("config").join(f).is_file(), "{f} not written");
    }

    let r = h.json(&["prices", "regenerate-adjusted", "--json"]);
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(r["instruments"].as_array().unwrap().len(), 32, "{r}");
    // pysystemtrade stitched WHEAT from forward-filled prices.
    let w = h.json(&[
        "prices",
        "regenerate-adjusted",
        "WHEAT",
        "--forward-fill",
        "--json",
    ]);
    assert_eq!(
        w["instruments"],
        json!([{ "instrument": "WHEAT", "ok": true, "rows": 47256 }])
    );

    let mut codes: Vec<String> = std::fs::read_dir(data.join("multiple_prices_csv"))
        .unwrap()
        .flatten()
        .filter_map(|e| Some(e.file_name().to_str()?.strip_suffix(".csv")?.to_string()))
        .filter(|c| data.join(format!("adjusted_prices_csv/{c}.csv")).is_file())
        .collect();
    codes.sort();
    assert_eq!(codes.len(), 32, "{codes:?}");

    let compared = regenerated_match_pysystemtrade(&h, &data, &codes);
    assert!(compared > 1_300_000, "only {compared} rows compared");
}

/// The small data set in the repo imported, its adjusted prices regenerated by systrade: they
/// equal pysystemtrade's row for row (runs on a fresh clone).
#[test]
fn regenerated_adjusted_prices_match_pysystemtrade_on_the_repo_data() {
    let data = systrade::test_support::repo_data_dir();
    let h = TestHome::new();
    let v = import(&h, &data);
    assert_eq!(v["summary"]["multiple_files"], 1, "{v}");
    let r = h.json(&["prices", "regenerate-adjusted", "--json"]);
    assert_eq!(r["failed"], 0, "{r}");
    let compared = regenerated_match_pysystemtrade(&h, &data, &["KR3".to_string()]);
    assert_eq!(
        compared,
        read_rows(&data.join("adjusted_prices_csv/KR3.csv")).len()
    );
    assert!(compared > 10_000, "only {compared} rows compared");
}

/// Compares the home's adjusted prices of `codes` with pysystemtrade's files in `data`; panics
/// on a missing row or a difference above 1e-9; returns the rows compared.
fn regenerated_match_pysystemtrade(h: &TestHome, data: &Path, codes: &[String]) -> usize {
    let mut worst = (0.0f64, String::new());
    let mut problems: Vec<String> = Vec::new();
    let mut compared = 0usize;
    for code in codes {
        let out = ok(h, &["prices", "show", code, "--csv"]);
        assert!(
            out.starts_with("timestamp,price\n"),
            "{code}: {}",
            &out[..40.min(out.len())]
        );
        let ours: HashMap<String, Option<f64>> = rows(&out)
            .into_iter()
            .map(|r| (r[0].clone(), cell(&r[1])))
            .collect();
        for (n, r) in read_rows(&data.join(format!("adjusted_prices_csv/{code}.csv")))
            .iter()
            .enumerate()
        {
            let at = format!("{code} {} (line {})", r[0], n + 2);
            compared += 1;
            match (ours.get(&r[0]), cell(&r[1])) {
                (None, _) => problems.push(format!("{at}: timestamp missing")),
                (Some(None), None) => {}
                (Some(Some(a)), Some(b)) => {
                    let d = (a - b).abs();
                    if d > worst.0 {
                        worst = (d, format!("{at}: ours {a}, pysystemtrade {b}"));
                    }
                }
                (Some(a), b) => problems.push(format!("{at}: ours {a:?}, pysystemtrade {b:?}")),
            }
        }
    }
    eprintln!(
        "golden: {compared} rows compared, worst difference {:e} at {}",
        worst.0, worst.1
    );
    assert!(
        problems.is_empty() && worst.0 <= 1e-9,
        "{} mismatched rows (first: {:?}); worst difference {:e} at {}",
        problems.len(),
        problems.first(),
        worst.0,
        worst.1
    );
    compared
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn show_formats_table_tail_csv_json_multiple_fx_and_list() {
    let Some(data) = shared_data() else { return };
    let fx = fixture(&data, 150);
    let h = TestHome::new();
    import(&h, fx.path());
    let source = read_rows(&fx.path().join("adjusted_prices_csv/V2X.csv"));
    assert_eq!(source.len(), 150);
    let empties = source.iter().filter(|r| cell(&r[1]).is_none()).count();
    assert!(empties > 0, "the fixture should have missing prices");

    // Table: a title with the row count, a header, the last N rows.
    let table = |args: &[&str], title: &str, n: usize| {
        let mut a = vec!["prices", "show", "V2X"];
        a.extend(args);
        let out = ok(&h, &a);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], title, "{out}");
        assert!(
            lines[1].starts_with("timestamp") && lines[1].ends_with("price"),
            "{out}"
        );
        let shown: Vec<&str> = lines[2..].iter().map(|l| &l[..19]).collect();
        let want: Vec<&str> = source[150 - n..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(shown, want, "{out}");
        for (l, r) in lines[2..].iter().zip(&source[150 - n..]) {
            assert_eq!(cell(&l[19..]), cell(&r[1]), "{l}");
        }
    };
    table(&[], "V2X adjusted prices: 150 rows, last 20", 20);
    table(
        &["--adjusted", "--tail", "3"],
        "V2X adjusted prices: 150 rows, last 3",
        3,
    );
    table(&["--tail", "1000"], "V2X adjusted prices: 150 rows", 150);

    // CSV: timestamp first, every row.
    let csv = ok(&h, &["prices", "show", "V2X", "--csv"]);
    assert_eq!(csv.lines().next(), Some("timestamp,price"));
    let got = rows(&csv);
    assert_eq!(got.len(), 150);
    for (g, r) in got.iter().zip(&source) {
        assert_eq!((&g[0], cell(&g[1])), (&r[0], cell(&r[1])));
    }

    // JSON: columns as arrays, null for a missing price. (Values are compared as printed:
    // serde_json's default parser is not correctly rounded, 18.400000000000002 reads as 18.4.)
    let text = ok(&h, &["prices", "show", "V2X", "--json"]);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["instrument"], "V2X");
    let ts = v["timestamp"].as_array().unwrap();
    let price = json_array_text(&text, "price");
    assert_eq!((ts.len(), price.len()), (150, 150));
    for ((t, p), r) in ts.iter().zip(&price).zip(&source) {
        assert_eq!(t.as_str(), Some(r[0].as_str()));
        let p = (p != "null").then(|| cell(p)).flatten();
        assert_eq!(p, cell(&r[1]), "{}", r[0]);
    }
    let nulls = v["price"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.is_null())
        .count();
    assert_eq!(nulls, empties);

    // Multiple prices: pysystemtrade's columns, reordered.
    let multi = ok(&h, &["prices", "show", "V2X", "--multiple", "--csv"]);
    assert_eq!(multi.lines().next(), Some(MULTI_HEADER));
    let src = read_rows(&fx.path().join("multiple_prices_csv/V2X.csv"));
    let got = rows(&multi);
    assert_eq!(got.len(), src.len());
    // Source: DATETIME,CARRY,CARRY_CONTRACT,PRICE,PRICE_CONTRACT,FORWARD,FORWARD_CONTRACT.
    for (g, r) in got.iter().zip(&src) {
        assert_eq!(g[0], r[0]);
        for (ours, theirs) in [(1, 3), (3, 5), (5, 1)] {
            assert_eq!(cell(&g[ours]), cell(&r[theirs]), "{g:?} vs {r:?}");
        }
        for (ours, theirs) in [(2, 4), (4, 6), (6, 2)] {
            assert_eq!(g[ours], r[theirs], "{g:?} vs {r:?}");
        }
    }
    assert!(
        got.iter().any(|g| g[3].is_empty()),
        "no missing forward price in the fixture"
    );
    let mj = h.json(&["prices", "show", "V2X", "--multiple", "--json"]);
    assert_eq!(mj["price_contract"].as_array().unwrap().len(), src.len());
    assert_eq!(
        mj["price_contract"][0].to_string().trim_matches('"'),
        src[0][4]
    );

    // FX: USD per unit; the currency is case-insensitive.
    let eur = ok(&h, &["prices", "fx", "EUR", "--csv"]);
    assert_eq!(eur.lines().next(), Some("timestamp,price"));
    let src = read_rows(&fx.path().join("fx_prices_csv/EURUSD.csv"));
    let got = rows(&eur);
    assert_eq!(got.len(), 150);
    for (g, r) in got.iter().zip(&src) {
        assert_eq!((&g[0], cell(&g[1])), (&r[0], cell(&r[1])));
    }
    assert_eq!(ok(&h, &["prices", "fx", "eur", "--csv"]), eur);
    assert!(
        ok(&h, &["prices", "fx", "EUR", "--tail", "2"]).starts_with("EURUSD: 150 rows, last 2\n")
    );

    let list = h.json(&["prices", "list", "--json"]);
    assert_eq!(list["multiple"], json!(["AUD", "V2X"]));
    assert_eq!(list["adjusted"], json!(["AUD", "V2X"]));
    assert_eq!(list["fx"], json!(["EUR"]));
    assert_eq!(
        Path::new(list["data_dir"].as_str().unwrap()),
        h.path().join("data")
    );
    // --json and --csv together are a usage error.
    invalid(&h, &["prices", "show", "V2X", "--json", "--csv"]);
}

/// A bad-file case: name, the file to break (relative), the line the error must name (none
/// for a whole-file problem), a fragment of the message, and how to break it.
struct Case(
    &'static str,
    &'static str,
    Option<usize>,
    &'static str,
    fn(&Path),
);

fn cases() -> Vec<Case> {
    let adj_aud = "adjusted_prices_csv/AUD.csv";
    vec![
        Case("bad header", adj_aud, Some(1), "unexpected header", |p| {
            edit_line(p, 1, |_| "DATETIME,PRICE".into())
        }),
        Case(
            "non-numeric cell",
            adj_aud,
            Some(5),
            "price `abc` is not a number",
            |p| edit_line(p, 5, |l| set_cell(l, 1, "abc")),
        ),
        Case(
            "duplicate timestamp",
            "fx_prices_csv/EURUSD.csv",
            Some(8),
            "duplicate timestamp",
            |p| {
                let seven = nth_line(p, 7);
                edit_line(p, 8, |_| format!("{},1.1", &seven[..19]));
            },
        ),
        Case(
            "unsorted timestamps",
            "adjusted_prices_csv/V2X.csv",
            Some(5),
            "is earlier than",
            |p| {
                let (four, five) = (nth_line(p, 4), nth_line(p, 5));
                edit_line(p, 4, |_| five);
                edit_line(p, 5, |_| four);
            },
        ),
        Case(
            "empty file",
            "multiple_prices_csv/AUD.csv",
            Some(1),
            "empty file",
            |p| std::fs::write(p, "").unwrap(),
        ),
        Case(
            "instrument not in instrumentconfig.csv",
            "adjusted_prices_csv/NOSUCH.csv",
            None,
            "unknown instrument `NOSUCH`",
            |p| {
                std::fs::copy(p.parent().unwrap().join("AUD.csv"), p)
                    .map(drop)
                    .unwrap()
            },
        ),
        Case(
            "bad contract id",
            "multiple_prices_csv/V2X.csv",
            Some(6),
            "invalid contract id `2023120`",
            |p| edit_line(p, 6, |l| set_cell(l, 4, "2023120")),
        ),
        Case(
            "bad roll cycle letter",
            "csvconfig/rollconfig.csv",
            Some(3),
            "`Y` is not a futures month letter",
            |p| edit_line(p, 3, |l| set_cell(l, 1, "HMUY")),
        ),
    ]
}

/// Asserts that stderr names the case's file (and line, where one applies) and its problem.
fn assert_reported(err: &str, dir: &Path, case: &Case) {
    let file = dir.join(case.1).display().to_string();
    let want = match case.2 {
        Some(line) => format!("{file}:{line}:"),
        None => format!("{file}:"),
    };
    assert!(
        err.contains(&want),
        "{}: stderr lacks `{want}`:\n{err}",
        case.0
    );
    assert!(
        err.contains(case.3),
        "{}: stderr lacks `{}`:\n{err}",
        case.0,
        case.3
    );
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn bad_files_exit_2_name_file_and_line_and_write_nothing() {
    let Some(data) = shared_data() else { return };
    let all = cases();

    // A failed first import creates nothing at all.
    let fresh = TestHome::new();
    let bad = fixture(&data, 60);
    (all[1].4)(&bad.path().join(all[1].1));
    let err = invalid(&fresh, &["import", "pysystemtrade", s(bad.path())]);
    assert_reported(&err, bad.path(), &all[1]);
    assert_eq!(snapshot(fresh.path()), Snapshot::new());

    // After a good import, every bad case leaves the stored data and config as they were.
    let h = TestHome::new();
    let good = fixture(&data, 60);
    import(&h, good.path());
    let before = snapshot(h.path());
    for f in [
        "config/instrumentconfig.csv",
        "data/adjusted/AUD.parquet",
        "data/fx/EUR.parquet",
    ] {
        assert!(
            before.contains_key(f),
            "{f} missing after the good import: {:?}",
            before.keys()
        );
    }
    for case in &all {
        let bad = fixture(&data, 60);
        (case.4)(&bad.path().join(case.1));
        let err = invalid(&h, &["import", "pysystemtrade", s(bad.path()), "--json"]);
        assert_reported(&err, bad.path(), case);
        assert_unchanged(&before, &h, case.0);
    }

    // Several bad files (series and reference files): all reported in one run.
    let bad = fixture(&data, 60);
    let several: Vec<&Case> = all
        .iter()
        .filter(|c| c.2.is_some() && c.0 != "empty file" && c.0 != "bad header")
        .collect();
    assert_eq!(several.len(), 5);
    for c in &several {
        (c.4)(&bad.path().join(c.1));
    }
    let err = invalid(&h, &["import", "pysystemtrade", s(bad.path())]);
    for c in &several {
        assert_reported(&err, bad.path(), c);
    }
    assert_eq!(err.matches("error: ").count(), several.len(), "{err}");
    assert_unchanged(&before, &h, "several bad files");
}

const AUD_MULTIPLE: &str = "\
DATETIME,CARRY,CARRY_CONTRACT,PRICE,PRICE_CONTRACT,FORWARD,FORWARD_CONTRACT
2023-08-29 23:00:00,0.6495,20231200,0.648,20230900,0.6495,20231200
2023-08-30 23:00:00,0.6505,20231200,0.649,20230900,0.6505,20231200
2023-08-31 23:00:00,,20231200,0.6475,20230900,,20231200
";

fn ts(text: &str) -> i64 {
    parse_timestamp(text).unwrap()
}

#[test]
fn bad_command_line_input_exits_2() {
    let h = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "multiple_prices_csv/AUD.csv", AUD_MULTIPLE);
    // No csvconfig/: the home's (shipped) reference data checks the instrument.
    let v = import(&h, dir.path());
    assert_eq!(v["reference_written"], false);
    assert!(!h.path().join("config").exists());

    let err = invalid(&h, &["prices", "show", "NOSUCH"]);
    assert!(err.contains("unknown instrument `NOSUCH`"), "{err}");
    assert!(!err.contains("did you mean"), "{err}");
    let err = invalid(&h, &["prices", "show", "AUDD"]);
    assert!(
        err.contains("unknown instrument `AUDD`") && err.contains("did you mean `AUD`?"),
        "{err}"
    );
    let err = invalid(&h, &["prices", "show", "aud"]);
    assert!(
        err.contains("did you mean `AUD`? (codes are case-sensitive)"),
        "{err}"
    );
    let err = invalid(&h, &["prices", "show", "AUD"]);
    assert!(
        err.contains("no adjusted prices") && err.contains("regenerate-adjusted AUD"),
        "{err}"
    );

    // An unknown name anywhere in the list: nothing regenerated, nothing written.
    let before = snapshot(h.path());
    for names in [&["NOSUCH"][..], &["AUD", "NOSUCH"]] {
        let mut args = vec!["prices", "regenerate-adjusted"];
        args.extend(names);
        let err = invalid(&h, &args);
        assert!(err.contains("unknown instrument `NOSUCH`"), "{err}");
        assert_unchanged(&before, &h, &format!("{args:?}"));
    }
    // One contract, no roll: the adjusted prices are the raw prices.
    ok(&h, &["prices", "regenerate-adjusted", "AUD"]);
    assert_eq!(
        ok(&h, &["prices", "show", "AUD", "--csv"]),
        "timestamp,price\n2023-08-29 23:00:00,0.648\n2023-08-30 23:00:00,0.649\n2023-08-31 23:00:00,0.6475\n"
    );

    // Contract bars (no command writes them yet: straight through the store).
    let store = ParquetPriceStore::new(h.path().join("data"));
    let bars = ContractPrices {
        ts: vec![ts("2023-08-30 23:00:00"), ts("2023-08-31 23:00:00")],
        open: vec![0.65, 0.649],
        high: vec![0.652, 0.651],
        low: vec![0.647, 0.646],
        close: vec![0.649, f64::NAN],
        volume: vec![1200.0, 950.0],
    };
    let aud = InstrumentCode::new("AUD").unwrap();
    let sep = ContractId::parse("20230900").unwrap();
    store
        .write_contract(&aud, sep, Frequency::Daily, &bars)
        .unwrap();
    let shown = ok(
        &h,
        &[
            "prices",
            "show",
            "AUD",
            "--contract",
            "20230900",
            "--frequency",
            "daily",
            "--csv",
        ],
    );
    assert_eq!(
        shown,
        "timestamp,open,high,low,close,volume\n\
         2023-08-30 23:00:00,0.65,0.652,0.647,0.649,1200\n\
         2023-08-31 23:00:00,0.649,0.651,0.646,,950\n"
    );
    let err = invalid(&h, &["prices", "show", "AUD", "--contract", "2023130"]);
    assert!(err.contains("invalid contract id `2023130`"), "{err}");
    let err = invalid(
        &h,
        &[
            "prices",
            "show",
            "AUD",
            "--contract",
            "20231200",
            "--frequency",
            "daily",
        ],
    );
    assert!(
        err.contains("no daily prices for contract 20231200 of `AUD`; it has: 20230900"),
        "{err}"
    );
    let err = invalid(&h, &["prices", "show", "AUD", "--contract", "20231200"]);
    assert!(
        err.contains("no merged prices for contract 20231200"),
        "{err}"
    );
    assert!(!err.contains("it has"), "{err}");
    invalid(&h, &["prices", "show", "AUD", "--frequency", "daily"]);
    invalid(
        &h,
        &[
            "prices",
            "show",
            "AUD",
            "--multiple",
            "--contract",
            "20230900",
        ],
    );

    let err = invalid(&h, &["prices", "fx", "XYZ"]);
    assert!(err.contains("no FX prices for `XYZ`"), "{err}");
    let err = invalid(&h, &["import", "pysystemtrade", "/nonexistent"]);
    assert!(
        err.contains("/nonexistent") && err.contains("not a directory"),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let err = invalid(&h, &["import", "pysystemtrade", s(empty.path())]);
    assert!(err.contains("no pysystemtrade data here"), "{err}");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn reimport_replaces_series_idempotently_and_a_bad_home_config_is_named() {
    let Some(data) = shared_data() else { return };
    let (long, short) = (fixture(&data, 150), fixture(&data, 40));
    let h = TestHome::new();
    let views = || -> Vec<String> {
        [
            &["prices", "show", "AUD", "--csv"][..],
            &["prices", "show", "V2X", "--multiple", "--csv"],
            &["prices", "fx", "EUR", "--csv"],
        ]
        .iter()
        .map(|a| ok(&h, a))
        .collect()
    };
    let first = import(&h, long.path());
    let shown = views();
    let stored = contents(&snapshot(h.path()));
    for v in &shown {
        assert_eq!(rows(v).len(), 150, "{}", &v[..60]);
    }

    // The shorter import replaces each series (its rows are the last 40 of the longer one).
    let second = import(&h, short.path());
    assert_eq!(second["summary"]["adjusted_rows"], 80);
    for (now, before) in views().iter().zip(&shown) {
        assert_eq!(rows(now), rows(before)[110..]);
    }

    // Importing the same directory again gives the same series, byte for byte.
    for _ in 0..2 {
        let again = import(&h, long.path());
        assert_eq!(again["summary"], first["summary"]);
        assert_eq!(views(), shown);
        assert_eq!(contents(&snapshot(h.path())), stored);
    }

    // A bad line in the home's instrument config stops `prices` with its file and line.
    let cfg = h.path().join("config/instrumentconfig.csv");
    edit_line(&cfg, 3, |l| {
        format!("ZZBAD,Broken row,0,USD,FX,0,0,0,US\n{l}")
    });
    let want = format!("{}:3:", cfg.display());
    for args in [&["prices", "show", "AUD"][..], &["prices", "list"]] {
        let err = invalid(&h, args);
        assert!(
            err.contains(&want) && err.contains("Pointsize"),
            "{args:?}: lacks `{want}`:\n{err}"
        );
    }
    // Importing a csvconfig/ writes the reference files anew.
    import(&h, long.path());
    assert_eq!(ok(&h, &["prices", "show", "AUD", "--csv"]), shown[0]);
}
