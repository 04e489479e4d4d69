//! Helpers for talking to TWS through `ibapi`: its errors and TWS's error codes as typed
//! [`BrokerError`]s, draining a subscription, and TWS's time stamps.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use ibapi::prelude::StreamExt;
use ibapi::subscriptions::SubscriptionItem;

use crate::domain::broker::BrokerError;
use crate::domain::instrument::InstrumentCode;

pub(super) fn disconnected(detail: impl Into<String>) -> BrokerError {
    BrokerError::Disconnected {
        detail: detail.into(),
    }
}

/// An `ibapi` error as a broker error; `instrument` and `contract` name what was asked.
pub(super) fn map_error(
    error: ibapi::Error,
    instrument: Option<&InstrumentCode>,
    contract: &str,
) -> BrokerError {
    use ibapi::Error as E;
    match error {
        E::Notice(notice) => map_notice(notice.code, &notice.message, instrument, contract),
        E::ClientIdInUse { client_id } => BrokerError::ClientIdInUse { client_id },
        E::ConnectionReset | E::ConnectionFailed | E::Shutdown | E::Io(_) => {
            disconnected(error.to_string())
        }
        E::ConnectionRejected(reason) => disconnected(format!("connection rejected: {reason}")),
        E::Timeout => BrokerError::Timeout {
            call: "ibapi request".into(),
            seconds: 0.0,
        },
        other => BrokerError::Other {
            code: None,
            detail: other.to_string(),
        },
    }
}

pub(super) fn map_notice(
    code: i32,
    message: &str,
    instrument: Option<&InstrumentCode>,
    contract: &str,
) -> BrokerError {
    let lower = message.to_ascii_lowercase();
    let text = format!("IB error {code}: {message}");
    match (code, instrument) {
        _ if lower.contains("pacing") => BrokerError::Pacing {
            detail: text,
            retry_after_seconds: 60.0,
        },
        (200, Some(instrument)) => BrokerError::UnknownContract {
            instrument: instrument.clone(),
            contract: contract.to_string(),
            detail: text,
        },
        // 162 is also how pacing is told (caught above by its text); otherwise it means the
        // query found nothing, which is not a permission problem.
        (162, Some(instrument)) => BrokerError::NoData {
            instrument: instrument.clone(),
            contract: contract.to_string(),
            detail: text,
        },
        (354 | 10167 | 10168 | 10089 | 10090, Some(instrument)) => BrokerError::NoMarketData {
            instrument: instrument.clone(),
            detail: text,
        },
        (201 | 103 | 110 | 10148, _) => BrokerError::Rejected { reason: text },
        (10147, _) => BrokerError::UnknownOrder { order: text },
        (504 | 1100 | 2110, _) => disconnected(text),
        _ => BrokerError::Other {
            code: Some(code),
            detail: message.to_string(),
        },
    }
}

/// Everything a subscription yields until it ends, an error ends it, or it is quiet for
/// `quiet` (when given).
pub(super) async fn collect<S, T>(
    mut stream: S,
    quiet: Option<Duration>,
) -> Result<Vec<SubscriptionItem<T>>, ibapi::Error>
where
    S: StreamExt<Item = Result<SubscriptionItem<T>, ibapi::Error>> + Unpin,
{
    let mut items = Vec::new();
    loop {
        let next = match quiet {
            Some(quiet) => match tokio::time::timeout(quiet, stream.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(items),
            },
            None => stream.next().await,
        };
        match next {
            None | Some(Err(ibapi::Error::EndOfStream)) => return Ok(items),
            Some(Ok(item)) => items.push(item),
            Some(Err(e)) => return Err(e),
        }
    }
}

/// IB's `yyyymmdd hh:mm:ss [zone]` as UTC.
pub(super) fn parse_ib_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let (head, zone) = if text.len() > 17 {
        (&text[..17], text[17..].trim())
    } else {
        (text, "")
    };
    let naive = NaiveDateTime::parse_from_str(head, "%Y%m%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(head, "%Y%m%d-%H:%M:%S"))
        .ok()?;
    match zone {
        "" | "UTC" | "GMT" => Some(naive.and_utc()),
        zone => match zone.parse::<chrono_tz::Tz>() {
            Ok(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
            Err(_) => Some(naive.and_utc()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp500() -> InstrumentCode {
        InstrumentCode::new("SP500").expect("code")
    }

    #[test]
    fn error_162_is_no_data_unless_it_tells_of_pacing() {
        let no_data = map_notice(
            162,
            "Historical Market Data Service error message:HMDS query returned no data: ESZ6@CME Trades",
            Some(&sp500()),
            "20261200",
        );
        match &no_data {
            BrokerError::NoData {
                instrument,
                contract,
                detail,
            } => {
                assert_eq!(
                    (instrument.as_str(), contract.as_str()),
                    ("SP500", "20261200")
                );
                assert!(detail.contains("IB error 162"), "{detail}");
            }
            other => panic!("expected NoData, got {other:?}"),
        }
        let text = no_data.to_string();
        assert!(
            text.contains("no data for this request") && !text.contains("permission"),
            "{text}"
        );
        assert!(!no_data.is_retryable());
        let paced = map_notice(
            162,
            "Historical Market Data Service error message:Historical data request pacing violation",
            Some(&sp500()),
            "20261200",
        );
        assert!(matches!(paced, BrokerError::Pacing { .. }), "{paced:?}");
    }

    #[test]
    fn permission_codes_stay_permission_errors() {
        for code in [354, 10167, 10168, 10089, 10090] {
            let e = map_notice(
                code,
                "Requested market data is not subscribed",
                Some(&sp500()),
                "",
            );
            assert!(
                matches!(&e, BrokerError::NoMarketData { .. })
                    && e.to_string().contains("no market data permission"),
                "{code}: {e:?}"
            );
        }
        // Without an instrument (an FX pair) 162 stays a coded error for the caller to name.
        assert!(matches!(
            map_notice(162, "HMDS query returned no data", None, ""),
            BrokerError::Other {
                code: Some(162),
                ..
            }
        ));
    }
}
