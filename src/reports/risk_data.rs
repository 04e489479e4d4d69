//! What the instrument risk, minimum capital and costs reports are computed from: for every
//! instrument with multiple prices (or the one asked for), its risk figures
//! ([`crate::domain::reports::instrument_risk`]), the mean adjusted price of the last 365 days
//! and its cost terms, with the contracts held across strategies and the latest total capital.
//! An instrument whose data cannot be read is listed with the reason; the others go on.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{data, ReportError};
use crate::app::App;
use crate::domain::auto_limits::fx_to_base;
use crate::domain::instrument::{InstrumentCode, ReferenceData};
use crate::domain::reports::costs::CostTerms;
use crate::domain::reports::instrument_risk::{instrument_risk, InstrumentRisk, RiskInputs};

/// One instrument's inputs, computed.
pub struct InstrumentData {
    pub code: InstrumentCode,
    pub risk: InstrumentRisk,
    /// Mean adjusted price over the 365 days before now (NaN without prices then).
    pub average_price: f64,
    pub costs: CostTerms,
}

/// Every instrument's data, and those that could not be computed.
pub struct RiskData {
    pub base_currency: String,
    pub instruments: Vec<InstrumentData>,
    /// `(instrument, why)`.
    pub skipped: Vec<(String, String)>,
}

/// Loads the risk data of `only` (instrument codes) or of every instrument with multiple prices.
pub async fn load(
    app: &App,
    reference: &ReferenceData,
    only: Option<&[String]>,
    now: DateTime<Utc>,
) -> Result<RiskData, ReportError> {
    let store = app.price_store();
    let codes = match only {
        Some(codes) => codes
            .iter()
            .map(|c| InstrumentCode::new(c).map_err(ReportError::Invalid))
            .collect::<Result<_, _>>()?,
        None => store.instruments_with_multiple().map_err(data)?,
    };
    let capital = app
        .capital
        .latest_capital()
        .await
        .map_err(data)?
        .map_or(f64::NAN, |c| c.actual);
    let mut held: BTreeMap<InstrumentCode, i64> = BTreeMap::new();
    for p in app.orders.strategy_positions().await.map_err(data)? {
        *held.entry(p.instrument).or_default() += p.position;
    }
    let base = app.config.capital.base_currency.clone();
    let year_ago = (now - Duration::days(365)).timestamp_micros();
    let mut out = RiskData {
        base_currency: base.clone(),
        instruments: Vec::new(),
        skipped: Vec::new(),
    };
    for code in codes {
        let Some(instrument) = reference.instrument(&code) else {
            out.skipped
                .push((code.to_string(), "not in the reference data".into()));
            continue;
        };
        let read = || -> Result<_, String> {
            let adjusted = store
                .read_adjusted(&code)
                .map_err(|e| e.to_string())?
                .filter(|a| !a.ts.is_empty())
                .ok_or("no adjusted prices")?;
            let multiple = store
                .read_multiple(&code)
                .map_err(|e| e.to_string())?
                .ok_or("no multiple prices")?;
            let fx = fx_to_base(store.as_ref(), &instrument.currency, &base)
                .map_err(|e| e.to_string())?;
            Ok((adjusted, multiple, fx))
        };
        let (adjusted, multiple, fx) = match read() {
            Ok(x) => x,
            Err(why) => {
                tracing::warn!(instrument = %code, "{code}: left out of the report: {why}");
                out.skipped.push((code.to_string(), why));
                continue;
            }
        };
        let risk = instrument_risk(&RiskInputs {
            adjusted: (&adjusted.ts, &adjusted.value),
            current: (&multiple.ts, &multiple.price),
            point_size: instrument.point_size,
            fx_to_base: fx,
            position: held.get(&code).copied().unwrap_or(0),
            capital,
        });
        let recent: Vec<f64> = adjusted
            .ts
            .iter()
            .zip(&adjusted.value)
            .filter(|(t, v)| **t >= year_ago && v.is_finite())
            .map(|(_, v)| *v)
            .collect();
        let average_price = if recent.is_empty() {
            f64::NAN
        } else {
            recent.iter().sum::<f64>() / recent.len() as f64
        };
        out.instruments.push(InstrumentData {
            costs: CostTerms {
                spread_cost: reference.spread_costs.get(&code).copied().unwrap_or(0.0),
                point_size: instrument.point_size,
                per_block: instrument.per_block,
                per_trade: instrument.per_trade,
                percentage: instrument.percentage,
            },
            code,
            risk,
            average_price,
        });
    }
    Ok(out)
}
