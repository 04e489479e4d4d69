//! The systrade home directory: `--home DIR`, else `SYSTRADE_HOME`, else the per-user data
//! directory. It holds the run store, the user's config, workflow and task overrides, backups
//! (by default; see `backup::destination`) and scheduler logs.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    /// Resolves the home from the command line and environment; never creates anything.
    pub fn resolve(cli: Option<&Path>, env: Option<&str>) -> Result<Home, String> {
        if let Some(p) = cli {
            return Ok(Home { root: absolute(p) });
        }
        if let Some(p) = env.filter(|s| !s.is_empty()) {
            return Ok(Home {
                root: absolute(Path::new(p)),
            });
        }
        directories::ProjectDirs::from("", "", "systrade")
            .map(|d| Home {
                root: d.data_dir().to_path_buf(),
            })
            .ok_or_else(|| {
                "cannot find a per-user data directory; pass --home DIR or set SYSTRADE_HOME"
                    .to_string()
            })
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("systrade.db")
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn workflows_dir(&self) -> PathBuf {
        self.root.join("workflows")
    }
    pub fn tasks_dir(&self) -> PathBuf {
        self.root.join("tasks")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// Time series (Parquet) live here.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    /// The user's strategy files (`NAME.toml`), beside the shipped `config/strategies/`.
    pub fn strategies_dir(&self) -> PathBuf {
        self.root.join("strategies")
    }
    /// Reports written by `systrade report` and the `report` task (`NAME_YYYY-MM-DD.ext`).
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }
    /// Backtest states kept by run_systems (one directory per strategy).
    pub fn backtests_dir(&self) -> PathBuf {
        self.root.join("backtests")
    }
    /// The user's reference data (instrument, roll and spread cost CSVs) overriding the shipped.
    pub fn reference_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    /// Creates the directory (and parents) if missing.
    pub fn ensure(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.root)
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}
