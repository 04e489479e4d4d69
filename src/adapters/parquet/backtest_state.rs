//! Backtest states ([`BacktestStateStore`]) as files: `<root>/<strategy>/<stamp>.parquet`, one
//! long-format frame per run (`instrument`, `day`, then every series under the golden files'
//! column names, the last [`BACKTEST_STATE_ROWS`]-style `rows` grid days of each instrument),
//! with the strategy config it ran with beside it as `<stamp>.toml`. `<stamp>` is the UTC
//! computation time `YYYYMMDDTHHMMSS.ffffffZ`. The Parquet file is written last and atomically,
//! so a state is listed only once it is whole.
//!
//! [`BACKTEST_STATE_ROWS`]: crate::domain::optimal::BACKTEST_STATE_ROWS

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use polars::prelude::{Column, DataFrame, DataType};

use super::file::{read_frame, stems_in, write_frame_atomic};
use crate::domain::backtest::portfolio::StrategyRun;
use crate::domain::controls::StrategyName;
use crate::domain::optimal::{
    named_series, BacktestStateInfo, BacktestStateStore, OptimalError, StoredSeries,
};

const EXT: &str = ".parquet";
const STAMP: &str = "%Y%m%dT%H%M%S%.6fZ";
const INSTRUMENT: &str = "instrument";
const DAY: &str = "day";

/// Backtest states under one root directory (`<home>/backtests`).
#[derive(Debug, Clone)]
pub struct ParquetBacktestStates {
    root: PathBuf,
}

impl ParquetBacktestStates {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn dir(&self, strategy: &str) -> Result<PathBuf, OptimalError> {
        let name = StrategyName::new(strategy).map_err(|detail| OptimalError::State {
            path: self.root.display().to_string(),
            detail,
        })?;
        Ok(self.root.join(name.as_str()))
    }

    fn states_of(&self, strategy: &str) -> Result<Vec<BacktestStateInfo>, OptimalError> {
        let dir = self.dir(strategy)?;
        let stems = stems_in(&dir, EXT).map_err(|e| state_err(&dir, e))?;
        let mut out: Vec<BacktestStateInfo> = stems
            .into_iter()
            .filter_map(|stem| {
                let at = NaiveDateTime::parse_from_str(&stem, STAMP).ok()?.and_utc();
                Some(BacktestStateInfo {
                    strategy: strategy.to_string(),
                    computed_at: at,
                    path: dir.join(format!("{stem}{EXT}")),
                })
            })
            .collect();
        out.sort_by_key(|s| s.computed_at);
        Ok(out)
    }
}

fn state_err(path: &Path, e: impl std::fmt::Display) -> OptimalError {
    OptimalError::State {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

impl BacktestStateStore for ParquetBacktestStates {
    fn write_state(
        &self,
        strategy: &str,
        computed_at: DateTime<Utc>,
        run: &StrategyRun,
        config_text: &str,
        rows: usize,
    ) -> Result<BacktestStateInfo, OptimalError> {
        let dir = self.dir(strategy)?;
        let stem = computed_at.format(STAMP).to_string();
        let path = dir.join(format!("{stem}{EXT}"));
        let mut instruments: Vec<&str> = Vec::new();
        let mut days: Vec<i64> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut values: Vec<Vec<f64>> = Vec::new();
        for r in &run.instruments {
            let n = r.stages.days.len();
            let from = n.saturating_sub(rows);
            let series = named_series(r);
            if names.is_empty() {
                names = series.iter().map(|(name, _)| name.clone()).collect();
                values = vec![Vec::new(); names.len()];
            }
            instruments.extend(std::iter::repeat_n(r.code.as_str(), n - from));
            days.extend_from_slice(&r.stages.days[from..]);
            for (k, name) in names.iter().enumerate() {
                let column = series
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| *v)
                    .unwrap_or(&[]);
                values[k].extend((from..n).map(|i| column.get(i).copied().unwrap_or(f64::NAN)));
            }
        }
        let mut columns = vec![
            Column::new(INSTRUMENT.into(), instruments),
            Column::new(DAY.into(), days.as_slice()),
        ];
        for (name, v) in names.iter().zip(&values) {
            columns.push(Column::new(name.as_str().into(), v.as_slice()));
        }
        let mut df = DataFrame::new(days.len(), columns).map_err(|e| state_err(&path, e))?;
        std::fs::create_dir_all(&dir).map_err(|e| state_err(&dir, e))?;
        let toml = dir.join(format!("{stem}.toml"));
        std::fs::write(&toml, config_text).map_err(|e| state_err(&toml, e))?;
        write_frame_atomic(&path, &mut df).map_err(|e| state_err(&path, e))?;
        Ok(BacktestStateInfo {
            strategy: strategy.to_string(),
            computed_at,
            path,
        })
    }

    fn list_states(&self, strategy: Option<&str>) -> Result<Vec<BacktestStateInfo>, OptimalError> {
        match strategy {
            Some(s) => self.states_of(s),
            None => {
                let mut all = Vec::new();
                let entries = match std::fs::read_dir(&self.root) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(all),
                    Err(e) => return Err(state_err(&self.root, e)),
                };
                let mut names: Vec<String> = entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect();
                names.sort();
                for name in names {
                    if let Ok(states) = self.states_of(&name) {
                        all.extend(states);
                    }
                }
                Ok(all)
            }
        }
    }

    fn read_state(&self, state: &BacktestStateInfo) -> Result<Vec<StoredSeries>, OptimalError> {
        let path = &state.path;
        let df = read_frame(path)
            .map_err(|e| state_err(path, e))?
            .ok_or_else(|| state_err(path, "no such backtest state"))?;
        let instruments: Vec<String> = df
            .column(INSTRUMENT)
            .and_then(|c| {
                c.str()
                    .map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect())
            })
            .map_err(|e| state_err(path, e))?;
        let days: Vec<i64> = df
            .column(DAY)
            .and_then(|c| c.i64().map(|s| s.iter().map(|v| v.unwrap_or(0)).collect()))
            .map_err(|e| state_err(path, e))?;
        let mut columns: Vec<(String, Vec<f64>)> = Vec::new();
        for c in df.columns() {
            let name = c.name().to_string();
            if name == INSTRUMENT || name == DAY {
                continue;
            }
            if c.dtype() != &DataType::Float64 {
                return Err(state_err(path, format!("column `{name}` is not Float64")));
            }
            let v: Vec<f64> = c
                .f64()
                .map_err(|e| state_err(path, e))?
                .iter()
                .map(|x| x.unwrap_or(f64::NAN))
                .collect();
            columns.push((name, v));
        }
        let mut out: Vec<StoredSeries> = Vec::new();
        let mut start = 0;
        while start < instruments.len() {
            let code = &instruments[start];
            let end = start
                + instruments[start..]
                    .iter()
                    .take_while(|c| *c == code)
                    .count();
            out.push(StoredSeries {
                instrument: code.clone(),
                days: days[start..end].to_vec(),
                columns: columns
                    .iter()
                    .map(|(n, v)| (n.clone(), v[start..end].to_vec()))
                    .collect(),
            });
            start = end;
        }
        Ok(out)
    }

    fn prune_states(
        &self,
        strategy: Option<&str>,
        cutoff: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Vec<BacktestStateInfo>, OptimalError> {
        let mut old = Vec::new();
        let mut states = self.list_states(strategy)?;
        // Newest of each strategy first out: list_states sorts each strategy's states by time.
        states.reverse();
        let mut seen: Vec<String> = Vec::new();
        for s in states {
            if !seen.contains(&s.strategy) {
                seen.push(s.strategy.clone());
                continue;
            }
            if s.computed_at < cutoff {
                old.push(s);
            }
        }
        old.sort_by(|a, b| (a.computed_at, &a.strategy).cmp(&(b.computed_at, &b.strategy)));
        if !dry_run {
            for s in &old {
                std::fs::remove_file(&s.path).map_err(|e| state_err(&s.path, e))?;
                let toml = s.path.with_extension("toml");
                match std::fs::remove_file(&toml) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(state_err(&toml, e))
                    }
                    _ => {}
                }
            }
        }
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backtest::portfolio::InstrumentRun;
    use crate::domain::backtest::position::PositionStages;
    use crate::domain::backtest::InstrumentStages;

    fn run(codes: &[&str], n: usize) -> StrategyRun {
        StrategyRun {
            instruments: codes
                .iter()
                .enumerate()
                .map(|(k, c)| InstrumentRun {
                    code: c.to_string(),
                    reference_contract: None,
                    stages: InstrumentStages {
                        days: (0..n as i64).map(|d| d + 100).collect(),
                        price: (0..n).map(|i| (i + k) as f64).collect(),
                        ..Default::default()
                    },
                    positions: PositionStages {
                        notional_position: vec![1.5; n],
                        ..Default::default()
                    },
                })
                .collect(),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn write_list_read_and_clean() {
        let dir = tempfile::tempdir().unwrap();
        let store = ParquetBacktestStates::new(dir.path().join("backtests"));
        let t0 = DateTime::parse_from_rfc3339("2026-11-20T21:00:00Z")
            .unwrap()
            .to_utc();
        let t1 = DateTime::parse_from_rfc3339("2026-11-23T21:00:00.5Z")
            .unwrap()
            .to_utc();
        store
            .write_state("s1", t0, &run(&["AUD", "GOLD"], 10), "x = 1", 4)
            .unwrap();
        let info = store
            .write_state("s1", t1, &run(&["AUD"], 3), "x = 2", 4)
            .unwrap();
        store
            .write_state("s2", t1, &run(&["VIX"], 3), "", 4)
            .unwrap();
        let states = store.list_states(Some("s1")).unwrap();
        assert_eq!(
            states.iter().map(|s| s.computed_at).collect::<Vec<_>>(),
            vec![t0, t1]
        );
        assert_eq!(store.list_states(None).unwrap().len(), 3);

        let read = store.read_state(&states[0]).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].instrument, "GOLD");
        assert_eq!(read[1].days, vec![106, 107, 108, 109]);
        let price = &read[1]
            .columns
            .iter()
            .find(|(n, _)| n == "price")
            .unwrap()
            .1;
        assert_eq!(price, &vec![7.0, 8.0, 9.0, 10.0]);
        let stored = store.read_state(&info).unwrap();
        assert_eq!(stored[0].days.len(), 3);
        assert!(std::fs::read_to_string(info.path.with_extension("toml")).unwrap() == "x = 2");

        // Everything is older than a later cutoff, but each strategy's newest stays.
        let later = t1 + chrono::Duration::days(1);
        let listed = store.prune_states(None, later, true).unwrap();
        assert_eq!(listed.len(), 1, "a dry run lists s1's older state only");
        assert_eq!(
            store.list_states(None).unwrap().len(),
            3,
            "and deletes nothing"
        );
        let gone = store.prune_states(None, later, false).unwrap();
        assert_eq!(gone[0].computed_at, t0);
        assert!(!gone[0].path.exists() && !gone[0].path.with_extension("toml").exists());
        assert_eq!(store.list_states(Some("s1")).unwrap().len(), 1);
        assert_eq!(store.list_states(Some("s2")).unwrap().len(), 1);
        assert!(store.write_state("../x", t0, &run(&[], 0), "", 4).is_err());
    }
}
