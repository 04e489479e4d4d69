//! The daily price-update tasks against the simulated market on a fixed clock:
//! `update_fx_prices` writes FX once (a second run adds nothing), `update_historical_prices`
//! writes daily, hourly and merged bars of sampled contracts, and spikes (made by scaling the
//! stored history) are recorded, listed, rejected (not recorded again) and accepted (the bar goes
//! through) with `prices spikes` / `prices check-spikes`; an FX spike blocks only its currency.

use std::path::Path;

use serde_json::Value;
use systrade::adapters::parquet::ParquetPriceStore;
use systrade::adapters::store::sqlite::{Durability, SqliteRunStore};
use systrade::domain::contract::ContractId;
use systrade::domain::instrument::InstrumentCode;
use systrade::domain::metadata::ContractStore;
use systrade::domain::ports::{Frequency, PriceStore};
use systrade::domain::sampling::StoredContract;

use crate::support::{stderr, stdout, TestHome};

const CONFIG: &str =
    "[prices]\ninstruments = [\"SP500\", \"V2X\"]\n\n[market]\nsim_start = \"2023-01-01\"\n";

const WORKFLOW: &str = r#"
[workflow]
name = "t"

[[node]]
id = "fx"
task = "update_fx_prices"

[[node]]
id = "hist"
task = "update_historical_prices"
params = { instruments = ["SP500"] }
"#;

const CONTRACT: &str = "20240900";

fn home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(h.path().join("config.toml"), CONFIG).unwrap();
    h.workflow("t", WORKFLOW);
    h
}

fn run_at(h: &TestHome, now: &str) -> std::process::Output {
    h.cmd()
        .env("SYSTRADE_NOW", now)
        .args(["run", "t", "--json"])
        .output()
        .unwrap()
}

fn json_at(h: &TestHome, now: &str, args: &[&str]) -> Value {
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", now)
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e})\n{}\n{}",
            stdout(&out),
            stderr(&out)
        )
    })
}

/// Marks SP500 20240900 sampled through the library (as update_sampled_contracts would).
fn mark_sampled(root: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteRunStore::open(&root.join("systrade.db"), Durability::Normal)
            .await
            .unwrap();
        store
            .upsert_contract(
                &InstrumentCode::new("SP500").unwrap(),
                &StoredContract {
                    contract: ContractId::parse(CONTRACT).unwrap(),
                    expiry: chrono::NaiveDate::from_ymd_opt(2024, 9, 20).unwrap(),
                    expiry_is_exact: false,
                    sampling: true,
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        store.close().await;
    });
}

fn bars(h: &TestHome, freq: &str) -> Value {
    h.json(&[
        "prices",
        "show",
        "SP500",
        "--contract",
        CONTRACT,
        "--frequency",
        freq,
        "--json",
    ])
}

fn timestamps(v: &Value) -> Vec<String> {
    v["timestamp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn pending(h: &TestHome) -> Vec<Value> {
    h.json(&["prices", "spikes", "--json"])["spikes"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn fx_and_historical_updates_with_spike_review() {
    let h = home();
    mark_sampled(h.path());
    let out = run_at(&h, "2024-06-27T23:30:00Z");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));

    // FX: EUR (the currency of V2X; SP500 is in USD) from the start of the market.
    let fx = h.json(&["prices", "fx", "EUR", "--json"]);
    let n_fx = fx["timestamp"].as_array().unwrap().len();
    assert!(n_fx > 300, "{n_fx} FX rows");
    assert_eq!(
        fx["timestamp"].as_array().unwrap().last().unwrap(),
        "2024-06-27 23:00:00"
    );

    // Contract bars: daily up to now, hourly, merged = both.
    let daily = bars(&h, "daily");
    let hourly = bars(&h, "hourly");
    let merged = bars(&h, "merged");
    let d = timestamps(&daily);
    assert_eq!(d.last().unwrap(), "2024-06-27 23:00:00");
    assert!(d.len() > 50);
    assert!(timestamps(&hourly).len() > d.len());
    assert!(timestamps(&merged).len() >= timestamps(&hourly).len());
    assert!(timestamps(&merged).windows(2).all(|w| w[0] < w[1]));

    // Same clock again: nothing new.
    let out = run_at(&h, "2024-06-27T23:30:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        h.json(&["prices", "fx", "EUR", "--json"])["timestamp"]
            .as_array()
            .unwrap()
            .len(),
        n_fx
    );
    assert_eq!(timestamps(&bars(&h, "daily")), d);

    // Triple the stored daily history: the next daily bar looks like a spike.
    let store = ParquetPriceStore::new(h.path().join("data"));
    let code = InstrumentCode::new("SP500").unwrap();
    let id = ContractId::parse(CONTRACT).unwrap();
    let mut stored = store
        .read_contract(&code, id, Frequency::Daily)
        .unwrap()
        .unwrap();
    for col in [
        &mut stored.open,
        &mut stored.high,
        &mut stored.low,
        &mut stored.close,
    ] {
        col.iter_mut().for_each(|v| *v *= 3.0);
    }
    store
        .write_contract(&code, id, Frequency::Daily, &stored)
        .unwrap();

    let friday = "2024-06-28T23:30:00Z";
    let out = run_at(&h, friday);
    assert!(!out.status.success(), "a pending spike fails the task");
    assert!(
        (stdout(&out) + &stderr(&out)).contains("check-spikes"),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let spikes = pending(&h);
    assert_eq!(spikes.len(), 1, "{spikes:?}");
    // The spike is a critical alert (and the node it failed another).
    let alerts = h.json(&["alerts", "--json"]);
    let list = alerts["alerts"].as_array().unwrap();
    let spike_alert = list.iter().find(|a| a["kind"] == "price_spike");
    assert!(
        spike_alert.is_some_and(|a| a["severity"] == "critical"
            && a["instrument"] == "SP500"
            && a["run_id"].is_i64()
            && a["node"].is_string()),
        "{alerts}"
    );
    assert!(list.iter().any(|a| a["kind"] == "node_failed"), "{alerts}");
    let spike = &spikes[0];
    assert_eq!(spike["frequency"], "daily");
    assert_eq!(spike["timestamp"], "2024-06-28 23:00:00");
    assert_eq!(spike["subject"]["kind"], "contract");
    // Nothing written for daily; hourly went on.
    assert_eq!(timestamps(&bars(&h, "daily")), d);
    assert!(timestamps(&bars(&h, "hourly"))
        .last()
        .unwrap()
        .starts_with("2024-06-28"));

    // Running again records the same spike once.
    assert!(!run_at(&h, friday).status.success());
    assert_eq!(pending(&h).len(), 1);

    // Unknown id: exit 2, nothing changed. Not a terminal and no flags: exit 2.
    let out = h.run(&["prices", "check-spikes", "--reject", "999"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = h.run(&["prices", "check-spikes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--accept"), "{}", stderr(&out));
    assert_eq!(pending(&h).len(), 1);

    // Reject: the bar is dropped, the task succeeds and records nothing new.
    let spike_id = spike["id"].as_i64().unwrap().to_string();
    let out = h.run(&["prices", "check-spikes", "--reject", &spike_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("update_historical_prices"));
    let out = h.run(&["prices", "check-spikes", "--accept", &spike_id]);
    assert_eq!(out.status.code(), Some(2), "already resolved");
    let out = run_at(&h, friday);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(pending(&h).is_empty());
    assert_eq!(timestamps(&bars(&h, "daily")), d);
    let all = h.json(&["prices", "spikes", "--all", "--json"]);
    assert_eq!(all["spikes"][0]["status"], "rejected");

    // Monday's bar spikes too; accepting it lets it through.
    let monday = "2024-07-01T23:30:00Z";
    assert!(!run_at(&h, monday).status.success());
    let spikes = pending(&h);
    assert_eq!(spikes.len(), 1);
    assert_eq!(spikes[0]["timestamp"], "2024-07-01 23:00:00");
    let accepted = json_at(
        &h,
        monday,
        &[
            "prices",
            "check-spikes",
            "--accept",
            &spikes[0]["id"].as_i64().unwrap().to_string(),
            "--json",
        ],
    );
    assert_eq!(accepted["resolved"][0]["status"], "accepted");
    let out = run_at(&h, monday);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let after = timestamps(&bars(&h, "daily"));
    assert_eq!(after.len(), d.len() + 1);
    assert_eq!(after.last().unwrap(), "2024-07-01 23:00:00");
    assert!(!after.contains(&"2024-06-28 23:00:00".to_string()));
    assert!(pending(&h).is_empty());
    // The merged series has Monday's daily bar.
    assert!(timestamps(&bars(&h, "merged")).contains(&"2024-07-01 23:00:00".to_string()));
}

#[test]
fn instruments_without_sampled_contracts_are_skipped() {
    let h = home();
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2024-06-27T23:30:00Z")
        .args(["trigger", "t", "hist", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let out = h.run(&[
        "prices",
        "show",
        "SP500",
        "--contract",
        CONTRACT,
        "--frequency",
        "daily",
    ]);
    assert!(!out.status.success());
}

#[test]
fn an_fx_spike_blocks_only_that_currency_until_rejected() {
    let h = home();
    h.workflow(
        "fx",
        "[workflow]\nname = \"fx\"\n[[node]]\nid = \"fx\"\ntask = \"update_fx_prices\"\nparams = { currencies = [\"EUR\", \"chf\"] }\n",
    );
    let run = |now: &str| {
        h.cmd()
            .env("SYSTRADE_NOW", now)
            .args(["run", "fx", "--json"])
            .output()
            .unwrap()
    };
    assert!(run("2024-06-27T23:30:00Z").status.success());
    let store = ParquetPriceStore::new(h.path().join("data"));
    let mut eur = store.read_fx("EUR").unwrap().unwrap();
    let n = eur.len();
    eur.value.iter_mut().for_each(|v| *v *= 3.0);
    store.write_fx("EUR", &eur).unwrap();
    let chf = store.read_fx("CHF").unwrap().unwrap().len();

    let out = run("2024-06-28T23:30:00Z");
    // One currency's spike stops nothing else: the node succeeds, warning about EUR.
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warning = summary["warnings"]["fx"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        warning.starts_with("FX EUR: price spike") && warning.contains("check-spikes"),
        "{summary}"
    );
    assert!(summary["message"]
        .as_str()
        .is_some_and(|m| m.contains("warnings from fx")));
    let show = h.run(&["show", &summary["run_id"].to_string()]);
    assert!(
        stdout(&show).contains("warnings:\n  fx: FX EUR: price spike"),
        "{}",
        stdout(&show)
    );
    // CHF was still updated; EUR was not.
    assert_eq!(store.read_fx("CHF").unwrap().unwrap().len(), chf + 1);
    assert_eq!(store.read_fx("EUR").unwrap().unwrap().len(), n);
    let spikes = pending(&h);
    assert_eq!(spikes.len(), 1);
    assert_eq!(
        spikes[0]["subject"],
        serde_json::json!({ "kind": "fx", "currency": "EUR" })
    );
    let id = spikes[0]["id"].as_i64().unwrap().to_string();

    let out = h.run(&["prices", "check-spikes", "--accept", &id, "--reject", &id]);
    assert_eq!(out.status.code(), Some(2), "named twice");
    assert_eq!(pending(&h).len(), 1);
    let out = h.run(&["prices", "check-spikes", "--reject", &id]);
    assert!(
        stdout(&out).contains("update_fx_prices"),
        "{}",
        stdout(&out)
    );

    let out = run("2024-06-28T23:30:00Z");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(store.read_fx("EUR").unwrap().unwrap().len(), n);
    assert!(pending(&h).is_empty());
}

/// A run killed after writing a contract's new daily and hourly bars but before its merged bars
/// leaves the merged bars a day behind; the re-run fetches no new bars, and must still rebuild
/// them (found by the crash drill: Friday's forward prices were missing from the multiple
/// prices).
#[test]
fn merged_bars_left_behind_by_a_killed_run_are_rebuilt_by_the_next() {
    let h = home();
    mark_sampled(h.path());
    let out = run_at(&h, "2024-06-27T23:30:00Z");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let merged_file = h
        .path()
        .join("data/contracts/SP500")
        .join(format!("{CONTRACT}.merged.parquet"));
    let thursday = std::fs::read(&merged_file).unwrap();
    let out = run_at(&h, "2024-06-28T23:30:00Z");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let friday = bars(&h, "merged");
    assert_eq!(
        timestamps(&friday).last().map(String::as_str),
        Some("2024-06-28 23:00:00")
    );
    // The kill: Friday's daily and hourly bars stand, the merged bars are Thursday's.
    std::fs::write(&merged_file, thursday).unwrap();
    assert_ne!(bars(&h, "merged"), friday);
    let out = run_at(&h, "2024-06-28T23:31:00Z");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(bars(&h, "merged"), friday);
}
