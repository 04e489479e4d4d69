//! The `[markets]` section: which markets are kept out of trading and which are duplicates of
//! each other (pysystemtrade's `exclude_instrument_lists.bad_markets` and
//! `duplicate_instruments: {include: {group: code}, exclude: {group: [codes]}}`), read by the
//! duplicate markets and remove markets reports.

use std::collections::BTreeMap;

use crate::domain::instrument::InstrumentCode;

/// A group of markets that are the same thing in different sizes or places.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateGroup {
    pub name: String,
    /// The markets traded (usually one).
    pub included: Vec<InstrumentCode>,
    /// The markets left out in favour of the included.
    pub excluded: Vec<InstrumentCode>,
}

/// The effective `[markets]` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarketsConfig {
    /// Markets too expensive or illiquid to trade, sorted.
    pub bad_markets: Vec<InstrumentCode>,
    /// Duplicate groups by name.
    pub duplicates: Vec<DuplicateGroup>,
}

type Problems = Vec<(&'static str, String)>;

fn code(key: &'static str, text: &str, problems: &mut Problems) -> Option<InstrumentCode> {
    match InstrumentCode::new(text.trim()) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push((key, e));
            None
        }
    }
}

/// Codes of an array of strings, or (from the environment) of a string split on `sep`.
fn codes(
    key: &'static str,
    v: &toml::Value,
    sep: char,
    problems: &mut Problems,
) -> Vec<InstrumentCode> {
    let texts: Vec<String> = match v {
        toml::Value::Array(items) => items
            .iter()
            .filter_map(|i| match i.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    problems.push((
                        key,
                        format!("expected instrument codes as strings, found {i}"),
                    ));
                    None
                }
            })
            .collect(),
        toml::Value::String(s) => s
            .split(sep)
            .filter(|p| !p.trim().is_empty())
            .map(str::to_string)
            .collect(),
        other => {
            problems.push((
                key,
                format!("expected a list of instrument codes, found {other}"),
            ));
            Vec::new()
        }
    };
    let mut out: Vec<InstrumentCode> = Vec::new();
    for t in texts {
        if let Some(c) = code(key, &t, problems) {
            if out.contains(&c) {
                problems.push((key, format!("`{c}` is listed twice")));
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// `{ group = value }`, or (from the environment) `"group=value,group=value"`.
fn groups(
    key: &'static str,
    v: Option<&toml::Value>,
    problems: &mut Problems,
) -> BTreeMap<String, toml::Value> {
    match v {
        Some(toml::Value::Table(t)) => t.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(toml::Value::String(s)) => {
            let mut out = BTreeMap::new();
            for part in s.split(',').filter(|p| !p.trim().is_empty()) {
                match part.split_once('=') {
                    Some((g, codes)) => {
                        out.insert(
                            g.trim().to_string(),
                            toml::Value::String(codes.trim().to_string()),
                        );
                    }
                    None => problems.push((key, format!("`{part}` is not group=codes"))),
                }
            }
            out
        }
        _ => {
            problems.push((key, "expected a table { group = ... }".into()));
            BTreeMap::new()
        }
    }
}

/// Reads `markets.*` from the config entries; every problem as `(key, message)`.
pub fn parse(
    entries: &BTreeMap<String, (toml::Value, super::Source)>,
) -> (MarketsConfig, Problems) {
    let mut problems = Problems::new();
    let get = |k: &str| entries.get(k).map(|(v, _)| v);
    let mut bad_markets = match get("markets.bad_markets") {
        Some(v) => codes("markets.bad_markets", v, ',', &mut problems),
        None => Vec::new(),
    };
    bad_markets.sort();
    let include = groups(
        "markets.duplicate_include",
        get("markets.duplicate_include"),
        &mut problems,
    );
    let exclude = groups(
        "markets.duplicate_exclude",
        get("markets.duplicate_exclude"),
        &mut problems,
    );
    let mut duplicates = Vec::new();
    for name in exclude.keys() {
        if !include.contains_key(name) {
            problems.push((
                "markets.duplicate_exclude",
                format!("group `{name}` has no entry in markets.duplicate_include"),
            ));
        }
    }
    for (name, v) in &include {
        // A single code or a list; from the environment codes are separated by `|`.
        let included = codes("markets.duplicate_include", v, '|', &mut problems);
        let excluded = match exclude.get(name) {
            Some(v) => codes("markets.duplicate_exclude", v, '|', &mut problems),
            None => Vec::new(),
        };
        if included.is_empty() {
            problems.push((
                "markets.duplicate_include",
                format!("group `{name}` includes no market"),
            ));
        }
        if let Some(both) = included.iter().find(|c| excluded.contains(c)) {
            problems.push((
                "markets.duplicate_exclude",
                format!("`{both}` is both included and excluded in group `{name}`"),
            ));
        }
        duplicates.push(DuplicateGroup {
            name: name.clone(),
            included,
            excluded,
        });
    }
    (
        MarketsConfig {
            bad_markets,
            duplicates,
        },
        problems,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;

    fn entries(pairs: &[(&str, toml::Value)]) -> BTreeMap<String, (toml::Value, Source)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), (v.clone(), Source::Default)))
            .collect()
    }

    #[test]
    fn groups_take_one_code_or_a_list_and_strings_from_the_environment() {
        let t: toml::Table = toml::from_str(
            "bad_markets = [\"V2X\", \"KR3\"]\n\
             duplicate_include = { gold = \"GOLD\", sp = [\"SP500\"] }\n\
             duplicate_exclude = { gold = [\"GOLD_micro\", \"GOLD-mini\"] }\n",
        )
        .unwrap();
        let (m, problems) = parse(&entries(&[
            ("markets.bad_markets", t["bad_markets"].clone()),
            ("markets.duplicate_include", t["duplicate_include"].clone()),
            ("markets.duplicate_exclude", t["duplicate_exclude"].clone()),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(m.bad_markets[0].as_str(), "KR3");
        assert_eq!(m.duplicates.len(), 2);
        assert_eq!(m.duplicates[0].name, "gold");
        assert_eq!(m.duplicates[0].excluded.len(), 2);
        assert_eq!(m.duplicates[1].included[0].as_str(), "SP500");

        let (m, problems) = parse(&entries(&[
            ("markets.bad_markets", toml::Value::String("V2X,KR3".into())),
            (
                "markets.duplicate_include",
                toml::Value::String("gold=GOLD".into()),
            ),
            (
                "markets.duplicate_exclude",
                toml::Value::String("gold=GOLD_micro|GOLD-mini".into()),
            ),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(m.bad_markets.len(), 2);
        assert_eq!(m.duplicates[0].excluded[1].as_str(), "GOLD-mini");
    }

    #[test]
    fn bad_groups_are_named() {
        let t: toml::Table = toml::from_str(
            "duplicate_include = { gold = \"GOLD\" }\n\
             duplicate_exclude = { gold = [\"GOLD\"], silver = [\"SILVER\"] }\n",
        )
        .unwrap();
        let (_, problems) = parse(&entries(&[
            ("markets.bad_markets", toml::Value::Array(vec![])),
            ("markets.duplicate_include", t["duplicate_include"].clone()),
            ("markets.duplicate_exclude", t["duplicate_exclude"].clone()),
        ]));
        let text = format!("{problems:?}");
        assert!(text.contains("group `silver` has no entry"), "{text}");
        assert!(
            text.contains("`GOLD` is both included and excluded"),
            "{text}"
        );
    }

    #[test]
    fn every_shipped_duplicate_market_is_in_the_reference_data() {
        let defaults: toml::Table = toml::from_str(crate::shipped::DEFAULT_CONFIG).unwrap();
        let markets = &defaults["markets"];
        let (m, problems) = parse(&entries(&[
            (
                "markets.duplicate_include",
                markets["duplicate_include"].clone(),
            ),
            (
                "markets.duplicate_exclude",
                markets["duplicate_exclude"].clone(),
            ),
        ]));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(m.duplicates.len(), 12);
        let reference = include_str!("../../config/instrumentconfig.csv");
        let known: std::collections::BTreeSet<&str> = reference
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .collect();
        for g in &m.duplicates {
            assert!(!g.excluded.is_empty(), "group {} excludes nothing", g.name);
            for c in g.included.iter().chain(&g.excluded) {
                assert!(known.contains(c.as_str()), "{c} of group {}", g.name);
            }
        }
    }
}
