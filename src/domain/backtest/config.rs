//! Strategy configs: a TOML file naming the trading rules, forecast scalars and weights, FDM,
//! IDM, vol target, capital and the instruments with their weights, validated into the
//! [`SystemConfig`] and [`PositionConfig`] the backtest stages take.
//!
//! ```toml
//! [strategy]
//! name = "chapter15"
//! base_currency = "USD"              # positions valued in it (FX via USD rates)
//! notional_trading_capital = 250000
//! percentage_vol_target = 20.0
//!
//! [[rule]]
//! name = "ewmac16_64"
//! kind = "ewmac"                     # or "carry" (optional smooth_days, default 90)
//! fast = 16
//! slow = 64
//! forecast_scalar = 3.75
//!
//! [forecast]
//! cap = 20.0
//! fdm = 1.31
//! weights = { ewmac16_64 = 1.0 }     # must sum to 1
//! # average_absolute_forecast = 10.0 (the default)
//! # weight_smoothing_span = 125        (the default: EWMA span of the daily weights)
//!
//! [portfolio]
//! idm = 2.5
//! buffer_size = 0.1
//! instruments = { AUD = 0.5, SP500 = 0.5 }   # CODE = fixed instrument weight; sum 1
//! # weight_smoothing_span = 125        (the default)
//! ```
//!
//! Parsing uses `deny_unknown_fields`; every problem is collected as a [`Diagnostic`] with file
//! and line (where one can be found) before anything runs.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::position::PositionConfig;
use super::vol::VolConfig;
use super::weights::DEFAULT_WEIGHT_SMOOTHING_SPAN;
use super::{Rule, RuleKind, SystemConfig};
use crate::engine::diagnostic::{
    did_you_mean, from_toml_error, Diagnostic, Diagnostics, SourceText,
};

/// Rule kinds a config may name.
pub const RULE_KINDS: [&str; 2] = ["ewmac", "carry"];
/// Tolerance of the sum of the forecast weights and of the instrument weights.
pub const WEIGHT_SUM_TOLERANCE: f64 = 1e-6;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    strategy: RawStrategy,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RawRule>>,
    forecast: RawForecast,
    portfolio: RawPortfolio,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStrategy {
    name: String,
    base_currency: Spanned<String>,
    notional_trading_capital: Spanned<f64>,
    percentage_vol_target: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    kind: Spanned<String>,
    fast: Option<Spanned<f64>>,
    slow: Option<Spanned<f64>>,
    smooth_days: Option<Spanned<f64>>,
    forecast_scalar: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForecast {
    cap: Spanned<f64>,
    fdm: Spanned<f64>,
    weights: Spanned<BTreeMap<String, f64>>,
    average_absolute_forecast: Option<Spanned<f64>>,
    weight_smoothing_span: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortfolio {
    idm: Spanned<f64>,
    buffer_size: Spanned<f64>,
    instruments: Spanned<BTreeMap<String, f64>>,
    weight_smoothing_span: Option<Spanned<f64>>,
}

/// A validated strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyConfig {
    pub name: String,
    pub base_currency: String,
    pub system: SystemConfig,
    /// Position parameters shared by every instrument; `instrument_weight` is 0 here, see
    /// [`StrategyConfig::position_config`].
    pub position: PositionConfig,
    /// Instrument codes (sorted) with their fixed instrument weights.
    pub instruments: Vec<(String, f64)>,
    /// Span of the EWMA that smooths the daily instrument weights
    /// (`instrument_weight_ewma_span`).
    pub instrument_weight_smoothing_span: f64,
}

impl StrategyConfig {
    /// The position parameters of `code` (its instrument weight filled in), if it is in the
    /// strategy.
    pub fn position_config(&self, code: &str) -> Option<PositionConfig> {
        let (_, w) = self.instruments.iter().find(|(c, _)| c == code)?;
        Some(PositionConfig {
            instrument_weight: *w,
            ..self.position
        })
    }
}

/// Parses and validates a strategy config. `is_known` says whether an instrument code is in the
/// reference data. Every problem found is returned.
pub fn parse_strategy(
    path: &str,
    text: &str,
    is_known: &dyn Fn(&str) -> bool,
    known_codes: &[&str],
) -> Result<StrategyConfig, Diagnostics> {
    let src = SourceText::new(path, text);
    let raw: RawFile = toml::from_str(text).map_err(|e| from_toml_error(&src, &e))?;
    let mut errs = Vec::new();
    let err = |span: Range<usize>, key: &str, msg: String| {
        Diagnostic::new(path, msg).at(&src, span.start).key(key)
    };

    let s = &raw.strategy;
    let ccy = s.base_currency.get_ref();
    if !(ccy.len() == 3 && ccy.chars().all(|c| c.is_ascii_uppercase())) {
        errs.push(
            err(
                s.base_currency.span(),
                "strategy.base_currency",
                format!("base currency `{ccy}` is not a three-letter currency code"),
            )
            .help("for example USD, EUR, GBP"),
        );
    }
    positive(
        &mut errs,
        &err,
        &s.notional_trading_capital,
        "strategy.notional_trading_capital",
    );
    positive(
        &mut errs,
        &err,
        &s.percentage_vol_target,
        "strategy.percentage_vol_target",
    );

    let mut rules: Vec<Rule> = Vec::new();
    for r in &raw.rules {
        let span = r.span();
        let r = r.get_ref();
        let name = r.name.get_ref().clone();
        if rules.iter().any(|x| x.name == name) {
            errs.push(err(
                r.name.span(),
                "rule.name",
                format!("duplicate rule `{name}`"),
            ));
        }
        positive(&mut errs, &err, &r.forecast_scalar, "rule.forecast_scalar");
        let kind = match r.kind.get_ref().as_str() {
            "ewmac" => {
                if let Some(d) = &r.smooth_days {
                    errs.push(err(
                        d.span(),
                        "rule.smooth_days",
                        "only carry rules take smooth_days".into(),
                    ));
                }
                match (&r.fast, &r.slow) {
                    (Some(f), Some(s)) => {
                        positive(&mut errs, &err, f, "rule.fast");
                        positive(&mut errs, &err, s, "rule.slow");
                        if f.get_ref() >= s.get_ref() {
                            errs.push(err(
                                f.span(),
                                "rule.fast",
                                format!(
                                    "rule `{name}`: fast ({}) must be below slow ({})",
                                    f.get_ref(),
                                    s.get_ref()
                                ),
                            ));
                        }
                        Some(RuleKind::Ewmac {
                            fast: *f.get_ref(),
                            slow: *s.get_ref(),
                        })
                    }
                    _ => {
                        errs.push(err(
                            span.clone(),
                            "rule",
                            format!("ewmac rule `{name}` needs `fast` and `slow`"),
                        ));
                        None
                    }
                }
            }
            "carry" => {
                for (v, key) in [(&r.fast, "rule.fast"), (&r.slow, "rule.slow")] {
                    if let Some(v) = v {
                        errs.push(err(
                            v.span(),
                            key,
                            format!("carry rule `{name}` takes no fast/slow"),
                        ));
                    }
                }
                let smooth = match &r.smooth_days {
                    Some(d) => {
                        positive(&mut errs, &err, d, "rule.smooth_days");
                        *d.get_ref()
                    }
                    None => 90.0,
                };
                Some(RuleKind::Carry {
                    smooth_days: smooth,
                })
            }
            other => {
                errs.push(
                    err(
                        r.kind.span(),
                        "rule.kind",
                        format!("unknown rule kind `{other}`"),
                    )
                    .help_opt(
                        did_you_mean(other, RULE_KINDS)
                            .or_else(|| Some(format!("known kinds: {}", RULE_KINDS.join(", ")))),
                    ),
                );
                None
            }
        };
        if let Some(kind) = kind {
            rules.push(Rule {
                name,
                kind,
                forecast_scalar: *r.forecast_scalar.get_ref(),
            });
        }
    }
    if raw.rules.is_empty() {
        errs.push(Diagnostic::new(
            path,
            "no [[rule]]: a strategy needs at least one rule",
        ));
    }

    let f = &raw.forecast;
    positive(&mut errs, &err, &f.cap, "forecast.cap");
    positive(&mut errs, &err, &f.fdm, "forecast.fdm");
    if let Some(a) = &f.average_absolute_forecast {
        positive(&mut errs, &err, a, "forecast.average_absolute_forecast");
    }
    for (span, key) in [
        (&f.weight_smoothing_span, "forecast.weight_smoothing_span"),
        (
            &raw.portfolio.weight_smoothing_span,
            "portfolio.weight_smoothing_span",
        ),
    ] {
        if let Some(v) = span {
            if !(v.get_ref().is_finite() && *v.get_ref() >= 1.0) {
                errs.push(err(
                    v.span(),
                    key,
                    format!("{} must be a number ≥ 1", v.get_ref()),
                ));
            }
        }
    }
    let rule_names: Vec<&str> = raw
        .rules
        .iter()
        .map(|r| r.get_ref().name.get_ref().as_str())
        .collect();
    let weights = f.weights.get_ref();
    let wspan = f.weights.span();
    for (rule, w) in weights {
        let at = key_offset(text, &wspan, rule);
        if !rule_names.contains(&rule.as_str()) {
            errs.push(
                Diagnostic::new(path, format!("weight for unknown rule `{rule}`"))
                    .at(&src, at)
                    .key(format!("forecast.weights.{rule}"))
                    .help_opt(did_you_mean(rule, rule_names.iter().copied())),
            );
        }
        if !(w.is_finite() && *w >= 0.0) {
            errs.push(
                Diagnostic::new(path, format!("weight {w} must be a finite number ≥ 0"))
                    .at(&src, at)
                    .key(format!("forecast.weights.{rule}")),
            );
        }
    }
    let sum: f64 = weights.values().sum();
    if (sum - 1.0).abs().is_nan() || (sum - 1.0).abs() > WEIGHT_SUM_TOLERANCE {
        errs.push(err(
            wspan.clone(),
            "forecast.weights",
            format!("forecast weights sum to {sum}, not 1"),
        ));
    }
    // Weights in the rules' order.
    let forecast_weights = rules
        .iter()
        .filter_map(|r| weights.get(&r.name).map(|w| (r.name.clone(), *w)))
        .collect();

    let p = &raw.portfolio;
    positive(&mut errs, &err, &p.idm, "portfolio.idm");
    let b = p.buffer_size.get_ref();
    if !(b.is_finite() && *b >= 0.0) {
        errs.push(err(
            p.buffer_size.span(),
            "portfolio.buffer_size",
            format!("{b} must be a finite number ≥ 0"),
        ));
    }
    let ispan = p.instruments.span();
    if p.instruments.get_ref().is_empty() {
        errs.push(err(
            ispan.clone(),
            "portfolio.instruments",
            "no instruments".into(),
        ));
    }
    let mut instruments = Vec::new();
    for (code, w) in p.instruments.get_ref() {
        let at = key_offset(text, &ispan, code);
        let key = format!("portfolio.instruments.{code}");
        if !is_known(code) {
            errs.push(
                Diagnostic::new(
                    path,
                    format!("unknown instrument `{code}` (not in the reference data)"),
                )
                .at(&src, at)
                .key(key.clone())
                .help_opt(did_you_mean(code, known_codes.iter().copied())),
            );
        }
        if !(w.is_finite() && *w > 0.0) {
            errs.push(
                Diagnostic::new(
                    path,
                    format!("instrument weight {w} must be a finite number > 0"),
                )
                .at(&src, at)
                .key(key),
            );
        }
        instruments.push((code.clone(), *w));
    }
    let total: f64 = p.instruments.get_ref().values().sum();
    if !instruments.is_empty()
        && ((total - 1.0).abs().is_nan() || (total - 1.0).abs() > WEIGHT_SUM_TOLERANCE)
    {
        errs.push(err(
            ispan.clone(),
            "portfolio.instruments",
            format!("instrument weights sum to {total}, not 1"),
        ));
    }

    if !errs.is_empty() {
        return Err(Diagnostics(errs));
    }
    Ok(StrategyConfig {
        name: s.name.clone(),
        base_currency: ccy.clone(),
        system: SystemConfig {
            vol: VolConfig::default(),
            rules,
            forecast_cap: *f.cap.get_ref(),
            forecast_weights,
            forecast_div_multiplier: *f.fdm.get_ref(),
            weight_smoothing_span: f
                .weight_smoothing_span
                .as_ref()
                .map_or(DEFAULT_WEIGHT_SMOOTHING_SPAN, |v| *v.get_ref()),
        },
        position: PositionConfig {
            percentage_vol_target: *s.percentage_vol_target.get_ref(),
            notional_trading_capital: *s.notional_trading_capital.get_ref(),
            average_absolute_forecast: f
                .average_absolute_forecast
                .as_ref()
                .map_or(10.0, |a| *a.get_ref()),
            instrument_weight: 0.0,
            idm: *p.idm.get_ref(),
            buffer_size: *b,
        },
        instruments,
        instrument_weight_smoothing_span: p
            .weight_smoothing_span
            .as_ref()
            .map_or(DEFAULT_WEIGHT_SMOOTHING_SPAN, |v| *v.get_ref()),
    })
}

/// Pushes an error unless the value is a positive finite number.
fn positive<E>(errs: &mut Vec<Diagnostic>, err: &E, v: &Spanned<f64>, key: &str)
where
    E: Fn(Range<usize>, &str, String) -> Diagnostic,
{
    let x = *v.get_ref();
    if !(x.is_finite() && x > 0.0) {
        errs.push(err(
            v.span(),
            key,
            format!("{x} must be a positive finite number"),
        ));
    }
}

/// The offset of the first `key = ...` from the start of a table's span on (the span of a
/// `[header]` table may cover only its header), else the span's start.
fn key_offset(text: &str, span: &Range<usize>, key: &str) -> usize {
    let body = text.get(span.start..).unwrap_or("");
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    for (i, _) in body.match_indices(key) {
        let before = body[..i].chars().next_back();
        let after = body[i + key.len()..].trim_start_matches([' ', '\t', '"']);
        if !before.is_some_and(is_ident) && after.starts_with('=') {
            return span.start + i;
        }
    }
    span.start
}

#[cfg(test)]
#[path = "config_tests.rs"]
pub(super) mod tests;
