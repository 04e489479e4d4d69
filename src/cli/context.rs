//! What most commands need: the resolved home, its config, the run store, the clock, logging.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use super::terminal::{Progress, TerminalLayer};
use super::CliError;
use crate::adapters::store::sqlite::{Durability as SqliteDurability, SqliteRunStore};
use crate::app::{App, WorkflowSource};
use crate::config::{Config, Durability};
use crate::engine::clock::{clock_from_env, Clock};
use crate::engine::executor::{Executor, RunObserver};
use crate::engine::logsink::{LogBuffer, StoreLogLayer};
use crate::engine::plan::Plan;
use crate::engine::process::ProcessIdentity;
use crate::engine::task::EngineEnv;
use crate::home::Home;

#[derive(Debug, Clone)]
pub struct GlobalOpts {
    pub home: Option<PathBuf>,
    pub verbose: bool,
    pub quiet: bool,
}

/// An opened home.
pub struct Ctx {
    pub home: Home,
    pub config: Config,
    pub store: Arc<SqliteRunStore>,
    pub clock: Arc<dyn Clock>,
    pub identity: ProcessIdentity,
    pub logs: LogBuffer,
    pub opts: GlobalOpts,
    /// The IB contract mapping, loaded (and checked) at start when `broker.kind = "ib"`.
    pub ib_contracts: Option<Arc<crate::adapters::ib::contracts::IbContractMap>>,
}

/// The home as the user named it, without creating anything.
pub fn resolve_home(opts: &GlobalOpts) -> anyhow::Result<Home> {
    Home::resolve(
        opts.home.as_deref(),
        std::env::var("SYSTRADE_HOME").ok().as_deref(),
    )
    .map_err(|e| CliError::Invalid(e).into())
}

pub fn load_config(home: &Home) -> anyhow::Result<Config> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    Ok(Config::load(&home.config_path(), &env)?)
}

pub fn clock() -> anyhow::Result<Arc<dyn Clock>> {
    let v = std::env::var("SYSTRADE_NOW").ok();
    clock_from_env(v.as_deref())
        .map(Arc::from)
        .map_err(|e| CliError::Invalid(e).into())
}

/// Installs the terminal and run-store log layers (once per process).
pub fn init_logging(opts: &GlobalOpts, config_level: &str, logs: &LogBuffer) {
    let level = if opts.verbose {
        Level::DEBUG
    } else if opts.quiet {
        Level::WARN
    } else {
        config_level.parse().unwrap_or(Level::INFO)
    };
    let terminal = TerminalLayer {
        max_level: level,
        colour: std::io::stderr().is_terminal(),
    }
    .with_filter(
        Targets::new()
            .with_target("systrade", level)
            .with_default(Level::ERROR),
    );
    let store = StoreLogLayer::new(logs.clone())
        .with_filter(Targets::new().with_target("systrade", Level::INFO));
    let _ = tracing_subscriber::registry()
        .with(terminal)
        .with(store)
        .try_init();
}

impl Ctx {
    /// Resolves and creates the home, loads config, opens (and migrates) the run store.
    pub async fn open(opts: &GlobalOpts) -> anyhow::Result<Ctx> {
        let home = resolve_home(opts)?;
        let config = load_config(&home)?;
        home.ensure()
            .with_context(|| format!("cannot create home directory {}", home.root.display()))?;
        let durability = match config.store.durability {
            Durability::Normal => SqliteDurability::Normal,
            Durability::Full => SqliteDurability::Full,
        };
        let store = SqliteRunStore::open(&home.db_path(), durability)
            .await
            .with_context(|| format!("cannot open the run store {}", home.db_path().display()))?;
        let logs = LogBuffer::default();
        init_logging(opts, &config.logging.level, &logs);
        let ib_contracts = match config.broker.kind {
            crate::config::BrokerKind::Ib => Some(Arc::new(
                crate::adapters::ib::contracts::IbContractMap::load(&home.reference_dir())
                    .context("the IB contract config is not valid")?,
            )),
            crate::config::BrokerKind::Sim => None,
        };
        Ok(Ctx {
            ib_contracts,
            home,
            config,
            store: Arc::new(store),
            clock: clock()?,
            identity: ProcessIdentity::current(),
            logs,
            opts: opts.clone(),
        })
    }

    /// The configured broker (`broker.kind`).
    pub fn broker(&self) -> Arc<dyn crate::domain::broker::Broker> {
        match self.config.broker.kind {
            crate::config::BrokerKind::Ib => Arc::new(self.ib_broker(
                self.ib_contracts.clone().unwrap_or_default(),
                &format!(
                    "systrade {}",
                    std::env::args().skip(1).collect::<Vec<_>>().join(" ")
                ),
            )),
            crate::config::BrokerKind::Sim => self.sim_broker(),
        }
    }

    /// The simulated broker, with the configured account value and faults (whatever
    /// `broker.kind` says: `broker fake-ib` serves its account).
    pub fn sim_broker(&self) -> Arc<dyn crate::domain::broker::Broker> {
        use crate::adapters::sim_broker::{SimBroker, SimFaults, StoredQuotes};
        let b = &self.config.broker;
        // Reference data that does not load leaves the broker able to value the account
        // but not to trade; the commands that trade report the reference data's errors.
        let reference = Arc::new(
            crate::adapters::reference_files::load_reference_data(&self.home.reference_dir())
                .unwrap_or_default(),
        );
        let prices: Arc<dyn crate::domain::ports::PriceStore> = Arc::new(
            crate::adapters::parquet::ParquetPriceStore::new(self.home.data_dir()),
        );
        Arc::new(SimBroker::new(
            self.store.pool().clone(),
            Arc::new(StoredQuotes::new(prices, reference.clone())),
            reference,
            self.clock.clone(),
            self.config.broker.sim_account_value,
            self.config.capital.base_currency.clone(),
            SimFaults {
                disconnect_at_call: b.sim_disconnect_at_call,
                reject_orders: b.sim_reject_orders,
                partial_fill: b.sim_partial_fill,
                late_fill_calls: b.sim_late_fill_calls,
                duplicate_executions: b.sim_duplicate_executions,
                stale_prices: b.sim_stale_prices,
            },
        ))
    }

    /// An IB broker with the configured connection settings.
    pub fn ib_broker(
        &self,
        contracts: Arc<crate::adapters::ib::contracts::IbContractMap>,
        purpose: &str,
    ) -> crate::adapters::ib::broker::IbBroker {
        use std::time::Duration;
        let ib = &self.config.broker.ib;
        crate::adapters::ib::broker::IbBroker::new(
            crate::adapters::ib::broker::IbSettings {
                host: ib.host.clone(),
                port: ib.port,
                account: ib.account.clone(),
                client_id_first: ib.client_id_first,
                client_id_last: ib.client_id_last,
                call_timeout: Duration::from_secs_f64(ib.call_timeout_seconds),
                connect_timeout: Duration::from_secs_f64(ib.connect_timeout_seconds),
                disconnect_alert: Duration::from_secs_f64(ib.disconnect_alert_seconds),
                messages_per_second: 45,
                purpose: purpose.to_string(),
            },
            contracts,
            self.store.clone(),
        )
    }

    pub fn app(&self) -> Arc<App> {
        Arc::new(App {
            home: self.home.clone(),
            config: self.config.clone(),
            clock: self.clock.clone(),
            metadata: self.store.clone(),
            capital: self.store.clone(),
            optimal: self.store.clone(),
            controls: self.store.clone(),
            orders: self.store.clone(),
            broker: self.broker(),
        })
    }

    pub fn env(&self) -> Arc<EngineEnv> {
        Arc::new(EngineEnv {
            home: self.home.root.clone(),
            store: self.store.clone(),
            guard_exe: std::env::current_exe().ok(),
            host: self.identity.host.clone(),
        })
    }

    pub fn executor(
        &self,
        observer: Arc<dyn RunObserver>,
        cancel: tokio::sync::watch::Receiver<bool>,
    ) -> Executor<App> {
        Executor {
            env: self.env(),
            app: self.app(),
            clock: self.clock.clone(),
            identity: self.identity.clone(),
            logs: Some(self.logs.clone()),
            observer,
            cancel,
        }
    }

    pub fn progress(&self, json: bool) -> Arc<dyn RunObserver> {
        Arc::new(Progress::new(!json && !self.opts.quiet))
    }

    pub fn resolve(&self, arg: &str) -> anyhow::Result<WorkflowSource> {
        Ok(crate::app::resolve_workflow(&self.home, arg)?)
    }

    pub fn plan(&self, source: &WorkflowSource) -> anyhow::Result<Plan<App>> {
        Ok(crate::app::plan_workflow(&self.home, source)?)
    }
}

/// A channel that turns true on the first Ctrl-C or SIGTERM; a second one exits at once.
pub fn cancel_on_signals() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
        let mut first = true;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if first {
                first = false;
                eprintln!("cancelling: stopping running nodes and recording the run (press Ctrl-C again to exit at once)");
                let _ = tx.send(true);
            } else {
                std::process::exit(130);
            }
        }
    });
    rx
}

const CONFIG_TEMPLATE: &str = "# systrade configuration for this home. Every key is optional; the shipped defaults\n\
# and their meaning are shown by `systrade config show`. Unknown keys are errors.\n\
#\n# [logging]\n# level = \"info\"\n# retention_days = 30\n#\n# [store]\n# durability = \"normal\"\n#\n\
# [scheduler]\n# poll_interval = \"1s\"\n#\n# [backup]\n# keep = 7\n# directory = \"\"\n";

/// `systrade init`.
pub async fn init(opts: &GlobalOpts, json: bool) -> anyhow::Result<i32> {
    let ctx = Ctx::open(opts).await?;
    let mut created = Vec::new();
    for dir in [
        ctx.home.workflows_dir(),
        ctx.home.tasks_dir(),
        ctx.home.logs_dir(),
    ] {
        if !dir.exists() {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            created.push(dir.display().to_string());
        }
    }
    let cfg = ctx.home.config_path();
    if !cfg.exists() {
        std::fs::write(&cfg, CONFIG_TEMPLATE)
            .with_context(|| format!("cannot write {}", cfg.display()))?;
        created.push(cfg.display().to_string());
    }
    if json {
        super::output::print_json(
            &serde_json::json!({ "home": ctx.home.root, "database": ctx.home.db_path(), "created": created }),
        )?;
    } else {
        outln!("home: {}", ctx.home.root.display());
        outln!("run store: {}", ctx.home.db_path().display());
        for c in &created {
            outln!("created {c}");
        }
        outln!("next: `systrade status`, `systrade run daily`, or `systrade demo`");
    }
    Ok(0)
}
