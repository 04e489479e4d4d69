//! Per-instrument outcomes of the tasks that loop over instruments (and currencies): one bad
//! instrument stops nothing else. Such a task carries on with the others and, when at least one
//! succeeded, succeeds with its output listing what failed:
//!
//! - `"failed"`: `{ "SP500": "why" }`, what this node could not do (for FX: `"failed_currencies"`),
//! - `"warnings"`: one sentence per failure, shown by the run summary and `systrade show`,
//! - `"excluded"` / `"excluded_currencies"`: everything that failed here or upstream, so later
//!   nodes (which see only their direct upstreams' outputs) leave those instruments alone.
//!
//! When every instrument failed the task fails: retried only if every failure was transient.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::engine::task::TaskError;

/// What one instrument (or FX currency) could not do.
pub(super) struct Failure {
    /// The instrument code, or the currency.
    pub(super) instrument: String,
    pub(super) message: String,
}

/// Instruments and currencies that failed in an upstream node, with the reason.
#[derive(Default, Debug, Clone, PartialEq)]
pub(super) struct Excluded {
    pub(super) instruments: BTreeMap<String, String>,
    pub(super) currencies: BTreeMap<String, String>,
}

impl Excluded {
    /// Everything the direct upstream nodes failed or excluded (they pass on their own
    /// upstreams' exclusions, so this is the whole way up).
    pub(super) fn from_inputs(inputs: &BTreeMap<String, Value>) -> Self {
        let mut ex = Excluded::default();
        for (node, out) in inputs {
            let take = |key: &str, into: &mut BTreeMap<String, String>, own: bool| {
                if let Some(map) = out.get(key).and_then(Value::as_object) {
                    for (k, v) in map {
                        let why = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        let why = if own { format!("{node}: {why}") } else { why };
                        into.entry(k.clone()).or_insert(why);
                    }
                }
            };
            take("failed", &mut ex.instruments, true);
            take("excluded", &mut ex.instruments, false);
            take("failed_currencies", &mut ex.currencies, true);
            take("excluded_currencies", &mut ex.currencies, false);
        }
        ex
    }

    /// Why `code` (priced in `currency`) is left alone, if it is.
    pub(super) fn reason(&self, code: &str, currency: Option<&str>) -> Option<String> {
        if let Some(why) = self.instruments.get(code) {
            return Some(format!("failed upstream ({why})"));
        }
        let ccy = currency?.to_ascii_uppercase();
        self.currencies
            .get(&ccy)
            .map(|why| format!("its currency {ccy} failed upstream ({why})"))
    }

    /// Adds `excluded` / `excluded_currencies` (with this node's own failures) to `out`.
    fn write(
        &self,
        own: &BTreeMap<String, String>,
        own_currencies: bool,
        out: &mut Map<String, Value>,
    ) {
        let mut instruments = self.instruments.clone();
        let mut currencies = self.currencies.clone();
        let target = if own_currencies {
            &mut currencies
        } else {
            &mut instruments
        };
        for (k, v) in own {
            target.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if !instruments.is_empty() {
            out.insert("excluded".into(), json!(instruments));
        }
        if !currencies.is_empty() {
            out.insert("excluded_currencies".into(), json!(currencies));
        }
    }
}

/// What the failures are of: instruments, or FX currencies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Subject {
    Instruments,
    Currencies,
}

/// The task's result: `out` (one entry per instrument done) with the failures listed as
/// described in the module docs; an error when nothing succeeded and something failed.
/// `retryable` says whether an all-failed task is worth another attempt.
pub(super) fn finish(
    mut out: Map<String, Value>,
    failures: Vec<Failure>,
    excluded: &Excluded,
    subject: Subject,
    retryable: bool,
) -> Result<Value, TaskError> {
    for f in &failures {
        tracing::error!(instrument = %f.instrument, "{}: {}", f.instrument, f.message);
    }
    if !failures.is_empty() && out.keys().all(|k| k == "warnings") {
        let list: Vec<String> = failures
            .iter()
            .map(|f| format!("{}: {}", f.instrument, f.message))
            .collect();
        let what = match subject {
            Subject::Instruments => "instrument(s)",
            Subject::Currencies => "currenc(ies)",
        };
        let message = format!("all {} {what} failed: {}", failures.len(), list.join("; "));
        return Err(if retryable {
            TaskError::retryable(message)
        } else {
            TaskError::fatal(message)
        });
    }
    let own: BTreeMap<String, String> = failures
        .iter()
        .map(|f| (f.instrument.clone(), f.message.clone()))
        .collect();
    let mut warnings: Vec<String> = failures
        .iter()
        .map(|f| match subject {
            Subject::Instruments => format!(
                "{}: {} (the other instruments went on; later nodes leave {} alone)",
                f.instrument, f.message, f.instrument
            ),
            Subject::Currencies => format!(
                "FX {}: {} (the other currencies went on; later nodes leave the instruments priced in {} alone)",
                f.instrument, f.message, f.instrument
            ),
        })
        .collect();
    if let Some(Value::Array(more)) = out.remove("warnings") {
        warnings.extend(
            more.into_iter()
                .filter_map(|w| w.as_str().map(str::to_string)),
        );
    }
    if !own.is_empty() {
        let key = match subject {
            Subject::Instruments => "failed",
            Subject::Currencies => "failed_currencies",
        };
        out.insert(key.into(), json!(own));
    }
    if !warnings.is_empty() {
        out.insert("warnings".into(), json!(warnings));
    }
    excluded.write(&own, subject == Subject::Currencies, &mut out);
    Ok(Value::Object(out))
}

/// [`finish`] for a task whose output keeps its per-instrument report under `key` beside
/// `extra` (e.g. `{"instruments": {...}, "spikes": [...]}`): the failure keys go to the top.
pub(super) fn finish_nested(
    key: &str,
    report: Map<String, Value>,
    mut extra: Map<String, Value>,
    failures: Vec<Failure>,
    excluded: &Excluded,
    subject: Subject,
    retryable: bool,
) -> Result<Value, TaskError> {
    let mut report = match finish(report, failures, excluded, subject, retryable)? {
        Value::Object(m) => m,
        other => return Ok(other),
    };
    for k in [
        "failed",
        "failed_currencies",
        "warnings",
        "excluded",
        "excluded_currencies",
    ] {
        if let Some(v) = report.remove(k) {
            extra.insert(k.into(), v);
        }
    }
    extra.insert(key.into(), Value::Object(report));
    Ok(Value::Object(extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_of_many_succeeds_listing_it() {
        let mut out = Map::new();
        out.insert("GOLD".into(), json!({"rows": 3}));
        let v = finish(
            out,
            vec![Failure {
                instrument: "SP500".into(),
                message: "corrupt file".into(),
            }],
            &Excluded::default(),
            Subject::Instruments,
            true,
        )
        .unwrap();
        assert_eq!(v["failed"]["SP500"], "corrupt file");
        assert_eq!(v["excluded"]["SP500"], "corrupt file");
        assert!(v["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("SP500: corrupt file"));
        assert_eq!(v["GOLD"]["rows"], 3);
    }

    #[test]
    fn all_failed_is_an_error_retried_only_when_transient() {
        let fail = || {
            vec![Failure {
                instrument: "SP500".into(),
                message: "x".into(),
            }]
        };
        let e = finish(
            Map::new(),
            fail(),
            &Excluded::default(),
            Subject::Instruments,
            false,
        )
        .unwrap_err();
        assert!(!e.retryable && e.message.contains("all 1 instrument(s) failed"));
        let e = finish(
            Map::new(),
            fail(),
            &Excluded::default(),
            Subject::Instruments,
            true,
        )
        .unwrap_err();
        assert!(e.retryable);
        // Nothing to do and nothing failed is a success.
        assert!(finish(
            Map::new(),
            vec![],
            &Excluded::default(),
            Subject::Instruments,
            false
        )
        .is_ok());
    }

    #[test]
    fn exclusions_pass_down_the_whole_way() {
        let mut inputs = BTreeMap::new();
        inputs.insert(
            "fx".to_string(),
            json!({"failed_currencies": {"JPY": "spike 3"}}),
        );
        inputs.insert(
            "prices".to_string(),
            json!({"failed": {"SP500": "corrupt"}, "excluded": {"SP500": "corrupt", "GOLD": "sampled: no chain"}}),
        );
        let ex = Excluded::from_inputs(&inputs);
        assert_eq!(
            ex.reason("SP500", Some("USD")).unwrap(),
            "failed upstream (prices: corrupt)"
        );
        assert_eq!(
            ex.reason("GOLD", None).unwrap(),
            "failed upstream (sampled: no chain)"
        );
        assert!(ex
            .reason("NIKKEI", Some("jpy"))
            .unwrap()
            .contains("currency JPY"));
        assert_eq!(ex.reason("US10", Some("USD")), None);
        // A later node passes them on even when it fails nothing itself.
        let mut out = Map::new();
        out.insert("US10".into(), json!({}));
        let v = finish(out, vec![], &ex, Subject::Instruments, true).unwrap();
        assert_eq!(
            Excluded::from_inputs(&BTreeMap::from([("x".to_string(), v)])),
            ex
        );
    }
}
