//! The liquidity, slippage, duplicate markets and remove markets reports on a home the daily
//! workflow filled: figures recomputed from the stored bars, the trade report and the other
//! reports, the `[markets]` config read and checked, and nothing to say said.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::reports::{at, json, num, rows, text_items, traded_home};
use crate::support::{stderr, stdout, TestHome};

/// `(date, volume)` of one contract's bars of `frequency`, from `systrade prices show`.
fn bars(h: &TestHome, contract: &str, frequency: &str) -> Vec<(String, f64)> {
    let out = at(
        h,
        &[
            "prices",
            "show",
            "SP500",
            "--contract",
            contract,
            "--frequency",
            frequency,
            "--csv",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .skip(1)
        .map(|l| {
            let date = l[..10].to_string();
            let volume = l.rsplit(',').next().unwrap().parse().unwrap();
            (date, volume)
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn liquidity_slippage_and_market_choice_agree_with_what_they_are_made_of() {
    let h = traded_home();
    for name in [
        "slippage",
        "liquidity",
        "duplicate_markets",
        "remove_markets",
    ] {
        let file = h.path().join(format!("reports/{name}_2024-06-28.html"));
        assert!(file.exists(), "the daily run wrote {}", file.display());
    }

    // Liquidity: SP500's contracts a day is the best 30-day mean of its contracts' daily bars
    // (29 May to 28 June, the report being made on 28 June 23:45), each day counted once.
    let liquidity = json(&h, &["report", "liquidity", "--json"]);
    let table = rows(&liquidity, "by_contracts");
    assert_eq!(table.len(), 2, "{table:?}");
    let sp = table.iter().find(|r| r["instrument"] == "SP500").unwrap();
    let mut best = f64::NAN;
    let mut merged_checked = 0;
    let dir = h.path().join("data/contracts/SP500");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(contract) = name.strip_suffix(".daily.parquet") else {
            continue;
        };
        let recent = |bars: Vec<(String, f64)>| -> Vec<(String, f64)> {
            bars.into_iter()
                .filter(|(d, _)| d.as_str() >= "2024-05-29")
                .collect()
        };
        let daily = recent(bars(&h, contract, "daily"));
        if daily.is_empty() {
            continue;
        }
        let volumes: Vec<f64> = daily.iter().map(|(_, v)| *v).collect();
        let daily_mean = mean(&volumes);
        best = best.max(daily_mean);
        // Summing every merged bar of a day would count the daily bar and the hourly bars.
        if !dir.join(format!("{contract}.merged.parquet")).exists() {
            continue;
        }
        let mut per_day: BTreeMap<String, f64> = BTreeMap::new();
        for (d, v) in recent(bars(&h, contract, "merged")) {
            *per_day.entry(d).or_default() += v;
        }
        let merged_mean = mean(&per_day.into_values().collect::<Vec<_>>());
        assert!(
            merged_mean > daily_mean * 1.01,
            "{contract}: hourly bars are in the window ({merged_mean} vs {daily_mean})"
        );
        merged_checked += 1;
    }
    assert!(merged_checked > 0, "some contract has hourly bars");
    let contracts = num(sp, "contracts");
    assert!(
        (contracts - best).abs() < 1e-9 * best,
        "{contracts} vs {best}"
    );
    let risk = json(&h, &["report", "instrument_risk", "--json"]);
    let sp_risk = rows(&risk, "by_annual_perc_stdev")
        .into_iter()
        .find(|r| r["instrument"] == "SP500")
        .unwrap();
    let per_contract = num(&sp_risk, "annual_risk_per_contract");
    assert!((num(sp, "risk") - contracts * per_contract / 1e6).abs() < 1e-6);
    let by_risk = rows(&liquidity, "by_risk");
    assert!(num(&by_risk[0], "risk") <= num(&by_risk[1], "risk"));

    // Slippage: the day's fills, as the trade report has them.
    let day = ["--from", "2024-06-28", "--to", "2024-06-28"];
    let trade = json(&h, &[&["report", "trade", "--json"][..], &day[..]].concat());
    let raw = rows(&trade, "raw_slippage");
    assert!(!raw.is_empty());
    let slip = json(
        &h,
        &[&["report", "slippage", "--json"][..], &day[..]].concat(),
    );
    let est = rows(&slip, "slippage");
    let spreads = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/spreadcosts.csv"),
    )
    .unwrap();
    for r in &est {
        let code = r["instrument"].as_str().unwrap();
        let fills: Vec<&serde_json::Map<String, Value>> =
            raw.iter().filter(|t| t["instrument"] == code).collect();
        assert_eq!(num(r, "count_trades") as usize, fills.len());
        assert_eq!(fills.len(), 1, "one fill each on the day: {raw:?}");
        assert_eq!(num(r, "bid_ask_trades"), -num(fills[0], "bid_ask"));
        assert_eq!(num(r, "total_trades"), -num(fills[0], "total_trading"));
        assert!(r["bid_ask_sampled"].is_null() && num(r, "count_sampled") == 0.0);
        let configured: f64 = spreads
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{code},")))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(num(r, "configured"), configured);
        // One trade (0.1) and the configuration (1): weights 1/11 and 10/11.
        assert!((num(r, "weight_trades") - 1.0 / 11.0).abs() < 1e-12);
        let trading = num(r, "bid_ask_trades").max(num(r, "total_trades"));
        let estimate = trading / 11.0 + configured * 10.0 / 11.0;
        assert!((num(r, "estimate") - estimate).abs() < 1e-12);
        let diff = 100.0 * (estimate - configured) / configured;
        assert!((num(r, "Difference") - diff).abs() < 1e-9);
    }
    assert_eq!(est.len(), 2);
    assert!(text_items(&slip).contains("In ticks: not known"));
    // Slippage over time: the day's cost is the trade report's cash slippage times contracts.
    let chart = slip["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "chart" && i["id"] == "slippage_over_time")
        .unwrap_or_else(|| panic!("no slippage chart in {slip:#}"));
    let cost: f64 = rows(&trade, "cash_slippage")
        .iter()
        .map(|r| -num(r, "total_trading_cash") * num(r, "trade").abs())
        .sum();
    let drawn = chart["plot"]["series"][0]["values"].as_array().unwrap();
    assert_eq!(drawn.len(), 1, "one day: {chart}");
    let drawn = drawn[0].as_f64().unwrap();
    assert!(
        (drawn - cost).abs() <= 1e-9 * cost.abs().max(1.0),
        "{drawn} vs {cost}"
    );
    let quiet = json(
        &h,
        &[
            "report",
            "slippage",
            "--json",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-31",
        ],
    );
    assert!(
        text_items(&quiet).contains("No trades from 2024-01-01 00:00 to 2024-01-31 23:59 UTC"),
        "{quiet}"
    );

    // Markets: CORN as SP500's duplicate (it is not, but its contract is smaller and valid), a
    // group without prices, and two bad markets: CORN is clearly good, GOLD has no prices.
    let config = h.path().join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[markets]\nbad_markets = [\"CORN\", \"GOLD\"]\n\
         duplicate_include = { equity = \"SP500\", gold = \"GOLD\" }\n\
         duplicate_exclude = { equity = [\"CORN\"], gold = [\"GOLD_micro\"] }\n",
    );
    std::fs::write(&config, text).unwrap();
    let dup = json(&h, &["report", "duplicate_markets", "--json"]);
    let group = rows(&dup, "group_equity");
    assert_eq!(group.len(), 2);
    let corn = group.iter().find(|r| r["instrument"] == "CORN").unwrap();
    let costs = json(&h, &["report", "costs", "--json"]);
    let corn_cost = rows(&costs, "sr_costs")
        .into_iter()
        .find(|r| r["instrument"].as_str().unwrap().trim_end_matches('*') == "CORN")
        .unwrap();
    assert!((num(corn, "SR_cost") - num(&corn_cost, "SR_cost")).abs() < 1e-15);
    let liquid_corn = table.iter().find(|r| r["instrument"] == "CORN").unwrap();
    assert_eq!(num(corn, "volume_contracts"), num(liquid_corn, "contracts"));
    let sizes: Vec<f64> = group.iter().map(|r| num(r, "contract_size")).collect();
    let notes = text_items(&dup);
    // One CORN contract carries less risk than one SP500 contract, and both pass the filters.
    assert!(sizes[1] < sizes[0], "{sizes:?}");
    assert!(
        notes.contains("equity: ** CHANGE ** replace SP500 with CORN."),
        "{notes}"
    );
    assert!(
        notes.contains("Groups left out, none of their markets has prices here: gold."),
        "{notes}"
    );

    let remove = json(&h, &["report", "remove_markets", "--json"]);
    let back: Vec<Value> = rows(&remove, "to_add_back")
        .iter()
        .map(|r| r["instrument"].clone())
        .collect();
    assert_eq!(back, [Value::from("CORN")]);
    assert!(rows(&remove, "to_remove").is_empty());
    let notes = text_items(&remove);
    assert!(
        notes.contains("To minimise turnover of markets, put this in config.toml:\n[markets]\nbad_markets = [\"GOLD\"]"),
        "{notes}"
    );
    assert!(notes.contains("clean slate, without considering the markets configured now:\n[markets]\nbad_markets = []"), "{notes}");
}

#[test]
fn the_new_reports_with_nothing_to_say_say_so_and_bad_markets_config_is_refused() {
    let h = TestHome::new();
    for (name, wanted) in [
        ("liquidity", "No instrument has prices"),
        ("remove_markets", "No instrument has prices"),
        ("slippage", "No trades from"),
        (
            "duplicate_markets",
            "Groups left out, none of their markets has prices here: copper, corn",
        ),
    ] {
        let out = at(&h, &["report", name]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert!(stdout(&out).contains(wanted), "{name}: {}", stdout(&out));
    }
    std::fs::write(
        h.path().join("config.toml"),
        "[markets]\nbad_markets = [\"no good\"]\nduplicate_exclude = { silver = [\"SILVER\"] }\n",
    )
    .unwrap();
    let out = at(&h, &["report", "remove_markets"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("markets.bad_markets"), "{e}");
    assert!(
        e.contains("markets.duplicate_exclude") && e.contains("group `silver` has no entry"),
        "{e}"
    );
}
