//! Unit tests of the configuration: defaults, file and environment layers, and every error.
use super::*;

pub(super) fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Config, Diagnostics> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
    }
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Config::load(&path, &env)
}

#[test]
fn sim_broker_faults_are_read_and_checked() {
    let c = load(
        Some("[broker]\nsim_disconnect_at_call = 3\nsim_reject_orders = true\nsim_partial_fill = 0.5\nsim_late_fill_calls = 2\nsim_duplicate_executions = true\nsim_stale_prices = true\n"),
        &[],
    )
    .unwrap();
    let b = &c.broker;
    assert_eq!((b.sim_disconnect_at_call, b.sim_late_fill_calls), (3, 2));
    assert_eq!(b.sim_partial_fill, 0.5);
    assert!(b.sim_reject_orders && b.sim_duplicate_executions && b.sim_stale_prices);
    let e = load(
        Some("[broker]\nsim_partial_fill = 1.5\nsim_late_fill_calls = -1\n"),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("broker.sim_partial_fill") && e.contains("broker.sim_late_fill_calls"),
        "{e}"
    );
}

#[test]
fn the_market_source_follows_the_broker_unless_set() {
    let source = |env: &[(&str, &str)]| load(None, env).map(|c| c.market.source);
    assert_eq!(source(&[]).unwrap(), MarketSource::Sim);
    assert_eq!(
        source(&[("SYSTRADE_BROKER__KIND", "ib")]).unwrap(),
        MarketSource::Broker
    );
    assert_eq!(
        source(&[
            ("SYSTRADE_BROKER__KIND", "ib"),
            ("SYSTRADE_MARKET__SOURCE", "sim")
        ])
        .unwrap(),
        MarketSource::Sim
    );
    assert_eq!(
        source(&[("SYSTRADE_MARKET__SOURCE", "broker")]).unwrap(),
        MarketSource::Broker
    );
    let e = source(&[("SYSTRADE_MARKET__SOURCE", "yahoo")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("market.source") && e.contains("yahoo"), "{e}");
}

#[test]
fn defaults_agree_with_documented_values() {
    let c = load(None, &[]).unwrap();
    assert_eq!(c.store.durability, Durability::Normal);
    assert_eq!(c.logging.retention_days, 30);
    assert_eq!(c.backup.keep_daily, 7);
    assert_eq!(c.backup.keep_weekly, 4);
    assert!(c.backup.destination.is_none());
    assert_eq!(c.prices.max_price_spike, 8.0);
    assert_eq!(c.prices.instruments.len(), 32);
    assert_eq!(c.market.source, MarketSource::Sim);
    assert_eq!(
        c.market.sim_start,
        chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap()
    );
    assert!(c.entries.values().all(|(_, s)| *s == Source::Default));
    assert_eq!(c.capital.method, CapitalMethod::Full);
    assert_eq!(c.capital.max_change, 0.10);
    assert_eq!(c.capital.base_currency, "USD");
    assert_eq!(c.broker.kind, BrokerKind::Sim);
    assert_eq!(c.broker.sim_disconnect_at_call, 0);
    assert_eq!(c.broker.sim_partial_fill, 0.0);
    assert!(!c.broker.sim_reject_orders && !c.broker.sim_stale_prices);
    assert_eq!(
        c.strategies.weights,
        vec![("chapter15_equal_weights".to_string(), 1.0)]
    );
    assert_eq!(c.strategies.backtest_keep_days, 30);
}

#[test]
fn strategy_weights_from_file_and_environment() {
    let c = load(Some("[strategies]\nweights = { b = 1, a = 3.0 }\n"), &[]).unwrap();
    assert_eq!(
        c.strategies.weights,
        vec![("a".to_string(), 3.0), ("b".to_string(), 1.0)]
    );
    let c = load(None, &[("SYSTRADE_STRATEGIES__WEIGHTS", "x=0.5, y=1.5")]).unwrap();
    assert_eq!(
        c.strategies.weights,
        vec![("x".to_string(), 0.5), ("y".to_string(), 1.5)]
    );
    let e = load(Some("[strategies]\nweights = { a = -1.0 }\n"), &[]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("strategies.weights") && text.contains("must be positive"),
        "{text}"
    );
    let e = load(Some("[capital]\nmethod = \"most\"\nmax_change = 0\n"), &[]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("capital.method") && text.contains("capital.max_change"),
        "{text}"
    );
}

#[test]
fn file_then_env_override_with_sources() {
    let c = load(
        Some("[logging]\nlevel = \"debug\"\nretention_days = 5\n"),
        &[
            ("SYSTRADE_LOGGING__RETENTION_DAYS", "9"),
            ("SYSTRADE_HOME", "/x"),
        ],
    )
    .unwrap();
    assert_eq!(c.logging.level, "debug");
    assert_eq!(c.logging.retention_days, 9);
    assert!(matches!(
        &c.entries["logging.level"].1,
        Source::File { line: 2, .. }
    ));
    assert!(matches!(
        &c.entries["logging.retention_days"].1,
        Source::Env { .. }
    ));
}

#[test]
fn unknown_keys_types_and_values_are_errors() {
    let e = load(
        Some("[logging]\nlevl = \"debug\"\n[backup]\nkeep_daily = \"many\"\n[stor]\n"),
        &[("SYSTRADE_LOGGING__NOPE", "1")],
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("config.toml:2") && text.contains("did you mean `level`"),
        "{text}"
    );
    assert!(
        text.contains("expected an integer, found a string"),
        "{text}"
    );
    assert!(
        text.contains("unknown section `[stor]`") && text.contains("did you mean `store`"),
        "{text}"
    );
    assert!(text.contains("SYSTRADE_LOGGING__NOPE"), "{text}");
    let e = load(Some("[store]\ndurability = \"sometimes\"\n"), &[]).unwrap_err();
    assert!(e.to_string().contains("config.toml:2") && e.to_string().contains("normal, full"));
}

#[test]
fn secrets_are_recognised() {
    assert!(
        is_secret("email.password")
            && is_secret("broker.api_key")
            && !is_secret("backup.keep_daily")
    );
}

#[test]
fn the_missed_window_grace_defaults_to_15_minutes_and_is_checked() {
    assert_eq!(
        load(None, &[])
            .unwrap()
            .scheduler
            .missed_window_alert_minutes,
        15
    );
    let off = load(
        None,
        &[("SYSTRADE_SCHEDULER__MISSED_WINDOW_ALERT_MINUTES", "0")],
    )
    .unwrap();
    assert_eq!(off.scheduler.missed_window_alert_minutes, 0);
    for bad in ["-1", "1441"] {
        let e = load(
            Some(&format!(
                "[scheduler]\nmissed_window_alert_minutes = {bad}\n"
            )),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("config.toml:2")
                && e.contains("scheduler.missed_window_alert_minutes")
                && e.contains(bad),
            "{e}"
        );
    }
}

#[test]
fn the_renamed_backup_keys_are_refused_naming_the_new_ones() {
    let text = load(Some("[backup]\nkeep = 3\ndirectory = \"/mnt/b\"\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("`backup.keep` was renamed `backup.keep_daily`")
            && text.contains("`backup.directory` was renamed `backup.destination`"),
        "{text}"
    );
    let text = load(None, &[("SYSTRADE_BACKUP__KEEP", "3")])
        .unwrap_err()
        .to_string();
    assert!(text.contains("renamed `backup.keep_daily`"), "{text}");
    let c = load(
        Some("[backup]\nkeep_daily = 3\nkeep_weekly = 0\ndestination = \"/mnt/b\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!((c.backup.keep_daily, c.backup.keep_weekly), (3, 0));
    assert_eq!(
        c.backup.destination.as_deref(),
        Some(std::path::Path::new("/mnt/b"))
    );
    let text = load(Some("[backup]\nkeep_daily = 0\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("backup.keep_daily") && text.contains("between 1 and"),
        "{text}"
    );
}
