//! The liquidity report, and the volumes the duplicate and remove markets reports use: for each
//! instrument of [`RiskData`], the best average daily volume over its contracts with bars in
//! the price store ([`crate::domain::reports::liquidity`]) and that volume in $m of annual risk.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Utc};

use super::risk_data::RiskData;
use crate::domain::contract::ContractId;
use crate::domain::instrument::InstrumentCode;
use crate::domain::ports::{Frequency, PriceStore};
use crate::domain::reports::liquidity::{
    average_daily_volume, daily_volumes, liquidity, Liquidity, VOLUME_DAYS,
};
use crate::domain::reports::{Column, Item, Table};

/// Contracts whose month is this many days before the volume window cannot trade in it (a
/// contract expires in or before its month); they are not read.
const EXPIRED_MARGIN_DAYS: i64 = 120;

/// The average daily volume of each contract of `code` that may have traded in the window.
fn contract_averages(
    store: &dyn PriceStore,
    code: &InstrumentCode,
    now: DateTime<Utc>,
) -> Result<Vec<f64>, String> {
    let oldest = (now - Duration::days(VOLUME_DAYS + EXPIRED_MARGIN_DAYS)).date_naive();
    let oldest = ContractId::monthly(oldest.year(), oldest.month());
    let mut ids: Vec<ContractId> = Vec::new();
    for f in [Frequency::Daily, Frequency::Hourly] {
        for id in store
            .contracts_with_prices(code, f)
            .map_err(|e| e.to_string())?
        {
            if id >= oldest && !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut out = Vec::new();
    for id in ids {
        let read = |f| -> Result<_, String> {
            Ok(store
                .read_contract(code, id, f)
                .map_err(|e| e.to_string())?
                .unwrap_or_default())
        };
        let daily = read(Frequency::Daily)?;
        let hourly = read(Frequency::Hourly)?;
        let v = daily_volumes((&daily.ts, &daily.volume), (&hourly.ts, &hourly.volume));
        out.push(average_daily_volume(&v, now.timestamp_micros()));
    }
    Ok(out)
}

/// Each instrument's liquidity; an instrument whose bars cannot be read is left out with why.
pub fn volumes(
    store: &dyn PriceStore,
    data: &RiskData,
    now: DateTime<Utc>,
) -> (BTreeMap<String, Liquidity>, Vec<(String, String)>) {
    let mut out = BTreeMap::new();
    let mut skipped = Vec::new();
    for i in &data.instruments {
        match contract_averages(store, &i.code, now) {
            Ok(averages) => {
                out.insert(
                    i.code.to_string(),
                    liquidity(&averages, i.risk.annual_risk_per_contract),
                );
            }
            Err(why) => {
                tracing::warn!(instrument = %i.code, "{}: no volumes: {why}", i.code);
                skipped.push((i.code.to_string(), why));
            }
        }
    }
    (out, skipped)
}

pub fn items(store: &dyn PriceStore, data: &RiskData, now: DateTime<Utc>) -> Vec<Item> {
    let mut items = vec![Item::Text {
        text: format!(
            "Liquidity of each instrument with prices: contracts = the largest average daily \
             volume over the last {VOLUME_DAYS} days among its contracts with bars (one volume a \
             day: the daily bar's, else the sum of the day's hourly bars); risk = contracts × \
             annual risk per contract ({}) / 1,000,000, in millions a day. An empty contracts \
             cell: no contract traded in the window.",
            data.base_currency
        ),
    }];
    let (liq, mut skipped) = volumes(store, data, now);
    skipped.extend(data.skipped.iter().cloned());
    if liq.is_empty() {
        items.push(Item::Text {
            text: "No instrument has prices, so there are no volumes to show.".into(),
        });
    } else {
        for (id, title, col) in [
            (
                "by_contracts",
                "Sorted by contracts: volume in contracts a day",
                1,
            ),
            (
                "by_risk",
                "Sorted by risk: volume in millions of annual risk a day",
                2,
            ),
        ] {
            let mut t = Table::new(
                id,
                title,
                vec![
                    Column::text("instrument"),
                    Column::num("contracts", 0),
                    Column::num("risk", 2),
                ],
            );
            for (code, l) in &liq {
                t.rows.push(vec![
                    code.as_str().into(),
                    l.contracts.into(),
                    l.risk.into(),
                ]);
            }
            t.sort_by(col, false);
            items.push(Item::Table(t));
        }
    }
    items.extend(super::risk_reports::left_out(&skipped));
    items
}
