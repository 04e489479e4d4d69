//! Configuration: `config/defaults.toml` (shipped, embedded) < `<home>/config.toml` <
//! `SYSTRADE_SECTION__KEY` environment variables. Every key must exist in the defaults (unknown
//! keys are errors with file, line and a suggestion); a value must have the default's type. The
//! source of each value is kept for `systrade config show`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::engine::diagnostic::{did_you_mean, Diagnostic, Diagnostics};
use crate::engine::duration::parse_duration;

mod markets;
pub use markets::{DuplicateGroup, MarketsConfig};
mod email;
pub use email::{EmailConfig, EmailSecurity};
mod reports;
pub use reports::{ReportOutput, ReportsConfig};
mod cleaners;
pub use cleaners::CleanersConfig;
mod backup;
pub use backup::BackupConfig;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Default,
    File { path: String, line: usize },
    Env { var: String },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File { path, line } => write!(f, "{path}:{line}"),
            Source::Env { var } => write!(f, "env {var}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durability {
    Normal,
    Full,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub durability: Durability,
}

#[derive(Debug, Clone)]
pub struct LoggingConfig {
    /// Terminal log level (the run store keeps info and above regardless).
    pub level: String,
    pub retention_days: u32,
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub poll_interval: Duration,
    /// A scheduled window open this many minutes with its workflow not started raises a
    /// `missed_window` alert; 0: never.
    pub missed_window_alert_minutes: u32,
}

/// The stack handler's execution settings (§B20 best execution).
#[derive(Debug, Clone)]
pub struct ExecutionConfig {
    /// A passive best-execution limit goes aggressive after this many seconds.
    pub passive_timeout_seconds: f64,
    /// A best-execution order is cancelled (and sent again) after this many seconds.
    pub total_timeout_seconds: f64,
    /// Seconds between stack handler passes.
    pub poll_seconds: f64,
    /// A leg the broker rejected is not sent again for this many seconds.
    pub reject_backoff_seconds: f64,
    /// A leg the broker rejected this many times is not sent again.
    pub max_reject_tries: u32,
}

/// Price updates (sysproduction's `max_price_spike` and cleaning defaults).
#[derive(Debug, Clone)]
pub struct PricesConfig {
    /// A move larger than this many average daily moves is a spike: recorded, not written.
    pub max_price_spike: f64,
    /// Instruments the daily price update collects (plus any with multiple prices).
    pub instruments: Vec<crate::domain::instrument::InstrumentCode>,
}

/// Where market data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketSource {
    /// The deterministic simulated exchange.
    Sim,
    /// The configured broker's historical data (`market.source = "broker"`, or `"auto"` with
    /// `broker.kind = "ib"`).
    Broker,
}

#[derive(Debug, Clone)]
pub struct MarketConfig {
    pub source: MarketSource,
    pub sim_seed: u64,
    /// First simulated trading day.
    pub sim_start: chrono::NaiveDate,
}

/// How total capital follows the broker's account value (§B9); defined with the capital rules.
pub use crate::domain::capital::CapitalMethod;

#[derive(Debug, Clone)]
pub struct CapitalConfig {
    pub method: CapitalMethod,
    /// The largest relative move of the account value taken without a person's confirmation.
    pub max_change: f64,
    /// Three-letter code of the base currency.
    pub base_currency: String,
}

/// Which broker.
#[derive(Debug, Clone, PartialEq)]
pub enum BrokerKind {
    /// The built-in simulated broker.
    Sim,
    /// Interactive Brokers through TWS / IB Gateway.
    Ib,
}

/// Where and how to reach TWS / IB Gateway (`broker.ib_*`).
#[derive(Debug, Clone)]
pub struct IbConfig {
    pub host: String,
    pub port: u16,
    /// `None`: the first account the login manages.
    pub account: Option<String>,
    pub client_id_first: i32,
    pub client_id_last: i32,
    pub call_timeout_seconds: f64,
    pub connect_timeout_seconds: f64,
    pub disconnect_alert_seconds: f64,
}

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub kind: BrokerKind,
    /// The simulated broker's account value before trading P&L, base currency.
    pub sim_account_value: f64,
    /// Injected faults of the simulated broker (see `adapters::sim_broker::SimFaults`).
    pub sim_disconnect_at_call: u64,
    pub sim_reject_orders: bool,
    pub sim_partial_fill: f64,
    pub sim_late_fill_calls: u64,
    pub sim_duplicate_executions: bool,
    pub sim_stale_prices: bool,
    pub ib: IbConfig,
}

/// The strategies run_systems runs.
#[derive(Debug, Clone)]
pub struct StrategiesConfig {
    /// (strategy name, capital weight), in name order; weights are positive.
    pub weights: Vec<(String, f64)>,
    /// Days a backtest state is kept.
    pub backtest_keep_days: u32,
}

/// The effective, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub store: StoreConfig,
    pub logging: LoggingConfig,
    pub scheduler: SchedulerConfig,
    pub backup: BackupConfig,
    pub prices: PricesConfig,
    pub market: MarketConfig,
    pub capital: CapitalConfig,
    pub broker: BrokerConfig,
    pub strategies: StrategiesConfig,
    pub execution: ExecutionConfig,
    /// Bad markets and duplicate groups (`[markets]`).
    pub markets: MarketsConfig,
    /// `[email]`; `None` when `email.server` is empty (no e-mail).
    pub email: Option<EmailConfig>,
    /// Where each report of the daily workflow goes (`[reports]`).
    pub reports: ReportsConfig,
    /// How long the cleaners keep what they delete (`[cleaners]`).
    pub cleaners: CleanersConfig,
    /// Every `section.key` with its value and source.
    pub entries: BTreeMap<String, (toml::Value, Source)>,
}

/// Keys whose values are never shown.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "pwd",
        "ib_account",
    ]
    .iter()
    .any(|s| k.contains(s))
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// Line of `key` inside `[section]` in a TOML text (for messages; 1-based).
fn find_line(text: &str, section: &str, key: Option<&str>) -> usize {
    let mut in_section = false;
    let mut section_line = 1;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_section = t.trim_matches(|c| c == '[' || c == ']').trim() == section;
            if in_section {
                section_line = i + 1;
                if key.is_none() {
                    return i + 1;
                }
            }
        } else if in_section {
            if let Some(k) = key {
                if t.split('=').next().map(str::trim) == Some(k) {
                    return i + 1;
                }
            }
        }
    }
    section_line
}

impl Config {
    /// Loads defaults, then the home config file if it exists, then `env` (pairs of name, value).
    pub fn load(home_config: &Path, env: &[(String, String)]) -> Result<Config, Diagnostics> {
        let defaults: toml::Table =
            toml::from_str(crate::shipped::DEFAULT_CONFIG).map_err(|e| {
                Diagnostic::new(
                    "config/defaults.toml",
                    format!("shipped defaults are invalid: {e}"),
                )
            })?;
        let mut entries: BTreeMap<String, (toml::Value, Source)> = BTreeMap::new();
        for (section, table) in &defaults {
            if let toml::Value::Table(t) = table {
                for (k, v) in t {
                    entries.insert(format!("{section}.{k}"), (v.clone(), Source::Default));
                }
            }
        }
        let mut errs = Vec::new();
        if home_config.exists() {
            let path = home_config.display().to_string();
            let text = match std::fs::read_to_string(home_config) {
                Ok(t) => t,
                Err(e) => return Err(Diagnostic::new(&path, format!("cannot read: {e}")).into()),
            };
            let user: toml::Table = match toml::from_str(&text) {
                Ok(t) => t,
                Err(e) => {
                    let src = crate::engine::diagnostic::SourceText::new(&path, text.as_str());
                    return Err(crate::engine::diagnostic::from_toml_error(&src, &e).into());
                }
            };
            for (section, value) in &user {
                let Some(toml::Value::Table(default_section)) = defaults.get(section) else {
                    let mut d = Diagnostic::new(&path, format!("unknown section `[{section}]`"))
                        .key(section.clone())
                        .help_opt(did_you_mean(section, defaults.keys().map(String::as_str)));
                    d.line = Some(find_line(&text, section, None));
                    errs.push(d);
                    continue;
                };
                let toml::Value::Table(t) = value else {
                    errs.push(
                        Diagnostic::new(
                            &path,
                            format!("`{section}` must be a table `[{section}]`"),
                        )
                        .key(section.clone()),
                    );
                    continue;
                };
                for (k, v) in t {
                    let key = format!("{section}.{k}");
                    let line = find_line(&text, section, Some(k));
                    match default_section.get(k) {
                        None => {
                            let mut d =
                                Diagnostic::new(&path, format!("unknown key `{k}` in [{section}]"))
                                    .help_opt(backup::renamed_help(&key).or_else(|| {
                                        did_you_mean(k, default_section.keys().map(String::as_str))
                                    }))
                                    .key(key);
                            d.line = Some(line);
                            errs.push(d);
                        }
                        Some(toml::Value::Float(_)) if v.is_integer() => {
                            let n = v.as_integer().unwrap_or_default() as f64;
                            entries.insert(
                                key,
                                (
                                    toml::Value::Float(n),
                                    Source::File {
                                        path: path.clone(),
                                        line,
                                    },
                                ),
                            );
                        }
                        Some(default)
                            if std::mem::discriminant(default) != std::mem::discriminant(v) =>
                        {
                            let mut d = Diagnostic::new(
                                &path,
                                format!("expected {}, found {}", type_name(default), type_name(v)),
                            )
                            .key(key);
                            d.line = Some(line);
                            errs.push(d);
                        }
                        Some(_) => {
                            entries.insert(
                                key,
                                (
                                    v.clone(),
                                    Source::File {
                                        path: path.clone(),
                                        line,
                                    },
                                ),
                            );
                        }
                    }
                }
            }
        }
        for (var, raw) in env {
            let Some(rest) = var.strip_prefix("SYSTRADE_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let full = format!(
                "{}.{}",
                section.to_ascii_lowercase(),
                key.to_ascii_lowercase()
            );
            let Some((default, _)) = entries.get(&full) else {
                let names: Vec<String> = entries.keys().map(|k| env_name(k)).collect();
                errs.push(
                    Diagnostic::new(
                        format!("environment variable {var}"),
                        format!("no config key `{full}`"),
                    )
                    .help_opt(
                        backup::renamed_help(&full)
                            .or_else(|| did_you_mean(var, names.iter().map(String::as_str))),
                    ),
                );
                continue;
            };
            let value = match default {
                toml::Value::Integer(_) => raw
                    .trim()
                    .parse::<i64>()
                    .map(toml::Value::Integer)
                    .map_err(|_| "an integer"),
                toml::Value::Boolean(_) => raw
                    .trim()
                    .parse::<bool>()
                    .map(toml::Value::Boolean)
                    .map_err(|_| "true or false"),
                toml::Value::Float(_) => raw
                    .trim()
                    .parse::<f64>()
                    .map(toml::Value::Float)
                    .map_err(|_| "a number"),
                _ => Ok(toml::Value::String(raw.clone())),
            };
            match value {
                Ok(v) => {
                    entries.insert(full, (v, Source::Env { var: var.clone() }));
                }
                Err(expected) => errs.push(Diagnostic::new(
                    format!("environment variable {var}"),
                    format!("expected {expected}, found `{raw}`"),
                )),
            }
        }
        if !errs.is_empty() {
            return Err(Diagnostics(errs));
        }
        Self::from_entries(entries)
    }

    fn from_entries(
        entries: BTreeMap<String, (toml::Value, Source)>,
    ) -> Result<Config, Diagnostics> {
        let mut errs = Vec::new();
        let mut bad = |key: &str, msg: String| {
            let (_, source) = &entries[key];
            let (file, line) = match source {
                Source::File { path, line } => (path.clone(), Some(*line)),
                Source::Env { var } => (format!("environment variable {var}"), None),
                Source::Default => ("config/defaults.toml".into(), None),
            };
            let mut d = Diagnostic::new(file, msg).key(key.to_string());
            d.line = line;
            errs.push(d);
        };
        let s = |key: &str| {
            entries
                .get(key)
                .and_then(|(v, _)| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let i = |key: &str| {
            entries
                .get(key)
                .and_then(|(v, _)| v.as_integer())
                .unwrap_or_default()
        };
        let durability = match s("store.durability").as_str() {
            "normal" => Durability::Normal,
            "full" => Durability::Full,
            other => {
                bad(
                    "store.durability",
                    format!("`{other}` is not one of: normal, full"),
                );
                Durability::Normal
            }
        };
        let level = s("logging.level");
        if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
            bad(
                "logging.level",
                format!("`{level}` is not one of: error, warn, info, debug, trace"),
            );
        }
        let retention = i("logging.retention_days");
        if !(1..=36_500).contains(&retention) {
            bad(
                "logging.retention_days",
                format!("must be between 1 and 36500, got {retention}"),
            );
        }
        let poll = match parse_duration(&s("scheduler.poll_interval")) {
            Ok(d) if d >= Duration::from_millis(100) && d <= Duration::from_secs(60) => d,
            Ok(_) => {
                bad(
                    "scheduler.poll_interval",
                    "must be between 100ms and 60s".into(),
                );
                Duration::from_secs(1)
            }
            Err(e) => {
                bad("scheduler.poll_interval", e);
                Duration::from_secs(1)
            }
        };
        let missed_minutes = i("scheduler.missed_window_alert_minutes");
        if !(0..=1440).contains(&missed_minutes) {
            bad(
                "scheduler.missed_window_alert_minutes",
                format!(
                    "must be a whole number of minutes from 0 (off) to 1440, got {missed_minutes}"
                ),
            );
        }
        let (backup, problems) = backup::parse(&entries);
        for (key, msg) in problems {
            bad(key, msg);
        }
        let spike = entries
            .get("prices.max_price_spike")
            .and_then(|(v, _)| v.as_float())
            .unwrap_or(f64::NAN);
        if !(spike > 1.0 && spike.is_finite()) {
            bad(
                "prices.max_price_spike",
                format!("must be a number above 1, got {spike}"),
            );
        }
        let mut instruments = Vec::new();
        match entries.get("prices.instruments").map(|(v, _)| v) {
            Some(toml::Value::Array(items)) => {
                for item in items {
                    match item
                        .as_str()
                        .map(crate::domain::instrument::InstrumentCode::new)
                    {
                        Some(Ok(code)) if !instruments.contains(&code) => instruments.push(code),
                        Some(Ok(code)) => {
                            bad("prices.instruments", format!("`{code}` is listed twice"))
                        }
                        Some(Err(e)) => bad("prices.instruments", e),
                        None => bad(
                            "prices.instruments",
                            format!("expected instrument codes as strings, found {item}"),
                        ),
                    }
                }
            }
            _ => bad(
                "prices.instruments",
                "expected an array of instrument codes".into(),
            ),
        }
        let seed = i("market.sim_seed");
        if seed < 0 {
            bad(
                "market.sim_seed",
                format!("must not be negative, got {seed}"),
            );
        }
        let start_text = s("market.sim_start");
        let sim_start = match chrono::NaiveDate::parse_from_str(&start_text, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                bad(
                    "market.sim_start",
                    format!("`{start_text}` is not a date YYYY-MM-DD"),
                );
                chrono::NaiveDate::MIN
            }
        };
        let f = |key: &str| {
            entries
                .get(key)
                .and_then(|(v, _)| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                .unwrap_or(f64::NAN)
        };
        let execution = ExecutionConfig {
            passive_timeout_seconds: f("execution.passive_timeout_seconds"),
            total_timeout_seconds: f("execution.total_timeout_seconds"),
            poll_seconds: f("execution.poll_seconds"),
            reject_backoff_seconds: f("execution.reject_backoff_seconds"),
            max_reject_tries: u32::try_from(i("execution.max_reject_tries")).unwrap_or(0),
        };
        if !(1..=100).contains(&execution.max_reject_tries) {
            bad(
                "execution.max_reject_tries",
                format!(
                    "must be a whole number from 1 to 100, got {}",
                    i("execution.max_reject_tries")
                ),
            );
        }
        for (key, value) in [
            (
                "execution.passive_timeout_seconds",
                execution.passive_timeout_seconds,
            ),
            (
                "execution.total_timeout_seconds",
                execution.total_timeout_seconds,
            ),
            ("execution.poll_seconds", execution.poll_seconds),
            (
                "execution.reject_backoff_seconds",
                execution.reject_backoff_seconds,
            ),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
                bad(
                    key,
                    format!("must be a number of seconds above 0 (at most a day), got {value}"),
                );
            }
        }
        if execution.total_timeout_seconds < execution.passive_timeout_seconds {
            bad(
                "execution.total_timeout_seconds",
                format!(
                    "must not be below execution.passive_timeout_seconds ({})",
                    execution.passive_timeout_seconds
                ),
            );
        }
        let method = match s("capital.method").as_str() {
            "full" => CapitalMethod::Full,
            "half" => CapitalMethod::Half,
            "fixed" => CapitalMethod::Fixed,
            other => {
                bad(
                    "capital.method",
                    format!("`{other}` is not one of: full, half, fixed"),
                );
                CapitalMethod::Full
            }
        };
        let max_change = f("capital.max_change");
        if !(max_change > 0.0 && max_change.is_finite()) {
            bad(
                "capital.max_change",
                format!("must be a positive fraction (0.10 = 10%), got {max_change}"),
            );
        }
        let base_currency = s("capital.base_currency");
        if !(base_currency.len() == 3 && base_currency.chars().all(|c| c.is_ascii_uppercase())) {
            bad(
                "capital.base_currency",
                format!("`{base_currency}` is not a three-letter currency code like USD"),
            );
        }
        let broker_kind = match s("broker.kind").as_str() {
            "sim" => BrokerKind::Sim,
            "ib" => BrokerKind::Ib,
            other => {
                bad(
                    "broker.kind",
                    format!("`{other}` is not a broker; use \"sim\" or \"ib\""),
                );
                BrokerKind::Sim
            }
        };
        // After broker.kind: "auto" follows the broker (IB's prices with IB, else simulated).
        let source = match s("market.source").as_str() {
            "sim" => MarketSource::Sim,
            "broker" => MarketSource::Broker,
            "auto" if broker_kind == BrokerKind::Ib => MarketSource::Broker,
            "auto" => MarketSource::Sim,
            other => {
                bad(
                    "market.source",
                    format!("`{other}` is not a market data source; use \"auto\" (the broker's prices when broker.kind = \"ib\", else simulated), \"sim\" or \"broker\""),
                );
                MarketSource::Sim
            }
        };
        let ib_port = i("broker.ib_port");
        if !(1..=65_535).contains(&ib_port) {
            bad(
                "broker.ib_port",
                format!("must be a TCP port (1 to 65535), got {ib_port}"),
            );
        }
        let id_first = i("broker.ib_client_id_first");
        let id_last = i("broker.ib_client_id_last");
        if !(0..=i32::MAX as i64).contains(&id_first)
            || id_last < id_first
            || id_last > i32::MAX as i64
        {
            bad(
                "broker.ib_client_id_last",
                format!(
                    "the client id range {id_first}..={id_last} must be non-negative and not empty"
                ),
            );
        }
        let mut seconds = |key: &str| {
            let x = f(key);
            if !(x > 0.0 && x.is_finite()) {
                bad(
                    key,
                    format!("must be a positive number of seconds, got {x}"),
                );
            }
            x
        };
        let ib = IbConfig {
            host: s("broker.ib_host"),
            port: u16::try_from(ib_port).unwrap_or(4002),
            account: Some(s("broker.ib_account")).filter(|a| !a.trim().is_empty()),
            client_id_first: i32::try_from(id_first).unwrap_or(1),
            client_id_last: i32::try_from(id_last).unwrap_or(99),
            call_timeout_seconds: seconds("broker.ib_call_timeout_seconds"),
            connect_timeout_seconds: seconds("broker.ib_connect_timeout_seconds"),
            disconnect_alert_seconds: seconds("broker.ib_disconnect_alert_seconds"),
        };
        let sim_account_value = f("broker.sim_account_value");
        if !(sim_account_value >= 0.0 && sim_account_value.is_finite()) {
            bad(
                "broker.sim_account_value",
                format!("must be a non-negative number, got {sim_account_value}"),
            );
        }
        let b = |key: &str| {
            entries
                .get(key)
                .and_then(|(v, _)| v.as_bool())
                .unwrap_or_default()
        };
        let mut count = |key: &str| {
            let n = i(key);
            u64::try_from(n).unwrap_or_else(|_| {
                bad(key, format!("must be 0 or more, got {n}"));
                0
            })
        };
        let sim_disconnect_at_call = count("broker.sim_disconnect_at_call");
        let sim_late_fill_calls = count("broker.sim_late_fill_calls");
        let sim_partial_fill = f("broker.sim_partial_fill");
        if !(0.0..1.0).contains(&sim_partial_fill) {
            bad(
                "broker.sim_partial_fill",
                format!("must be at least 0 and below 1, got {sim_partial_fill}"),
            );
        }
        let strategy_weights =
            match parse_strategy_weights(entries.get("strategies.weights").map(|(v, _)| v)) {
                Ok(w) => w,
                Err(e) => {
                    bad("strategies.weights", e);
                    Vec::new()
                }
            };
        let keep_days = i("strategies.backtest_keep_days");
        if !(1..=36_500).contains(&keep_days) {
            bad(
                "strategies.backtest_keep_days",
                format!("must be between 1 and 36500, got {keep_days}"),
            );
        }
        let (markets, problems) = markets::parse(&entries);
        for (key, msg) in problems {
            bad(key, msg);
        }
        let email = email::from_entries(&entries).unwrap_or_else(|problems| {
            for (key, msg) in problems {
                bad(&key, msg);
            }
            None
        });
        let (cleaners, problems) = cleaners::parse(&entries);
        for (key, msg) in problems {
            bad(key, msg);
        }
        let report_names: Vec<&str> = crate::reports::REPORTS.iter().map(|r| r.name).collect();
        let (reports, problems) = reports::parse(&entries, &report_names);
        for (key, msg) in problems {
            bad(key, msg);
        }
        if reports.emails_any() && email.is_none() {
            let key = if reports.output.to_email() {
                "reports.output"
            } else {
                "reports.outputs"
            };
            bad(
                key,
                "e-mails reports, but no e-mail is configured: set email.server (and \
                 email.from, email.to), or send the reports to \"file\""
                    .into(),
            );
        }
        if !errs.is_empty() {
            return Err(Diagnostics(errs));
        }
        Ok(Config {
            markets,
            email,
            reports,
            cleaners,
            capital: CapitalConfig {
                method,
                max_change,
                base_currency,
            },
            broker: BrokerConfig {
                kind: broker_kind,
                sim_account_value,
                sim_disconnect_at_call,
                sim_reject_orders: b("broker.sim_reject_orders"),
                sim_partial_fill,
                sim_late_fill_calls,
                sim_duplicate_executions: b("broker.sim_duplicate_executions"),
                sim_stale_prices: b("broker.sim_stale_prices"),
                ib,
            },
            strategies: StrategiesConfig {
                weights: strategy_weights,
                backtest_keep_days: keep_days as u32,
            },
            store: StoreConfig { durability },
            logging: LoggingConfig {
                level,
                retention_days: retention as u32,
            },
            scheduler: SchedulerConfig {
                poll_interval: poll,
                missed_window_alert_minutes: u32::try_from(missed_minutes).unwrap_or(0),
            },
            backup,
            prices: PricesConfig {
                max_price_spike: spike,
                instruments,
            },
            market: MarketConfig {
                source,
                sim_seed: seed as u64,
                sim_start,
            },
            execution,
            entries,
        })
    }
}

/// `strategies.weights`: a table `{ name = weight }`, or (from the environment) a string
/// `"name=weight,name=weight"`. Names are strategy names; weights positive and finite.
fn parse_strategy_weights(value: Option<&toml::Value>) -> Result<Vec<(String, f64)>, String> {
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut push = |name: &str, w: Option<f64>| -> Result<(), String> {
        let name = name.trim();
        crate::domain::controls::StrategyName::new(name)?;
        let w = w.ok_or_else(|| format!("the weight of `{name}` is not a number"))?;
        if !(w > 0.0 && w.is_finite()) {
            return Err(format!("the weight of `{name}` must be positive, got {w}"));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("`{name}` is listed twice"));
        }
        out.push((name.to_string(), w));
        Ok(())
    };
    match value {
        Some(toml::Value::Table(t)) => {
            for (name, v) in t {
                push(
                    name,
                    v.as_float().or_else(|| v.as_integer().map(|i| i as f64)),
                )?;
            }
        }
        Some(toml::Value::String(text)) => {
            for part in text.split(',').filter(|p| !p.trim().is_empty()) {
                let (name, w) = part
                    .split_once('=')
                    .ok_or_else(|| format!("`{part}` is not name=weight"))?;
                push(name, w.trim().parse::<f64>().ok())?;
            }
        }
        _ => return Err("expected a table { strategy_name = weight, ... }".into()),
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The environment variable that overrides a `section.key`.
pub fn env_name(key: &str) -> String {
    let (section, k) = key.split_once('.').unwrap_or((key, ""));
    format!(
        "SYSTRADE_{}__{}",
        section.to_ascii_uppercase(),
        k.to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests;
