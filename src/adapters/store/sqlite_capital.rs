//! `domain::capital::CapitalStore` on the run store's SQLite file: tables `capital`, `margin`
//! and `strategy_capital` from migration `20261124000004_capital.sql`. Appends that check the
//! newest entry first run in `BEGIN IMMEDIATE` transactions, so two writers cannot both append
//! after the same entry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::sqlite::{ts, SqliteRunStore};
use crate::domain::capital::*;

fn db(e: sqlx::Error) -> CapitalError {
    CapitalError::Database {
        detail: e.to_string(),
    }
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, CapitalError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| CapitalError::Corrupt {
            what: "timestamp".into(),
            detail: format!("`{s}`: {e}"),
        })
}

fn get<'r, T>(r: &'r SqliteRow, column: &str) -> Result<T, CapitalError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    r.try_get(column).map_err(db)
}

/// An amount as read back: NULL (SQLite's NaN) is a corrupt row.
fn amount(r: &SqliteRow, column: &str) -> Result<f64, CapitalError> {
    get::<Option<f64>>(r, column)?.ok_or_else(|| CapitalError::Corrupt {
        what: column.into(),
        detail: "missing amount".into(),
    })
}

fn capital_from_row(r: &SqliteRow) -> Result<CapitalEntry, CapitalError> {
    Ok(CapitalEntry {
        at: parse_ts(&get::<String>(r, "at")?)?,
        actual: amount(r, "actual")?,
        max: amount(r, "max")?,
        accumulated: amount(r, "accumulated")?,
        broker: amount(r, "broker")?,
    })
}

fn strategy_from_row(r: &SqliteRow) -> Result<StrategyCapital, CapitalError> {
    Ok(StrategyCapital {
        strategy: get(r, "strategy")?,
        at: parse_ts(&get::<String>(r, "at")?)?,
        capital: amount(r, "capital")?,
    })
}

/// Amounts must be finite (SQLite would store NaN as NULL).
fn finite(what: &str, v: f64) -> Result<(), CapitalError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(CapitalError::Invalid {
            what: what.into(),
            detail: format!("{v} cannot be stored"),
        })
    }
}

const CAPITAL_COLUMNS: &str = "at, actual, max, accumulated, broker";

async fn latest_in(conn: &mut SqliteConnection) -> Result<Option<CapitalEntry>, CapitalError> {
    sqlx::query(&format!(
        "SELECT {CAPITAL_COLUMNS} FROM capital ORDER BY at DESC, id DESC LIMIT 1"
    ))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .as_ref()
    .map(capital_from_row)
    .transpose()
}

#[async_trait]
impl CapitalStore for SqliteRunStore {
    async fn capital_history(&self) -> Result<Vec<CapitalEntry>, CapitalError> {
        sqlx::query(&format!(
            "SELECT {CAPITAL_COLUMNS} FROM capital ORDER BY at, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(capital_from_row)
        .collect()
    }

    async fn latest_capital(&self) -> Result<Option<CapitalEntry>, CapitalError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        latest_in(&mut conn).await
    }

    async fn append_capital(
        &self,
        entry: &CapitalEntry,
        expected_previous_at: Option<DateTime<Utc>>,
    ) -> Result<(), CapitalError> {
        for (what, v) in [
            ("capital", entry.actual),
            ("maximum capital", entry.max),
            ("accumulated p&l", entry.accumulated),
            ("account value", entry.broker),
        ] {
            finite(what, v)?;
        }
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let latest = latest_in(&mut tx).await?.map(|e| e.at);
        if latest != expected_previous_at {
            return Err(CapitalError::Conflict {
                expected: expected_previous_at,
                actual: latest,
            });
        }
        if let Some(latest) = latest {
            if entry.at <= latest {
                return Err(CapitalError::Invalid {
                    what: "capital entry time".into(),
                    detail: format!(
                        "{} is not after the latest entry at {}",
                        entry.at.to_rfc3339(),
                        latest.to_rfc3339()
                    ),
                });
            }
        }
        sqlx::query(&format!(
            "INSERT INTO capital ({CAPITAL_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(ts(entry.at))
        .bind(entry.actual)
        .bind(entry.max)
        .bind(entry.accumulated)
        .bind(entry.broker)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn delete_last_capital(&self) -> Result<Option<CapitalEntry>, CapitalError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let Some(last) = latest_in(&mut tx).await? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM capital WHERE at = ?")
            .bind(ts(last.at))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(last))
    }

    async fn delete_capital_history(&self) -> Result<u64, CapitalError> {
        let done = sqlx::query("DELETE FROM capital")
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn append_margin(&self, entry: &MarginEntry) -> Result<(), CapitalError> {
        finite("margin", entry.margin)?;
        sqlx::query("INSERT INTO margin (at, margin) VALUES (?, ?)")
            .bind(ts(entry.at))
            .bind(entry.margin)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn margin_history(&self) -> Result<Vec<MarginEntry>, CapitalError> {
        sqlx::query("SELECT at, margin FROM margin ORDER BY at, id")
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                Ok(MarginEntry {
                    at: parse_ts(&get::<String>(r, "at")?)?,
                    margin: amount(r, "margin")?,
                })
            })
            .collect()
    }

    async fn record_strategy_capital(
        &self,
        entries: &[StrategyCapital],
    ) -> Result<(), CapitalError> {
        for e in entries {
            finite("strategy capital", e.capital)?;
        }
        let mut tx = self.pool().begin().await.map_err(db)?;
        for e in entries {
            sqlx::query("INSERT INTO strategy_capital (strategy, at, capital) VALUES (?, ?, ?)")
                .bind(&e.strategy)
                .bind(ts(e.at))
                .bind(e.capital)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn strategy_capital_history(
        &self,
        strategy: &str,
    ) -> Result<Vec<StrategyCapital>, CapitalError> {
        sqlx::query(
            "SELECT strategy, at, capital FROM strategy_capital WHERE strategy = ? ORDER BY id",
        )
        .bind(strategy)
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(strategy_from_row)
        .collect()
    }

    async fn latest_strategy_capital(
        &self,
        strategy: &str,
    ) -> Result<Option<StrategyCapital>, CapitalError> {
        sqlx::query(
            "SELECT strategy, at, capital FROM strategy_capital WHERE strategy = ? \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(strategy)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?
        .as_ref()
        .map(strategy_from_row)
        .transpose()
    }

    async fn latest_strategy_capitals(&self) -> Result<Vec<StrategyCapital>, CapitalError> {
        sqlx::query(
            "SELECT strategy, at, capital FROM strategy_capital WHERE id IN \
             (SELECT MAX(id) FROM strategy_capital GROUP BY strategy) ORDER BY strategy",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?
        .iter()
        .map(strategy_from_row)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::adapters::store::sqlite::Durability;

    async fn open() -> (tempfile::TempDir, SqliteRunStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteRunStore::open(&dir.path().join("systrade.db"), Durability::Normal)
            .await
            .unwrap();
        (dir, store)
    }

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 10, 7, minute, 0).unwrap()
            + chrono::Duration::microseconds(123)
    }

    fn entry(minute: u32, actual: f64) -> CapitalEntry {
        CapitalEntry {
            at: at(minute),
            actual,
            max: actual + 1.0,
            accumulated: -2.5,
            broker: actual * 2.0,
        }
    }

    #[tokio::test]
    async fn capital_appends_in_order_and_refuses_stale_writers() {
        let (_dir, s) = open().await;
        assert_eq!(s.latest_capital().await.unwrap(), None);
        s.append_capital(&entry(0, 100.0), None).await.unwrap();
        // A writer that read the empty history is refused.
        let e = s.append_capital(&entry(1, 5.0), None).await.unwrap_err();
        assert!(
            matches!(
                e,
                CapitalError::Conflict {
                    actual: Some(_),
                    ..
                }
            ),
            "{e}"
        );
        s.append_capital(&entry(2, 110.0), Some(at(0)))
            .await
            .unwrap();
        // Not after the latest.
        let e = s
            .append_capital(&entry(1, 5.0), Some(at(2)))
            .await
            .unwrap_err();
        assert!(matches!(e, CapitalError::Invalid { .. }), "{e}");
        assert!(s
            .append_capital(
                &CapitalEntry {
                    actual: f64::NAN,
                    ..entry(3, 0.0)
                },
                Some(at(2))
            )
            .await
            .is_err());
        assert_eq!(
            s.capital_history().await.unwrap(),
            vec![entry(0, 100.0), entry(2, 110.0)]
        );
        assert_eq!(s.latest_capital().await.unwrap(), Some(entry(2, 110.0)));
        assert_eq!(
            s.delete_last_capital().await.unwrap(),
            Some(entry(2, 110.0))
        );
        assert_eq!(s.latest_capital().await.unwrap(), Some(entry(0, 100.0)));
        s.append_capital(&entry(5, 1.0), Some(at(0))).await.unwrap();
        assert_eq!(s.delete_capital_history().await.unwrap(), 2);
        assert_eq!(s.delete_last_capital().await.unwrap(), None);
        assert!(s.capital_history().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn margin_and_strategy_capital() {
        let (_dir, s) = open().await;
        let m = MarginEntry {
            at: at(1),
            margin: 12.0,
        };
        s.append_margin(&m).await.unwrap();
        assert_eq!(s.margin_history().await.unwrap(), vec![m]);
        let sc = |name: &str, minute, capital| StrategyCapital {
            strategy: name.into(),
            at: at(minute),
            capital,
        };
        s.record_strategy_capital(&[sc("b", 0, 1.0), sc("a", 0, 2.0)])
            .await
            .unwrap();
        // Same time again (a fixed clock): the newest row wins.
        s.record_strategy_capital(&[sc("a", 0, 3.0)]).await.unwrap();
        assert_eq!(
            s.latest_strategy_capital("a").await.unwrap(),
            Some(sc("a", 0, 3.0))
        );
        assert_eq!(s.latest_strategy_capital("zz").await.unwrap(), None);
        assert_eq!(
            s.strategy_capital_history("a").await.unwrap(),
            vec![sc("a", 0, 2.0), sc("a", 0, 3.0)]
        );
        assert_eq!(
            s.latest_strategy_capitals().await.unwrap(),
            vec![sc("a", 0, 3.0), sc("b", 0, 1.0)]
        );
    }
}
