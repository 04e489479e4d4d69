//! The roll report: loading one instrument's roll report ([`crate::domain::roll_report`]) from the
//! stores — shared with `systrade roll` — and the report of every instrument with multiple
//! prices (or one), soonest roll first, with pysystemtrade's columns and footnotes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{data, ReportError};
use crate::app::App;
use crate::domain::contract::ContractId;
use crate::domain::instrument::{InstrumentCode, ReferenceData, RollParameters};
use crate::domain::metadata::PriceMetadataStore;
use crate::domain::orders::{OrderError, OrderStore};
use crate::domain::ports::{Frequency, PriceStore};
use crate::domain::reports::{Column, Item, ReportOptions, Table};
use crate::domain::roll_report::{roll_report, KnownExpiry, RollReport, RollReportInputs};
use crate::domain::rolls::AutoRollConfig;
use crate::domain::series::ContractPrices;

/// Why one instrument's roll report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum RollDataError {
    /// No multiple prices (or no rows): nothing to report on.
    #[error("`{0}` has no multiple prices; import or update prices first")]
    NoMultiple(InstrumentCode),
    /// The stores failed.
    #[error("{0}")]
    Store(String),
    #[error(transparent)]
    Report(#[from] crate::domain::roll_report::RollReportError),
}

/// Every non-zero stored contract position, by instrument and contract.
pub async fn contract_positions(
    orders: &dyn OrderStore,
) -> Result<BTreeMap<InstrumentCode, BTreeMap<ContractId, i64>>, OrderError> {
    let mut out: BTreeMap<InstrumentCode, BTreeMap<ContractId, i64>> = BTreeMap::new();
    for p in orders.contract_positions().await? {
        if p.position != 0 {
            out.entry(p.instrument)
                .or_default()
                .insert(p.contract, p.position);
        }
    }
    Ok(out)
}

/// Merged bars of a contract, else daily.
fn bars(
    prices: &dyn PriceStore,
    code: &InstrumentCode,
    contract: ContractId,
) -> Result<Option<ContractPrices>, RollDataError> {
    for f in [Frequency::Merged, Frequency::Daily] {
        if let Some(b) = prices
            .read_contract(code, contract, f)
            .map_err(|e| RollDataError::Store(e.to_string()))?
        {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

/// The roll report of `code` from the stores.
pub async fn instrument_roll_report(
    metadata: &dyn PriceMetadataStore,
    prices: &dyn PriceStore,
    code: &InstrumentCode,
    params: &RollParameters,
    positions: &BTreeMap<ContractId, i64>,
    now: DateTime<Utc>,
) -> Result<RollReport, RollDataError> {
    let m = match prices
        .read_multiple(code)
        .map_err(|e| RollDataError::Store(e.to_string()))?
    {
        Some(m) if !m.is_empty() => m,
        _ => return Err(RollDataError::NoMultiple(code.clone())),
    };
    let state = metadata
        .roll_state(code)
        .await
        .map_err(|e| RollDataError::Store(e.to_string()))?;
    let expiries: BTreeMap<ContractId, KnownExpiry> = metadata
        .contracts(code)
        .await
        .map_err(|e| RollDataError::Store(e.to_string()))?
        .into_iter()
        .map(|r| {
            (
                r.contract,
                KnownExpiry {
                    date: r.expiry,
                    exact: r.expiry_is_exact,
                },
            )
        })
        .collect();
    let (priced_bars, forward_bars) = match (m.price_contract.last(), m.forward_contract.last()) {
        (Some(p), Some(f)) => (bars(prices, code, *p)?, bars(prices, code, *f)?),
        _ => (None, None),
    };
    Ok(roll_report(&RollReportInputs {
        instrument: code,
        state,
        positions,
        multiple: &m,
        params,
        expiries: &expiries,
        priced_bars: priced_bars.as_ref(),
        forward_bars: forward_bars.as_ref(),
        now,
        config: AutoRollConfig::default(),
    })?)
}

/// The roll reports of every instrument with multiple prices (or `only`), soonest roll first
/// (then by instrument), and the instruments left out with the reason.
pub async fn all_roll_reports(
    app: &App,
    reference: &ReferenceData,
    only: Option<&InstrumentCode>,
    now: DateTime<Utc>,
) -> Result<(Vec<RollReport>, Vec<String>), ReportError> {
    let prices = app.price_store();
    let mut positions = contract_positions(app.orders.as_ref())
        .await
        .map_err(data)?;
    let codes = match only {
        Some(c) => vec![c.clone()],
        None => prices.instruments_with_multiple().map_err(data)?,
    };
    let mut reports = Vec::new();
    let mut skipped = Vec::new();
    for code in codes {
        let Some(params) = reference.roll_parameters(&code) else {
            skipped.push(format!("{code}: no roll parameters (rollconfig)"));
            continue;
        };
        let held = positions.remove(&code).unwrap_or_default();
        match instrument_roll_report(
            app.metadata.as_ref(),
            prices.as_ref(),
            &code,
            params,
            &held,
            now,
        )
        .await
        {
            Ok(r) => reports.push(r),
            Err(e) => skipped.push(format!("{code}: {e}")),
        }
    }
    reports.sort_by(|x, y| {
        (x.days_to_desired_roll, x.instrument.as_str())
            .cmp(&(y.days_to_desired_roll, y.instrument.as_str()))
    });
    Ok((reports, skipped))
}

/// The roll report's items.
pub async fn items(
    app: &App,
    reference: &ReferenceData,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, ReportError> {
    let only = opts
        .instrument
        .as_deref()
        .map(InstrumentCode::new)
        .transpose()
        .map_err(ReportError::Invalid)?;
    let (reports, skipped) = all_roll_reports(app, reference, only.as_ref(), now).await?;
    let mut items = Vec::new();
    if reports.is_empty() {
        items.push(Item::Text {
            text: "No instrument has multiple prices to report on.".into(),
        });
    } else {
        let mut t = Table::new(
            "rolls",
            "Roll status, soonest roll first",
            vec![
                Column::text("instrument"),
                Column::text("status"),
                Column::text("suggested"),
                Column::num("roll_expiry", 0),
                Column::num("price_expiry", 0),
                Column::num("carry_expiry", 0),
                Column::text("contract_priced"),
                Column::text("contract_fwd"),
                Column::num("position_priced", 0),
                Column::num("relative_volume_fwd", 3),
                Column::num("absolute_volume_fwd", 1),
            ],
        );
        for r in &reports {
            t.rows.push(vec![
                r.instrument.as_str().into(),
                r.state.to_string().into(),
                r.suggestion.to_string().into(),
                r.days_to_desired_roll.into(),
                r.days_to_price_expiry.into(),
                r.days_to_carry_expiry.into(),
                r.price.contract.to_string().into(),
                r.forward.contract.to_string().into(),
                r.priced_position.into(),
                r.relative_volume.into(),
                r.forward_volume.into(),
            ]);
        }
        items.push(Item::Table(t));
    }
    items.push(Item::Text {
        text: "roll_expiry: days until the desired roll date (priced contract's expiry plus the \
               roll offset); price_expiry, carry_expiry: days until those contracts expire. \
               relative_volume_fwd: the forward contract's smoothed volume over the priced \
               contract's (1 = the same), absolute_volume_fwd: the forward's smoothed daily \
               volume in contracts. suggested: the roll state the automatic rules would set."
            .into(),
    });
    if !skipped.is_empty() {
        items.push(Item::Text {
            text: format!("Left out:\n{}", skipped.join("\n")),
        });
    }
    Ok(items)
}
