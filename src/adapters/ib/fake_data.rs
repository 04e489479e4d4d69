//! The fake TWS's market data: historical bars and quote ticks, answered from
//! [`FakeIbState`](super::fake_server::FakeIbState).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::fake_messages::{resolve_contract, BarsRequest, QuoteRequest, Reply};
use super::fake_server::FakeIbState;
use super::wire::codes;

/// TWS tick type ids for the quote ticks the fake sends.
pub mod tick_types {
    pub const BID_SIZE: i32 = 0;
    pub const BID: i32 = 1;
    pub const ASK: i32 = 2;
    pub const ASK_SIZE: i32 = 3;
    pub const LAST: i32 = 4;
    pub const LAST_SIZE: i32 = 5;
}

/// One bar; `time` is the bar's start (daily bars: midnight UTC of the trading day).
#[derive(Debug, Clone, PartialEq)]
pub struct FakeBar {
    pub time: DateTime<Utc>,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// The bars of one contract at one bar size (IB's spelling: `1 day`, `1 hour`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct FakeBarSeries {
    pub con_id: i32,
    pub bar_size: String,
    pub bars: Vec<FakeBar>,
}

/// The top of the book of one contract; a missing price sends no tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FakeQuote {
    pub bid: Option<f64>,
    pub ask: Option<f64>,
    pub last: Option<f64>,
    pub bid_size: f64,
    pub ask_size: f64,
    pub last_size: f64,
}

/// Daily and longer bars carry a `YYYYMMDD` date; intraday bars carry epoch seconds.
fn is_daily(bar_size: &str) -> bool {
    let bar_size = bar_size.to_ascii_lowercase();
    ["day", "week", "month"]
        .iter()
        .any(|unit| bar_size.contains(unit))
}

/// IB's duration (`30 D`, `2 W`, `1 M`, `1 Y`, `3600 S`) as a span; months are 31 days
/// and years 366, so a request never gets fewer bars than IB would give.
pub fn parse_duration(text: &str) -> Option<chrono::Duration> {
    let (count, unit) = text.trim().split_once(' ')?;
    let count: i64 = count.trim().parse().ok().filter(|c| *c > 0)?;
    let seconds_per_unit = match unit.trim().to_ascii_uppercase().as_str() {
        "S" => 1,
        "D" => 86_400,
        "W" => 7 * 86_400,
        "M" => 31 * 86_400,
        "Y" => 366 * 86_400,
        _ => return None,
    };
    chrono::Duration::try_seconds(count.checked_mul(seconds_per_unit)?)
}

/// IB's end date: empty (now), `YYYYMMDD HH:MM:SS [zone]` or `YYYYMMDD-HH:MM:SS` (UTC).
pub fn parse_end(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(now);
    }
    if let Ok(utc) = NaiveDateTime::parse_from_str(text, "%Y%m%d-%H:%M:%S") {
        return Some(utc.and_utc());
    }
    let mut parts = text.splitn(3, ' ');
    let date = NaiveDate::parse_from_str(parts.next()?, "%Y%m%d").ok()?;
    let time = chrono::NaiveTime::parse_from_str(parts.next()?, "%H:%M:%S").ok()?;
    let local = date.and_time(time);
    match parts.next().map(str::trim) {
        None | Some("") | Some("UTC") | Some("GMT") => Some(local.and_utc()),
        Some(zone) => {
            let zone: chrono_tz::Tz = zone.parse().ok()?;
            zone.from_local_datetime(&local)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

pub(super) fn historical_data(
    state: &FakeIbState,
    request: &BarsRequest,
    now: DateTime<Utc>,
) -> Vec<Reply> {
    let req_id = request.req_id;
    let contract = match resolve_contract(state, req_id, &request.contract) {
        Ok(contract) => contract,
        Err(reply) => return vec![*reply],
    };
    let bar_size = request.bar_size.trim();
    let invalid = |what: &str| {
        vec![Reply::error(
            req_id,
            codes::REQUEST_VALIDATION,
            format!("Error validating request: {what}"),
        )]
    };
    let Some(end) = parse_end(&request.end, now) else {
        return invalid("end date/time");
    };
    let Some(span) = parse_duration(&request.duration) else {
        return invalid("duration");
    };
    let start = end - span;
    let series = state
        .bar_series
        .iter()
        .find(|s| s.con_id == contract.con_id && s.bar_size.trim().eq_ignore_ascii_case(bar_size));
    let mut bars: Vec<&FakeBar> = series
        .map(|s| {
            s.bars
                .iter()
                .filter(|b| b.time > start && b.time <= end)
                .collect()
        })
        .unwrap_or_default();
    // TWS sends bars oldest first, whatever order the state holds them in.
    bars.sort_by_key(|b| b.time);
    if bars.is_empty() {
        let what = if request.what_to_show.trim().is_empty() {
            "TRADES"
        } else {
            request.what_to_show.trim()
        };
        let text = format!(
            "Historical Market Data Service error message:HMDS query returned no data: {}@{} {what}",
            contract.local_symbol, contract.exchange
        );
        return vec![Reply::error(req_id, codes::HISTORICAL_DATA_ERROR, text)];
    }
    let daily = is_daily(bar_size);
    let date = |time: DateTime<Utc>| {
        if daily {
            time.format("%Y%m%d").to_string()
        } else if request.epoch_dates {
            time.timestamp().to_string()
        } else {
            time.format("%Y%m%d %H:%M:%S UTC").to_string()
        }
    };
    let window = |t: DateTime<Utc>| t.format("%Y%m%d-%H:%M:%S").to_string();
    vec![Reply::HistoricalData {
        req_id,
        bars: bars.iter().map(|b| (date(b.time), (*b).clone())).collect(),
        start: window(start),
        end: window(end),
    }]
}

pub(super) fn market_data(state: &FakeIbState, request: &QuoteRequest) -> Vec<Reply> {
    let req_id = request.req_id;
    let contract = match resolve_contract(state, req_id, &request.contract) {
        Ok(contract) => contract,
        Err(reply) => return vec![*reply],
    };
    let Some(quote) = state.quotes.get(&contract.con_id) else {
        let text = format!(
            "Requested market data is not subscribed. {} {}",
            contract.local_symbol, contract.exchange
        );
        return vec![Reply::error(
            req_id,
            codes::MARKET_DATA_NOT_SUBSCRIBED,
            text,
        )];
    };
    let mut replies = Vec::new();
    let sides = [
        (
            tick_types::BID,
            tick_types::BID_SIZE,
            quote.bid,
            quote.bid_size,
        ),
        (
            tick_types::ASK,
            tick_types::ASK_SIZE,
            quote.ask,
            quote.ask_size,
        ),
        (
            tick_types::LAST,
            tick_types::LAST_SIZE,
            quote.last,
            quote.last_size,
        ),
    ];
    for (price_type, size_type, price, size) in sides {
        let Some(price) = price else { continue };
        replies.push(Reply::TickPrice {
            req_id,
            tick_type: price_type,
            price,
            size,
        });
        replies.push(Reply::TickSize {
            req_id,
            tick_type: size_type,
            size,
        });
    }
    if request.snapshot {
        replies.push(Reply::TickSnapshotEnd(req_id));
    }
    replies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30 D"), Some(chrono::Duration::days(30)));
        assert_eq!(parse_duration("2 W"), Some(chrono::Duration::days(14)));
        assert_eq!(parse_duration("3600 S"), Some(chrono::Duration::hours(1)));
        assert_eq!(parse_duration("1 y"), Some(chrono::Duration::days(366)));
        for bad in ["", "30", "D", "0 D", "-1 D", "1 X", "99999999999999 Y"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn end_dates() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert_eq!(parse_end("", now), Some(now));
        let expected = Utc.with_ymd_and_hms(2026, 11, 20, 21, 0, 0).unwrap();
        assert_eq!(parse_end("20261120 21:00:00 UTC", now), Some(expected));
        assert_eq!(parse_end("20261120-21:00:00", now), Some(expected));
        assert_eq!(parse_end("20261120 21:00:00", now), Some(expected));
        assert_eq!(
            parse_end("20261120 16:00:00 US/Eastern", now),
            Some(expected)
        );
        for bad in [
            "2026-11-20",
            "20261120 25:00:00",
            "20261120 21:00:00 Mars/Base",
        ] {
            assert_eq!(parse_end(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn daily_bar_sizes() {
        assert!(is_daily("1 day") && is_daily("1 week") && is_daily("1 month"));
        assert!(!is_daily("1 hour") && !is_daily("30 mins"));
    }
}
