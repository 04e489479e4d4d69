//! The price metadata traits of `domain::metadata` (contract table, roll states and their
//! history, price spikes) on the run store's SQLite file and pool: tables from migration
//! `20261124000003_price_metadata.sql`. Changes that read before they write run in
//! `BEGIN IMMEDIATE` transactions, so concurrent runners cannot interleave them.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::sqlite::{ts, SqliteRunStore};
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::metadata::*;
use crate::domain::ports::Frequency;
use crate::domain::rolls::RollState;
use crate::domain::sampling::{SamplingChange, StoredContract};
use crate::domain::series::Micros;

fn db(e: sqlx::Error) -> MetadataError {
    MetadataError::Database {
        detail: e.to_string(),
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> MetadataError {
    MetadataError::Corrupt {
        what: what.into(),
        detail: detail.to_string(),
    }
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, MetadataError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| corrupt("timestamp", format!("`{s}`: {e}")))
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn parse_date(s: &str) -> Result<NaiveDate, MetadataError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| corrupt("date", format!("`{s}`: {e}")))
}

fn parse_instrument(s: &str) -> Result<InstrumentCode, MetadataError> {
    InstrumentCode::new(s).map_err(|e| corrupt("instrument code", e))
}

fn parse_contract(s: &str) -> Result<ContractId, MetadataError> {
    ContractId::parse(s).map_err(|e| corrupt("contract id", e))
}

fn parse_state(s: &str) -> Result<RollState, MetadataError> {
    RollState::parse(s).map_err(|e| corrupt("roll state", e))
}

fn parse_frequency(s: &str) -> Result<Frequency, MetadataError> {
    [Frequency::Daily, Frequency::Hourly, Frequency::Merged]
        .into_iter()
        .find(|f| f.as_str() == s)
        .ok_or_else(|| corrupt("frequency", format!("unknown value `{s}`")))
}

/// Price timestamps are stored as UTC text like every other time in the file.
fn micros_text(t: Micros) -> Result<String, MetadataError> {
    DateTime::from_timestamp_micros(t)
        .map(ts)
        .ok_or_else(|| corrupt("spike timestamp", format!("{t} µs is out of range")))
}

fn get<'r, T>(r: &'r SqliteRow, column: &str) -> Result<T, MetadataError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    r.try_get(column).map_err(db)
}

fn contract_from_row(r: &SqliteRow) -> Result<ContractRecord, MetadataError> {
    Ok(ContractRecord {
        instrument: parse_instrument(&get::<String>(r, "instrument")?)?,
        contract: parse_contract(&get::<String>(r, "contract_id")?)?,
        expiry: parse_date(&get::<String>(r, "expiry")?)?,
        expiry_is_exact: get::<bool>(r, "expiry_is_exact")?,
        sampling: get::<bool>(r, "sampling")?,
        updated_at: parse_ts(&get::<String>(r, "updated_at")?)?,
    })
}

fn change_from_row(r: &SqliteRow) -> Result<RollStateChange, MetadataError> {
    Ok(RollStateChange {
        id: get(r, "id")?,
        instrument: parse_instrument(&get::<String>(r, "instrument")?)?,
        from: parse_state(&get::<String>(r, "from_state")?)?,
        to: parse_state(&get::<String>(r, "to_state")?)?,
        at: parse_ts(&get::<String>(r, "at")?)?,
        note: get(r, "note")?,
    })
}

fn spike_from_row(r: &SqliteRow) -> Result<SpikeRecord, MetadataError> {
    let instrument: Option<String> = get(r, "instrument")?;
    let contract: Option<String> = get(r, "contract_id")?;
    let currency: Option<String> = get(r, "currency")?;
    let subject = match (instrument, contract, currency) {
        (Some(i), Some(c), None) => SpikeSubject::Contract {
            instrument: parse_instrument(&i)?,
            contract: parse_contract(&c)?,
        },
        (None, None, Some(currency)) => SpikeSubject::Fx { currency },
        _ => return Err(corrupt("spike", "neither a contract nor a currency")),
    };
    let status: String = get(r, "status")?;
    let resolved_at: Option<String> = get(r, "resolved_at")?;
    Ok(SpikeRecord {
        id: get(r, "id")?,
        subject,
        frequency: parse_frequency(&get::<String>(r, "frequency")?)?,
        ts: parse_ts(&get::<String>(r, "ts")?)?.timestamp_micros(),
        value: get::<Option<f64>>(r, "value")?.unwrap_or(f64::NAN),
        ratio: get::<Option<f64>>(r, "ratio")?.unwrap_or(f64::NAN),
        detected_at: parse_ts(&get::<String>(r, "detected_at")?)?,
        status: SpikeStatus::parse(&status)
            .ok_or_else(|| corrupt("spike status", format!("unknown value `{status}`")))?,
        resolved_at: resolved_at.as_deref().map(parse_ts).transpose()?,
    })
}

/// The columns identifying a spike's series: (instrument, contract_id, currency).
fn subject_columns(s: &SpikeSubject) -> (Option<String>, Option<String>, Option<String>) {
    match s {
        SpikeSubject::Contract {
            instrument,
            contract,
        } => (
            Some(instrument.to_string()),
            Some(contract.to_string()),
            None,
        ),
        SpikeSubject::Fx { currency } => (None, None, Some(currency.clone())),
    }
}

/// [`MetadataError::UnknownContract`] when an UPDATE touched no row.
fn one_row(
    rows: u64,
    instrument: &InstrumentCode,
    contract: ContractId,
) -> Result<(), MetadataError> {
    if rows == 0 {
        return Err(MetadataError::UnknownContract {
            instrument: instrument.clone(),
            contract,
        });
    }
    Ok(())
}

async fn set_sampling_in(
    conn: &mut SqliteConnection,
    instrument: &InstrumentCode,
    contract: ContractId,
    sampling: bool,
    at: DateTime<Utc>,
) -> Result<(), MetadataError> {
    let done = sqlx::query(
        "UPDATE contracts SET sampling = ?, updated_at = ? WHERE instrument = ? AND contract_id = ?",
    )
    .bind(sampling)
    .bind(ts(at))
    .bind(instrument.as_str())
    .bind(contract.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    one_row(done.rows_affected(), instrument, contract)
}

async fn set_expiry_in(
    conn: &mut SqliteConnection,
    instrument: &InstrumentCode,
    contract: ContractId,
    expiry: NaiveDate,
    expiry_is_exact: bool,
    at: DateTime<Utc>,
) -> Result<(), MetadataError> {
    let done = sqlx::query(
        "UPDATE contracts SET expiry = ?, expiry_is_exact = ?, updated_at = ? \
         WHERE instrument = ? AND contract_id = ?",
    )
    .bind(date_text(expiry))
    .bind(expiry_is_exact)
    .bind(ts(at))
    .bind(instrument.as_str())
    .bind(contract.to_string())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    one_row(done.rows_affected(), instrument, contract)
}

async fn insert_contract(
    conn: &mut SqliteConnection,
    instrument: &InstrumentCode,
    c: &StoredContract,
    at: DateTime<Utc>,
    upsert: bool,
) -> Result<(), MetadataError> {
    let mut sql = String::from(
        "INSERT INTO contracts (instrument, contract_id, expiry, expiry_is_exact, sampling, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    );
    if upsert {
        sql.push_str(
            " ON CONFLICT (instrument, contract_id) DO UPDATE SET expiry = excluded.expiry, \
             expiry_is_exact = excluded.expiry_is_exact, sampling = excluded.sampling, \
             updated_at = excluded.updated_at",
        );
    } else {
        sql.push_str(" ON CONFLICT (instrument, contract_id) DO NOTHING");
    }
    let done = sqlx::query(&sql)
        .bind(instrument.as_str())
        .bind(c.contract.to_string())
        .bind(date_text(c.expiry))
        .bind(c.expiry_is_exact)
        .bind(c.sampling)
        .bind(ts(at))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(MetadataError::ContractExists {
            instrument: instrument.clone(),
            contract: c.contract,
        });
    }
    Ok(())
}

async fn current_roll_state(
    conn: &mut SqliteConnection,
    instrument: &InstrumentCode,
) -> Result<RollState, MetadataError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT state FROM roll_states WHERE instrument = ?")
            .bind(instrument.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    match row {
        None => Ok(RollState::NoRoll),
        Some((s,)) => parse_state(&s),
    }
}

#[async_trait]
impl ContractStore for SqliteRunStore {
    async fn upsert_contract(
        &self,
        instrument: &InstrumentCode,
        contract: &StoredContract,
        at: DateTime<Utc>,
    ) -> Result<(), MetadataError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        insert_contract(&mut conn, instrument, contract, at, true).await
    }

    async fn contract(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Option<ContractRecord>, MetadataError> {
        let row = sqlx::query("SELECT * FROM contracts WHERE instrument = ? AND contract_id = ?")
            .bind(instrument.as_str())
            .bind(contract.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.map(|r| contract_from_row(&r)).transpose()
    }

    async fn contracts(
        &self,
        instrument: &InstrumentCode,
    ) -> Result<Vec<ContractRecord>, MetadataError> {
        let rows = sqlx::query("SELECT * FROM contracts WHERE instrument = ? ORDER BY contract_id")
            .bind(instrument.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(contract_from_row).collect()
    }

    async fn sampled_contracts(
        &self,
        instrument: &InstrumentCode,
    ) -> Result<Vec<ContractRecord>, MetadataError> {
        let rows = sqlx::query(
            "SELECT * FROM contracts WHERE instrument = ? AND sampling = 1 ORDER BY contract_id",
        )
        .bind(instrument.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(contract_from_row).collect()
    }

    async fn instruments_with_contracts(&self) -> Result<Vec<InstrumentCode>, MetadataError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT instrument FROM contracts ORDER BY instrument")
                .fetch_all(self.pool())
                .await
                .map_err(db)?;
        rows.iter().map(|(s,)| parse_instrument(s)).collect()
    }

    async fn set_sampling(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        sampling: bool,
        at: DateTime<Utc>,
    ) -> Result<(), MetadataError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        set_sampling_in(&mut conn, instrument, contract, sampling, at).await
    }

    async fn set_expiry(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        expiry: NaiveDate,
        expiry_is_exact: bool,
        at: DateTime<Utc>,
    ) -> Result<(), MetadataError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        set_expiry_in(&mut conn, instrument, contract, expiry, expiry_is_exact, at).await
    }

    async fn apply_sampling_changes(
        &self,
        instrument: &InstrumentCode,
        changes: &[SamplingChange],
        at: DateTime<Utc>,
    ) -> Result<(), MetadataError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        for change in changes {
            match *change {
                SamplingChange::Add {
                    contract,
                    expiry,
                    expiry_is_exact,
                    sampling,
                    ..
                } => {
                    let row = StoredContract {
                        contract,
                        expiry,
                        expiry_is_exact,
                        sampling,
                    };
                    insert_contract(&mut tx, instrument, &row, at, false).await?
                }
                SamplingChange::StartSampling { contract } => {
                    set_sampling_in(&mut tx, instrument, contract, true, at).await?
                }
                SamplingChange::StopSampling { contract, .. } => {
                    set_sampling_in(&mut tx, instrument, contract, false, at).await?
                }
                SamplingChange::UpdateExpiry {
                    contract,
                    to,
                    expiry_is_exact,
                    ..
                } => set_expiry_in(&mut tx, instrument, contract, to, expiry_is_exact, at).await?,
            }
        }
        tx.commit().await.map_err(db)
    }
}

#[async_trait]
impl RollStateStore for SqliteRunStore {
    async fn roll_state(&self, instrument: &InstrumentCode) -> Result<RollState, MetadataError> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        current_roll_state(&mut conn, instrument).await
    }

    async fn roll_states(&self) -> Result<Vec<RollStateRecord>, MetadataError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT instrument, state, updated_at FROM roll_states ORDER BY instrument",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter()
            .map(|(i, s, at)| {
                Ok(RollStateRecord {
                    instrument: parse_instrument(i)?,
                    state: parse_state(s)?,
                    updated_at: parse_ts(at)?,
                })
            })
            .collect()
    }

    async fn set_roll_state(
        &self,
        instrument: &InstrumentCode,
        expected: Option<RollState>,
        state: RollState,
        at: DateTime<Utc>,
        note: Option<&str>,
    ) -> Result<Option<RollStateChange>, MetadataError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let current = current_roll_state(&mut tx, instrument).await?;
        if let Some(expected) = expected {
            if expected != current {
                return Err(MetadataError::RollStateConflict {
                    instrument: instrument.clone(),
                    expected,
                    actual: current,
                });
            }
        }
        if current == state {
            return Ok(None);
        }
        let at_text = ts(at);
        sqlx::query(
            "INSERT INTO roll_states (instrument, state, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (instrument) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(instrument.as_str())
        .bind(state.as_str())
        .bind(&at_text)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let id: i64 = sqlx::query(
            "INSERT INTO roll_state_history (instrument, from_state, to_state, at, note) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(instrument.as_str())
        .bind(current.as_str())
        .bind(state.as_str())
        .bind(&at_text)
        .bind(note)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(RollStateChange {
            id,
            instrument: instrument.clone(),
            from: current,
            to: state,
            at: parse_ts(&at_text)?,
            note: note.map(str::to_string),
        }))
    }

    async fn roll_state_history(
        &self,
        instrument: Option<&InstrumentCode>,
        limit: i64,
    ) -> Result<Vec<RollStateChange>, MetadataError> {
        let rows = sqlx::query(
            "SELECT * FROM roll_state_history WHERE (?1 IS NULL OR instrument = ?1) \
             ORDER BY id DESC LIMIT ?2",
        )
        .bind(instrument.map(|i| i.as_str()))
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(change_from_row).collect()
    }
}

#[async_trait]
impl SpikeLog for SqliteRunStore {
    async fn record_spike(
        &self,
        spike: &NewSpike,
        at: DateTime<Utc>,
    ) -> Result<SpikeRecorded, MetadataError> {
        let (instrument, contract, currency) = subject_columns(&spike.subject);
        let when = micros_text(spike.spike.ts)?;
        let frequency = spike.frequency.as_str();
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let existing: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM spikes WHERE status = 'pending' AND instrument IS ? AND contract_id IS ? \
             AND currency IS ? AND frequency = ? AND ts = ?",
        )
        .bind(&instrument)
        .bind(&contract)
        .bind(&currency)
        .bind(frequency)
        .bind(&when)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if let Some((id,)) = existing {
            return Ok(SpikeRecorded { id, new: false });
        }
        let id: i64 = sqlx::query(
            "INSERT INTO spikes (instrument, contract_id, currency, frequency, ts, value, ratio, detected_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&instrument)
        .bind(&contract)
        .bind(&currency)
        .bind(frequency)
        .bind(&when)
        .bind(spike.spike.value)
        .bind(spike.spike.ratio)
        .bind(ts(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?
        .try_get(0)
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(SpikeRecorded { id, new: true })
    }

    async fn spike(&self, id: i64) -> Result<Option<SpikeRecord>, MetadataError> {
        let row = sqlx::query("SELECT * FROM spikes WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.map(|r| spike_from_row(&r)).transpose()
    }

    async fn spikes(&self, query: &SpikeQuery) -> Result<Vec<SpikeRecord>, MetadataError> {
        let rows = sqlx::query(
            "SELECT * FROM spikes WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR instrument = ?2) \
             ORDER BY id LIMIT ?3",
        )
        .bind(query.status.map(SpikeStatus::as_str))
        .bind(query.instrument.as_ref().map(|i| i.as_str()))
        .bind(query.limit.unwrap_or(-1))
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(spike_from_row).collect()
    }

    async fn resolve_spike(
        &self,
        id: i64,
        resolution: SpikeResolution,
        at: DateTime<Utc>,
    ) -> Result<SpikeRecord, MetadataError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db)?;
        let row = sqlx::query("SELECT * FROM spikes WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(row) = row else {
            return Err(MetadataError::UnknownSpike { id });
        };
        let mut spike = spike_from_row(&row)?;
        if spike.status != SpikeStatus::Pending {
            return Err(MetadataError::SpikeAlreadyResolved {
                id,
                status: spike.status,
                resolved_at: spike.resolved_at.map(ts).unwrap_or_default(),
            });
        }
        let status = resolution.status();
        let at_text = ts(at);
        sqlx::query("UPDATE spikes SET status = ?, resolved_at = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(&at_text)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        spike.status = status;
        spike.resolved_at = Some(parse_ts(&at_text)?);
        Ok(spike)
    }
}

#[cfg(test)]
mod tests;
