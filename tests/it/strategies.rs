//! `run_systems` over the imported shared data: capital from the (simulated) broker, allocated
//! to the shipped chapter-15 strategy, optimal positions stored and shown by `systrade
//! positions optimal`; with capital equal to the golden notional capital the stored positions
//! and buffer edges equal pysystemtrade's at the last date. An instrument whose prices are
//! missing is reported and skipped while the others go on; backtest states are kept.

use std::path::Path;

use crate::support::{stderr, TestHome};

/// The shipped `systems` workflow: capital from the simulated broker (250,000, the golden
/// notional capital), its allocation, run_systems.
fn run_systems(h: &TestHome) -> std::process::Output {
    h.cmd()
        .env("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", "250000")
        .args(["run", "systems"])
        .output()
        .expect("run systrade")
}

fn golden_last_date(golden: &Path) -> Vec<(String, [f64; 3])> {
    let text = std::fs::read_to_string(golden.join("buffers_last_date.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let v = |k: usize| c[k].parse::<f64>().unwrap();
            (c[0].to_string(), [v(2), v(3), v(4)])
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared pysystemtrade data (../shared or SYSTRADE_TEST_DATA)"
)]
fn run_systems_stores_golden_optimal_positions_and_skips_missing_prices() {
    let (Some(shared), Some(golden)) = (
        systrade::test_support::shared_data_dir(),
        systrade::test_support::golden_backtest_dir(),
    ) else {
        return;
    };
    let h = TestHome::new();
    let out = h.run(&["import", "pysystemtrade", shared.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "import: {}", stderr(&out));

    let out = run_systems(&h);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = h.json(&["positions", "optimal", "--json"]);
    let positions = v["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 32, "{v}");
    // Capital 250,000 (the golden notional capital): the last-date position and edges are
    // pysystemtrade's.
    for (code, [notional, bot, top]) in golden_last_date(&golden) {
        let p = positions
            .iter()
            .find(|p| p["instrument"] == code.as_str())
            .unwrap_or_else(|| panic!("no optimal position for {code}"));
        assert_eq!(p["strategy"], "chapter15_equal_weights");
        assert_eq!(p["date"], "2023-08-31", "{p}");
        for (key, want) in [("optimal", notional), ("lower", bot), ("upper", top)] {
            let got = p[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-10 || (got - want).abs() <= 1e-8 * want.abs(),
                "{code} {key}: got {got}, want {want}"
            );
        }
        assert!(p["reference_price"].as_f64().unwrap().is_finite());
        assert!(p["reference_contract"].as_str().unwrap().len() == 8);
    }

    // CORN loses its adjusted prices: reported and skipped, the rest go on.
    std::fs::remove_file(h.path().join("data/adjusted/CORN.parquet")).unwrap();
    let out = run_systems(&h);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("skipped: no adjusted prices in the store")
            && stderr(&out).contains("CORN"),
        "{}",
        stderr(&out)
    );
    let history = |code: &str| {
        h.json(&[
            "positions",
            "history",
            "--strategy",
            "chapter15_equal_weights",
            "--instrument",
            code,
            "--json",
        ])["positions"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(history("CORN"), 1);
    assert_eq!(history("AUD"), 2);

    // Two backtest states kept, each with its config.
    let states: Vec<_> = std::fs::read_dir(h.path().join("backtests/chapter15_equal_weights"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        states.iter().filter(|n| n.ends_with(".parquet")).count(),
        2,
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|n| n.ends_with(".toml")).count(),
        2,
        "{states:?}"
    );
}

#[test]
fn run_systems_without_capital_or_with_a_bad_strategy_fails_clearly() {
    let h = TestHome::new();
    h.workflow(
        "only_systems",
        "[workflow]\nname = \"only_systems\"\n[[node]]\nid = \"run_systems\"\ntask = \"run_systems\"\nretries = 0\n",
    );
    // Nothing stored yet; an unknown instrument is bad input.
    let v = h.json(&["positions", "optimal", "--json"]);
    assert_eq!(v["positions"].as_array().unwrap().len(), 0);
    let out = h.run(&[
        "positions",
        "history",
        "--strategy",
        "chapter15_equal_weights",
        "--instrument",
        "AUX",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did you mean `AUD`?"),
        "{}",
        stderr(&out)
    );

    let out = h.run(&["run", "only_systems"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no capital allocated to strategy `chapter15_equal_weights`"),
        "{}",
        stderr(&out)
    );

    // A home strategy file with an error: the task fails naming file and line.
    std::fs::create_dir_all(h.path().join("strategies")).unwrap();
    let bad = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/strategies/chapter15_equal_weights.toml"),
    )
    .unwrap()
    .replace(
        "percentage_vol_target = 20.0",
        "percentage_vol_target = -20.0",
    );
    let path = h.path().join("strategies/chapter15_equal_weights.toml");
    std::fs::write(&path, bad).unwrap();
    let out = h.run(&["run", "only_systems"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}:8:", path.display()))
            && stderr(&out).contains("percentage_vol_target"),
        "{}",
        stderr(&out)
    );
}
