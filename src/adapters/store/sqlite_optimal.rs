//! [`OptimalPositionStore`] on the run store's SQLite file: table `optimal_positions` from
//! migration `20261124000006_optimal_positions.sql`, one row per computation, the latest row of a
//! (strategy, instrument) being its current optimal position.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::sqlite::{ts, SqliteRunStore};
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::optimal::{OptimalError, OptimalPosition, OptimalPositionStore};

fn db(e: sqlx::Error) -> OptimalError {
    OptimalError::Database {
        detail: e.to_string(),
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> OptimalError {
    OptimalError::Corrupt {
        what: what.into(),
        detail: detail.to_string(),
    }
}

fn from_row(r: &SqliteRow) -> Result<OptimalPosition, OptimalError> {
    let text = |c: &str| -> Result<String, OptimalError> { r.try_get(c).map_err(db) };
    let real = |c: &str| -> Result<f64, OptimalError> { r.try_get(c).map_err(db) };
    let computed = text("computed_at")?;
    let date = text("date")?;
    let contract: Option<String> = r.try_get("reference_contract").map_err(db)?;
    Ok(OptimalPosition {
        strategy: text("strategy")?,
        instrument: InstrumentCode::new(&text("instrument")?)
            .map_err(|e| corrupt("instrument code", e))?,
        computed_at: DateTime::parse_from_rfc3339(&computed)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| corrupt("timestamp", format!("`{computed}`: {e}")))?,
        date: NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|e| corrupt("date", format!("`{date}`: {e}")))?,
        optimal: real("optimal")?,
        lower: real("lower")?,
        upper: real("upper")?,
        reference_price: real("reference_price")?,
        reference_contract: contract
            .map(|c| ContractId::parse(&c).map_err(|e| corrupt("contract id", e)))
            .transpose()?,
    })
}

#[async_trait]
impl OptimalPositionStore for SqliteRunStore {
    async fn record_optimal_positions(
        &self,
        positions: &[OptimalPosition],
    ) -> Result<(), OptimalError> {
        let mut tx = self.pool().begin().await.map_err(db)?;
        for p in positions {
            sqlx::query(
                "INSERT INTO optimal_positions (strategy, instrument, computed_at, date, optimal, \
                 lower, upper, reference_price, reference_contract) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&p.strategy)
            .bind(p.instrument.as_str())
            .bind(ts(p.computed_at))
            .bind(p.date.format("%Y-%m-%d").to_string())
            .bind(p.optimal)
            .bind(p.lower)
            .bind(p.upper)
            .bind(p.reference_price)
            .bind(p.reference_contract.map(|c| c.to_string()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn latest_optimal_positions(
        &self,
        strategy: Option<&str>,
    ) -> Result<Vec<OptimalPosition>, OptimalError> {
        let rows = sqlx::query(
            "SELECT o.* FROM optimal_positions o \
             JOIN (SELECT MAX(id) AS id FROM optimal_positions \
                   WHERE ?1 IS NULL OR strategy = ?1 GROUP BY strategy, instrument) latest \
             ON o.id = latest.id ORDER BY o.strategy, o.instrument",
        )
        .bind(strategy)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(from_row).collect()
    }

    async fn optimal_position_history(
        &self,
        strategy: &str,
        instrument: &InstrumentCode,
    ) -> Result<Vec<OptimalPosition>, OptimalError> {
        let rows = sqlx::query(
            "SELECT * FROM optimal_positions WHERE strategy = ? AND instrument = ? ORDER BY id",
        )
        .bind(strategy)
        .bind(instrument.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::store::sqlite::Durability;

    fn position(strategy: &str, code: &str, optimal: f64, at: &str) -> OptimalPosition {
        OptimalPosition {
            strategy: strategy.into(),
            instrument: InstrumentCode::new(code).unwrap(),
            computed_at: DateTime::parse_from_rfc3339(at).unwrap().to_utc(),
            date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            optimal,
            lower: optimal - 0.5,
            upper: optimal + 0.5,
            reference_price: 101.25,
            reference_contract: Some(ContractId::parse("20261200").unwrap()),
        }
    }

    #[tokio::test]
    async fn latest_and_history_per_pair() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(&dir.path().join("s.db"), Durability::Normal)
            .await
            .unwrap();
        let day1 = [
            position("a", "AUD", 1.0, "2026-11-20T21:00:00Z"),
            position("a", "GOLD", -2.0, "2026-11-20T21:00:00Z"),
            position("b", "AUD", 3.0, "2026-11-20T21:00:00Z"),
        ];
        store.record_optimal_positions(&day1).await.unwrap();
        let day2 = [position("a", "AUD", 1.5, "2026-11-21T21:00:00Z")];
        store.record_optimal_positions(&day2).await.unwrap();

        let all = store.latest_optimal_positions(None).await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], day2[0]);
        let a = store.latest_optimal_positions(Some("a")).await.unwrap();
        assert_eq!(
            a.iter().map(|p| p.optimal).collect::<Vec<_>>(),
            vec![1.5, -2.0]
        );
        let h = store
            .optimal_position_history("a", &InstrumentCode::new("AUD").unwrap())
            .await
            .unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0], day1[0]);
    }
}
