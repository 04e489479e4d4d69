//! The `[reports]` section: where each report of the daily workflow goes — pysystemtrade's
//! `reports:` key, whose entries each name an `output` (console, email, file, emailfile). Here
//! `output` is every report's, and `outputs` names the reports that differ:
//!
//! ```toml
//! [reports]
//! output = "file"
//! outputs = { pandl = "both", liquidity = "none" }
//! ```
//!
//! From the environment: `SYSTRADE_REPORTS__OUTPUTS="pandl=both,liquidity=none"`.

use std::collections::BTreeMap;

use crate::engine::diagnostic::did_you_mean;

/// Where a report goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportOutput {
    /// `<home>/reports/NAME_YYYY-MM-DD.html`.
    File,
    /// E-mailed (HTML body, the text form for plain-text readers), no file.
    Email,
    /// Both.
    Both,
    /// Not made: the daily workflow's node for it does nothing.
    None,
}

impl ReportOutput {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.trim() {
            "file" => Self::File,
            "email" => Self::Email,
            "both" => Self::Both,
            "none" => Self::None,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Email => "email",
            Self::Both => "both",
            Self::None => "none",
        }
    }

    pub fn to_file(self) -> bool {
        matches!(self, Self::File | Self::Both)
    }

    pub fn to_email(self) -> bool {
        matches!(self, Self::Email | Self::Both)
    }
}

/// The effective `[reports]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportsConfig {
    /// Every report's output, unless `outputs` names it.
    pub output: ReportOutput,
    /// Reports whose output differs, by report name.
    pub outputs: BTreeMap<String, ReportOutput>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            output: ReportOutput::File,
            outputs: BTreeMap::new(),
        }
    }
}

impl ReportsConfig {
    /// Where report `name` goes.
    pub fn output_of(&self, name: &str) -> ReportOutput {
        self.outputs.get(name).copied().unwrap_or(self.output)
    }

    /// Whether any report is e-mailed.
    pub fn emails_any(&self) -> bool {
        self.output.to_email() || self.outputs.values().any(|o| o.to_email())
    }
}

type Problems = Vec<(&'static str, String)>;

const CHOICES: &str = "one of \"file\", \"email\", \"both\", \"none\"";

/// Reads `reports.*` from the config entries against the names of the reports there are;
/// every problem as `(key, message)`.
pub fn parse(
    entries: &BTreeMap<String, (toml::Value, super::Source)>,
    reports: &[&str],
) -> (ReportsConfig, Problems) {
    let mut problems = Problems::new();
    let mut config = ReportsConfig::default();
    match entries.get("reports.output").map(|(v, _)| v) {
        Some(toml::Value::String(s)) => match ReportOutput::parse(s) {
            Some(o) => config.output = o,
            None => problems.push(("reports.output", format!("`{s}` is not {CHOICES}"))),
        },
        Some(other) => problems.push((
            "reports.output",
            format!("expected {CHOICES}, found {other}"),
        )),
        None => {}
    }
    let pairs: Vec<(String, String)> = match entries.get("reports.outputs").map(|(v, _)| v) {
        None => Vec::new(),
        Some(toml::Value::Table(t)) => t
            .iter()
            .filter_map(|(k, v)| match v.as_str() {
                Some(s) => Some((k.clone(), s.to_string())),
                None => {
                    problems.push((
                        "reports.outputs",
                        format!("`{k}`: expected {CHOICES}, found {v}"),
                    ));
                    None
                }
            })
            .collect(),
        // From the environment: "name=output,name=output".
        Some(toml::Value::String(s)) => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .filter_map(|part| match part.split_once('=') {
                Some((k, v)) => Some((k.trim().to_string(), v.trim().to_string())),
                None => {
                    problems.push(("reports.outputs", format!("`{part}` is not report=output")));
                    None
                }
            })
            .collect(),
        Some(other) => {
            problems.push((
                "reports.outputs",
                format!("expected a table {{ report = output }}, found {other}"),
            ));
            Vec::new()
        }
    };
    for (name, text) in pairs {
        if !reports.contains(&name.as_str()) {
            let hint = did_you_mean(&name, reports.iter().copied())
                .unwrap_or_else(|| format!("reports: {}", reports.join(", ")));
            problems.push((
                "reports.outputs",
                format!("no report named `{name}`; {hint}"),
            ));
            continue;
        }
        match ReportOutput::parse(&text) {
            Some(o) => {
                config.outputs.insert(name, o);
            }
            None => problems.push((
                "reports.outputs",
                format!("`{name}`: `{text}` is not {CHOICES}"),
            )),
        }
    }
    (config, problems)
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

    const NAMES: &[&str] = &["pandl", "liquidity", "status"];

    #[test]
    fn every_report_takes_output_unless_outputs_names_it() {
        let t: toml::Table =
            toml::from_str("output = \"both\"\noutputs = { liquidity = \"none\" }\n").unwrap();
        let (c, problems) = parse(
            &entries(&[
                ("reports.output", t["output"].clone()),
                ("reports.outputs", t["outputs"].clone()),
            ]),
            NAMES,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.output_of("pandl"), ReportOutput::Both);
        assert_eq!(c.output_of("liquidity"), ReportOutput::None);
        assert!(c.emails_any());
        // From the environment.
        let (c, problems) = parse(
            &entries(&[(
                "reports.outputs",
                toml::Value::String("pandl=email, status=file".into()),
            )]),
            NAMES,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(c.output_of("pandl"), ReportOutput::Email);
        assert_eq!(c.output_of("liquidity"), ReportOutput::File);
    }

    #[test]
    fn unknown_reports_and_outputs_are_named() {
        let t: toml::Table =
            toml::from_str("output = \"paper\"\noutputs = { pandel = \"both\", status = 3 }\n")
                .unwrap();
        let (_, problems) = parse(
            &entries(&[
                ("reports.output", t["output"].clone()),
                ("reports.outputs", t["outputs"].clone()),
            ]),
            NAMES,
        );
        let text = format!("{problems:?}");
        assert!(text.contains("`paper` is not one of"), "{text}");
        assert!(text.contains("no report named `pandel`"), "{text}");
        assert!(text.contains("pandl"), "did-you-mean: {text}");
        assert!(text.contains("`status`: expected"), "{text}");
    }
}
