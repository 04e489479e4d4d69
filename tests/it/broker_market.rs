//! The broker as the market data source, through the binary: an "exchange" home collects prices
//! from the simulated market, `systrade broker fake-ib` serves them as IB would, and a trader's
//! home with `broker.kind = "ib"` (so `market.source = "auto"` is the broker) runs the price
//! tasks against it: its sampled contracts, daily and hourly bars and spot FX (including a pair
//! IB quotes in USD, inverted twice on the way) come out equal to the exchange's. Building an
//! instrument's history from the broker is refused with what to do instead.

use std::path::Path;
use std::process::Child;

use systrade::adapters::parquet::ParquetPriceStore;
use systrade::domain::instrument::InstrumentCode;
use systrade::domain::ports::{Frequency, PriceStore};

use crate::support::{stderr, stdout, TestHome};

const WORKFLOW: &str = r#"
[workflow]
name = "prices"

[[node]]
id = "fx"
task = "update_fx_prices"
params = { currencies = ["EUR", "JPY"] }

[[node]]
id = "sampled"
task = "update_sampled_contracts"
params = { instruments = ["SP500"] }

[[node]]
id = "hist"
task = "update_historical_prices"
params = { instruments = ["SP500"] }
after = ["sampled"]
"#;

/// Kills the fake gateway however the test ends.
struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn home(extra_config: &str) -> TestHome {
    let h = TestHome::new();
    let start = (chrono::Utc::now() - chrono::Duration::days(45)).date_naive();
    std::fs::write(
        h.path().join("config.toml"),
        format!("[prices]\ninstruments = [\"SP500\"]\n\n[market]\nsim_start = \"{start}\"\n{extra_config}"),
    )
    .expect("config");
    h.workflow("prices", WORKFLOW);
    h.workflow(
        "multiple",
        "[workflow]\nname = \"multiple\"\n\n[[node]]\nid = \"multiple\"\ntask = \"update_multiple_adjusted_prices\"\nparams = { instruments = [\"SP500\"] }\n",
    );
    h
}

fn run_prices(h: &TestHome, port: Option<u16>) -> std::process::Output {
    let mut cmd = match port {
        Some(port) => h.ib_cmd(port),
        None => h.cmd(),
    };
    cmd.args(["run", "prices", "--json"]).output().expect("run")
}

fn assert_success(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(out),
        stderr(out)
    );
}

fn sp500() -> InstrumentCode {
    InstrumentCode::new("SP500").expect("code")
}

fn store(root: &Path) -> ParquetPriceStore {
    ParquetPriceStore::new(root.join("data"))
}

#[test]
fn the_price_tasks_take_bars_and_fx_from_ib_when_the_broker_is_ib() {
    let exchange = home("");
    let out = run_prices(&exchange, None);
    assert_success(&out);
    let (child, port) = crate::broker_ib::start_fake(&exchange);
    let _gateway = Gateway(child);

    let trader = home("");
    let out = run_prices(&trader, Some(port));
    assert_success(&out);

    let leases = trader.json(&["broker", "client-ids", "--json"]);
    assert_eq!(
        leases["leases"],
        serde_json::json!([]),
        "the run gave its client id back"
    );

    let (ours, theirs) = (store(trader.path()), store(exchange.path()));
    let contracts = theirs
        .contracts_with_prices(&sp500(), Frequency::Daily)
        .expect("exchange contracts");
    assert!(!contracts.is_empty());
    let mut bars_from_ib = 0;
    for contract in &contracts {
        let theirs_daily = theirs
            .read_contract(&sp500(), *contract, Frequency::Daily)
            .expect("read")
            .unwrap_or_default();
        let ours_daily = ours
            .read_contract(&sp500(), *contract, Frequency::Daily)
            .expect("read")
            .unwrap_or_default();
        assert_eq!(
            ours_daily.ts, theirs_daily.ts,
            "{contract} daily timestamps"
        );
        for (a, b) in ours_daily.close.iter().zip(&theirs_daily.close) {
            assert!((a - b).abs() <= 1e-9 * b.abs(), "{contract}: {a} vs {b}");
        }
        // IB serves 30 days of hourly bars.
        let month_ago = (chrono::Utc::now() - chrono::Duration::days(29)).timestamp_micros();
        let hourly = |s: &ParquetPriceStore| -> Vec<i64> {
            s.read_contract(&sp500(), *contract, Frequency::Hourly)
                .expect("read")
                .unwrap_or_default()
                .ts
                .into_iter()
                .filter(|t| *t >= month_ago)
                .collect()
        };
        assert_eq!(hourly(&ours), hourly(&theirs), "{contract} hourly");
        bars_from_ib += ours_daily.len();
    }
    assert!(
        bars_from_ib >= 20,
        "{bars_from_ib} daily bars from the broker"
    );

    for currency in ["EUR", "JPY"] {
        let theirs_fx = theirs
            .read_fx(currency)
            .expect("read")
            .expect("exchange fx");
        let ours_fx = ours.read_fx(currency).expect("read").expect("fx from IB");
        assert!(ours_fx.len() >= 20, "{currency}: {} rates", ours_fx.len());
        assert_eq!(ours_fx.ts, theirs_fx.ts, "{currency}");
        for (a, b) in ours_fx.value.iter().zip(&theirs_fx.value) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{currency}: {a} vs {b}");
        }
    }

    // The broker serves a year: it cannot build SP500's history, and says what to do.
    let out = trader
        .ib_cmd(port)
        .args(["run", "multiple"])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("systrade import pysystemtrade"), "{text}");
    assert!(ours.read_multiple(&sp500()).expect("read").is_none());
}

#[test]
fn a_gateway_that_is_down_fails_the_price_node_as_retryable_and_writes_nothing() {
    let trader = home("");
    let port = crate::support::free_port();
    let out = trader
        .ib_cmd(port)
        .env("SYSTRADE_BROKER__IB_CONNECT_TIMEOUT_SECONDS", "1")
        .args(["run", "prices", "--json"])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(store(trader.path())
        .fx_currencies()
        .expect("list")
        .is_empty());
}
