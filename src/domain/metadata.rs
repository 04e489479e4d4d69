//! The storage the price tasks need beside the price series: the contract table (expiries and
//! sampling flags, B5), roll states with their history (B8), and the log of price spikes that
//! were found and not written (B3), waiting for a person to accept or reject them.
//!
//! Three traits, one per concern, and [`PriceMetadataStore`] for something that is all three
//! (the SQLite store, `adapters::store::sqlite_metadata`). All times are UTC.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::contract::ContractId;
use super::instrument::InstrumentCode;
use super::merge::SpikeFound;
use super::ports::Frequency;
use super::rolls::RollState;
use super::sampling::{SamplingChange, StoredContract};
use super::series::{format_timestamp, Micros};

/// Errors of the metadata store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata store: {detail}")]
    Database { detail: String },
    #[error("metadata store holds an invalid {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("{instrument} has no contract {contract} in the contract table")]
    UnknownContract {
        instrument: InstrumentCode,
        contract: ContractId,
    },
    #[error("{instrument} already has contract {contract} in the contract table")]
    ContractExists {
        instrument: InstrumentCode,
        contract: ContractId,
    },
    #[error(
        "roll state of {instrument} is {actual}, not {expected}: it was changed meanwhile; look \
         again and retry"
    )]
    RollStateConflict {
        instrument: InstrumentCode,
        expected: RollState,
        actual: RollState,
    },
    #[error("no price spike with id {id}")]
    UnknownSpike { id: i64 },
    #[error("price spike {id} was already {status} at {resolved_at}")]
    SpikeAlreadyResolved {
        id: i64,
        status: SpikeStatus,
        resolved_at: String,
    },
}

impl MetadataError {
    /// Worth trying again: the database is busy or locked by another process, or the connection
    /// dropped. Damage ("malformed", "not a database"), invalid rows and refused changes are
    /// permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            MetadataError::Database { detail } => {
                let d = detail.to_ascii_lowercase();
                ["locked", "busy", "timed out", "connection", "pool"]
                    .iter()
                    .any(|w| d.contains(w))
                    && !d.contains("malformed")
            }
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Contracts
// ---------------------------------------------------------------------------------------------

/// A row of the contract table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractRecord {
    pub instrument: InstrumentCode,
    pub contract: ContractId,
    pub expiry: NaiveDate,
    /// The expiry came from the market data source (else it is 1st of month + expiry offset).
    pub expiry_is_exact: bool,
    /// Prices are collected for this contract.
    pub sampling: bool,
    pub updated_at: DateTime<Utc>,
}

impl ContractRecord {
    /// The fields [`super::sampling::reconcile`] works on.
    pub fn stored(&self) -> StoredContract {
        StoredContract {
            contract: self.contract,
            expiry: self.expiry,
            expiry_is_exact: self.expiry_is_exact,
            sampling: self.sampling,
        }
    }
}

/// The contract table: contracts are added and changed, never deleted.
#[async_trait]
pub trait ContractStore: Send + Sync {
    /// Inserts the contract or replaces its expiry and flags.
    async fn upsert_contract(
        &self,
        instrument: &InstrumentCode,
        contract: &StoredContract,
        at: DateTime<Utc>,
    ) -> Result<(), MetadataError>;

    /// One contract, if in the table.
    async fn contract(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
    ) -> Result<Option<ContractRecord>, MetadataError>;

    /// All contracts of an instrument, ascending.
    async fn contracts(
        &self,
        instrument: &InstrumentCode,
    ) -> Result<Vec<ContractRecord>, MetadataError>;

    /// The contracts of an instrument that are sampling, ascending.
    async fn sampled_contracts(
        &self,
        instrument: &InstrumentCode,
    ) -> Result<Vec<ContractRecord>, MetadataError>;

    /// Instruments with at least one contract in the table, sorted.
    async fn instruments_with_contracts(&self) -> Result<Vec<InstrumentCode>, MetadataError>;

    /// Turns sampling on or off. [`MetadataError::UnknownContract`] if not in the table.
    async fn set_sampling(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        sampling: bool,
        at: DateTime<Utc>,
    ) -> Result<(), MetadataError>;

    /// Sets the expiry. [`MetadataError::UnknownContract`] if not in the table.
    async fn set_expiry(
        &self,
        instrument: &InstrumentCode,
        contract: ContractId,
        expiry: NaiveDate,
        expiry_is_exact: bool,
        at: DateTime<Utc>,
    ) -> Result<(), MetadataError>;

    /// Applies a [`super::sampling::SamplingPlan`]'s changes in order, in one transaction (all or
    /// nothing). `Add` of a contract already in the table is [`MetadataError::ContractExists`],
    /// other changes of one not in it [`MetadataError::UnknownContract`]: the plan was made from
    /// a stale read, so read again and re-plan.
    async fn apply_sampling_changes(
        &self,
        instrument: &InstrumentCode,
        changes: &[SamplingChange],
        at: DateTime<Utc>,
    ) -> Result<(), MetadataError>;
}

// ---------------------------------------------------------------------------------------------
// Roll states
// ---------------------------------------------------------------------------------------------

/// The stored roll state of an instrument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollStateRecord {
    pub instrument: InstrumentCode,
    pub state: RollState,
    pub updated_at: DateTime<Utc>,
}

/// One recorded change of roll state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollStateChange {
    pub id: i64,
    pub instrument: InstrumentCode,
    pub from: RollState,
    pub to: RollState,
    pub at: DateTime<Utc>,
    /// Who or what changed it and why (e.g. "auto: forward liquid", "demoted: no position").
    pub note: Option<String>,
}

/// Roll states, `no_roll` for instruments never set, with a history of every change.
#[async_trait]
pub trait RollStateStore: Send + Sync {
    /// The current state (`no_roll` if never set).
    async fn roll_state(&self, instrument: &InstrumentCode) -> Result<RollState, MetadataError>;

    /// Every instrument whose state has been set, sorted by instrument.
    async fn roll_states(&self) -> Result<Vec<RollStateRecord>, MetadataError>;

    /// Sets the state and records the change, in one transaction. With `expected`, fails with
    /// [`MetadataError::RollStateConflict`] (changing nothing) unless the current state is
    /// `expected` — so a decision made on a state read earlier is not applied to a state someone
    /// else has changed since. Setting the current state again records nothing and returns
    /// `None`; otherwise returns the recorded change. Transition rules are not checked here
    /// (see [`super::rolls::check_transition`]).
    async fn set_roll_state(
        &self,
        instrument: &InstrumentCode,
        expected: Option<RollState>,
        state: RollState,
        at: DateTime<Utc>,
        note: Option<&str>,
    ) -> Result<Option<RollStateChange>, MetadataError>;

    /// Recorded changes, newest first, of one instrument or all, at most `limit`.
    async fn roll_state_history(
        &self,
        instrument: Option<&InstrumentCode>,
        limit: i64,
    ) -> Result<Vec<RollStateChange>, MetadataError>;
}

// ---------------------------------------------------------------------------------------------
// Price spikes
// ---------------------------------------------------------------------------------------------

/// Whose prices spiked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SpikeSubject {
    Contract {
        instrument: InstrumentCode,
        contract: ContractId,
    },
    /// FX rates of a currency against USD.
    Fx { currency: String },
}

impl std::fmt::Display for SpikeSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpikeSubject::Contract {
                instrument,
                contract,
            } => write!(f, "{instrument} {contract}"),
            SpikeSubject::Fx { currency } => write!(f, "FX {currency}"),
        }
    }
}

/// Where a found spike stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeStatus {
    /// Found, nothing written for that series; waiting for a person.
    Pending,
    /// The price is right: write it despite the spike check.
    Accepted,
    /// The price is wrong: do not write it.
    Rejected,
}

impl SpikeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SpikeStatus::Pending => "pending",
            SpikeStatus::Accepted => "accepted",
            SpikeStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(SpikeStatus::Pending),
            "accepted" => Some(SpikeStatus::Accepted),
            "rejected" => Some(SpikeStatus::Rejected),
            _ => None,
        }
    }
}

impl std::fmt::Display for SpikeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person's decision on a pending spike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeResolution {
    Accept,
    Reject,
}

impl SpikeResolution {
    pub fn status(self) -> SpikeStatus {
        match self {
            SpikeResolution::Accept => SpikeStatus::Accepted,
            SpikeResolution::Reject => SpikeStatus::Rejected,
        }
    }
}

/// A spike to record: the series and what the spike check found.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSpike {
    pub subject: SpikeSubject,
    pub frequency: Frequency,
    pub spike: SpikeFound,
}

/// A recorded spike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpikeRecord {
    pub id: i64,
    pub subject: SpikeSubject,
    pub frequency: Frequency,
    /// Timestamp of the offending price (price-series time, microseconds).
    pub ts: Micros,
    pub value: f64,
    /// Its absolute daily-unit change over the average absolute daily-unit change.
    pub ratio: f64,
    pub detected_at: DateTime<Utc>,
    pub status: SpikeStatus,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl SpikeRecord {
    /// e.g. `SP500 20231200 hourly: price spike at 2023-11-02 14:00:00: value 4310 moved 9.31
    /// times the average absolute daily change`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}: price spike at {}: value {} moved {:.2} times the average absolute daily change",
            self.subject,
            self.frequency.as_str(),
            format_timestamp(self.ts),
            self.value,
            self.ratio
        )
    }
}

/// The outcome of [`SpikeLog::record_spike`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpikeRecorded {
    pub id: i64,
    /// False: the same spike (subject, frequency, timestamp) was already pending; nothing added.
    pub new: bool,
}

/// Which spikes to list: pending ones of every subject by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikeQuery {
    /// `None`: any status.
    pub status: Option<SpikeStatus>,
    /// Only spikes of this instrument's contracts.
    pub instrument: Option<InstrumentCode>,
    pub limit: Option<i64>,
}

impl Default for SpikeQuery {
    fn default() -> Self {
        Self {
            status: Some(SpikeStatus::Pending),
            instrument: None,
            limit: None,
        }
    }
}

/// Spikes found by the price updates, and what people decided about them.
#[async_trait]
pub trait SpikeLog: Send + Sync {
    /// Records a found spike as pending. The same spike already pending (same subject, frequency
    /// and timestamp) is not recorded twice: its id is returned with `new: false`.
    async fn record_spike(
        &self,
        spike: &NewSpike,
        at: DateTime<Utc>,
    ) -> Result<SpikeRecorded, MetadataError>;

    async fn spike(&self, id: i64) -> Result<Option<SpikeRecord>, MetadataError>;

    /// Spikes matching `query`, oldest first.
    async fn spikes(&self, query: &SpikeQuery) -> Result<Vec<SpikeRecord>, MetadataError>;

    /// Accepts or rejects a pending spike. [`MetadataError::UnknownSpike`] for an unknown id,
    /// [`MetadataError::SpikeAlreadyResolved`] if it is not pending.
    async fn resolve_spike(
        &self,
        id: i64,
        resolution: SpikeResolution,
        at: DateTime<Utc>,
    ) -> Result<SpikeRecord, MetadataError>;
}

/// Everything the price tasks store beside price series.
pub trait PriceMetadataStore: ContractStore + RollStateStore + SpikeLog {}

impl<T: ContractStore + RollStateStore + SpikeLog> PriceMetadataStore for T {}
