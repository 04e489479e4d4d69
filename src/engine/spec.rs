//! The workflow file format (`workflows/NAME.toml`): raw serde structs close to the TOML, then a
//! typed, validated [`WorkflowSpec`]. Graph checks (cycles, unknown `after`) live in `plan.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::diagnostic::{did_you_mean, from_toml_error, Diagnostic, Diagnostics, SourceText};
use super::duration::parse_duration;

/// Engine-wide fall-backs when a workflow's `[defaults]` does not say.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
pub const DEFAULT_RETRIES: u32 = 0;
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    workflow: Option<Spanned<RawWorkflow>>,
    defaults: Option<RawPolicy>,
    #[serde(default, rename = "node")]
    nodes: Vec<Spanned<RawNode>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    max_concurrency: Option<Spanned<i64>>,
    schedule: Option<Spanned<RawSchedule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    start: Spanned<String>,
    stop: Spanned<String>,
    days: Option<Spanned<Vec<Spanned<String>>>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    after_workflows: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    retries: Option<Spanned<i64>>,
    backoff: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: Spanned<String>,
    task: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    after: Vec<Spanned<String>>,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, toml::Value>,
    retries: Option<Spanned<i64>>,
    backoff: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    every: Option<Spanned<String>>,
    max_runs: Option<Spanned<i64>>,
    on_completion_only: Option<Spanned<bool>>,
    upstream: Option<Spanned<String>>,
    machine: Option<Spanned<String>>,
}

/// When a node may start, given its upstream nodes' outcomes (Airflow's trigger rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamRule {
    /// Every upstream node succeeded (or was skipped); a failure upstream marks this node
    /// `upstream_failed`. The default.
    #[default]
    Succeeded,
    /// Every upstream node has finished, in any state (Airflow's `all_done`): housekeeping
    /// (cleaners, backups, reports) that must run whatever trading did. Such a node also runs
    /// on the way out of a STOP, once its upstream has finished.
    Finished,
}

impl UpstreamRule {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamRule::Succeeded => "succeeded",
            UpstreamRule::Finished => "finished",
        }
    }
}

/// When `systrade scheduler` may start a workflow.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Schedule {
    pub start: NaiveTime,
    pub stop: NaiveTime,
    pub days: Vec<Weekday>,
    #[serde(serialize_with = "ser_tz")]
    pub timezone: Tz,
    pub after_workflows: Vec<String>,
}

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Retry and timeout policy of a node.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RetryPolicy {
    pub retries: u32,
    #[serde(with = "ser_millis")]
    pub backoff: Duration,
    #[serde(with = "ser_opt_millis")]
    pub timeout: Option<Duration>,
}

mod ser_millis {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
mod ser_opt_millis {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_none(),
        }
    }
}

/// How often a node repeats within one run (sysproduction's "method" frequency/max_executions).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Repeat {
    #[serde(with = "ser_millis")]
    pub every: Duration,
    /// `None`: until the window closes or STOP.
    pub max_runs: Option<u32>,
}

/// One node as written in the workflow file, after field-level validation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeSpec {
    pub id: String,
    pub task: String,
    pub description: String,
    pub after: Vec<String>,
    /// Node params as written (task defaults are merged in `plan.rs`).
    pub params: serde_json::Map<String, serde_json::Value>,
    pub policy: RetryPolicy,
    pub repeat: Option<Repeat>,
    pub on_completion_only: bool,
    /// `upstream = "succeeded" | "finished"`: what the upstream nodes must have done.
    pub upstream: UpstreamRule,
    pub machine: Option<String>,
    pub line: usize,
    #[serde(skip)]
    pub(crate) spans: NodeSpans,
}

/// Byte offsets of a node's parts, for diagnostics raised after parsing.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeSpans {
    pub id: usize,
    pub task: usize,
    pub after: Vec<usize>,
    pub params: BTreeMap<String, usize>,
    pub node: usize,
}

/// A workflow file, parsed and checked field by field.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkflowSpec {
    pub name: String,
    pub description: String,
    pub max_concurrency: usize,
    pub schedule: Option<Schedule>,
    pub nodes: Vec<NodeSpec>,
    /// Where it came from (path or `builtin:workflows/NAME.toml`).
    pub source_path: String,
    /// Hash of the file text, recorded with each run.
    pub source_hash: String,
    #[serde(skip)]
    pub(crate) source: Option<SourceText>,
    /// Byte offsets of each `after_workflows` entry, for diagnostics raised after parsing.
    #[serde(skip)]
    pub(crate) schedule_spans: Option<ScheduleSpans>,
}

/// Byte offsets of a schedule's parts.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScheduleSpans {
    pub after_workflows: Vec<usize>,
}

impl WorkflowSpec {
    pub fn source(&self) -> Option<&SourceText> {
        self.source.as_ref()
    }
}

/// Parses raw bytes of a workflow file. `expected_name` is the file stem (the name must equal it).
pub fn parse_workflow(
    path: &str,
    bytes: &[u8],
    expected_name: Option<&str>,
) -> Result<WorkflowSpec, Diagnostics> {
    let (spec, errs) = parse_workflow_partial(path, bytes, expected_name)?;
    if errs.is_empty() {
        Ok(spec)
    } else {
        Err(Diagnostics(errs))
    }
}

/// Parses as far as the file allows: `Err` when there is no workflow to speak of (not UTF-8,
/// empty, not TOML of the right shape); otherwise the spec, with stand-in values where fields
/// were invalid, and the list of field errors, so that graph and task checks can still run and
/// every error is reported in one pass.
pub fn parse_workflow_partial(
    path: &str,
    bytes: &[u8],
    expected_name: Option<&str>,
) -> Result<(WorkflowSpec, Vec<Diagnostic>), Diagnostics> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let mut d = Diagnostic::new(
                path,
                format!(
                    "file is not valid UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            );
            d.line = Some(line);
            return Err(d.into());
        }
    };
    let source = SourceText::new(path, text);
    if text.trim().is_empty() {
        return Err(Diagnostic::new(
            path,
            "file is empty; a workflow needs a [workflow] table and at least one [[node]]",
        )
        .into());
    }
    // A file the typed reader accepts has no unknown keys or wrong types; one it refuses is
    // checked in full, so every such error is reported, not only the first.
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let mut shape = super::spec_check::shape_errors(path, &source, text);
            if shape.is_empty() {
                return Err(Diagnostics::from(from_toml_error(&source, &e)));
            }
            shape.sort_by_key(|d| (d.line.is_none(), d.line, d.column));
            return Err(Diagnostics(shape));
        }
    };
    let mut errs = Vec::new();
    let err = |offset: usize, key: &str, msg: String| {
        Diagnostic::new(path, msg).at(&source, offset).key(key)
    };

    let Some(workflow) = raw.workflow else {
        return Err(
            Diagnostic::new(path, "missing [workflow] table (with at least `name`)").into(),
        );
    };
    let wf_span = workflow.span().start;
    let wf = workflow.into_inner();
    let name = wf.name.get_ref().clone();
    if let Some(expected) = expected_name {
        if name != expected {
            errs.push(
                err(
                    wf.name.span().start,
                    "workflow.name",
                    format!("workflow name `{name}` must equal the file stem `{expected}`"),
                )
                .help(format!(
                    "rename the file to `{name}.toml` or set name = \"{expected}\""
                )),
            );
        }
    }
    if !valid_ident(&name) {
        errs.push(err(
            wf.name.span().start,
            "workflow.name",
            format!("invalid workflow name `{name}`: use letters, digits, `_` and `-`"),
        ));
    }
    let max_concurrency = match &wf.max_concurrency {
        None => DEFAULT_MAX_CONCURRENCY,
        Some(v) if *v.get_ref() >= 1 && *v.get_ref() <= 1024 => *v.get_ref() as usize,
        Some(v) => {
            errs.push(err(
                v.span().start,
                "workflow.max_concurrency",
                format!(
                    "max_concurrency must be between 1 and 1024, got {}",
                    v.get_ref()
                ),
            ));
            1
        }
    };
    let schedule_spans = wf.schedule.as_ref().map(|s| ScheduleSpans {
        after_workflows: s
            .get_ref()
            .after_workflows
            .iter()
            .map(|w| w.span().start)
            .collect(),
    });
    let schedule = wf
        .schedule
        .map(|s| parse_schedule(&source, s.into_inner(), &mut errs));

    let defaults = raw.defaults.unwrap_or_default();
    let default_policy = RetryPolicy {
        retries: parse_retries(
            &source,
            defaults.retries.as_ref(),
            "defaults.retries",
            &mut errs,
        )
        .unwrap_or(DEFAULT_RETRIES),
        backoff: parse_dur(
            &source,
            defaults.backoff.as_ref(),
            "defaults.backoff",
            &mut errs,
        )
        .unwrap_or(DEFAULT_BACKOFF),
        timeout: parse_dur(
            &source,
            defaults.timeout.as_ref(),
            "defaults.timeout",
            &mut errs,
        ),
    };
    if default_policy.timeout == Some(Duration::ZERO) {
        let at = defaults.timeout.as_ref().map_or(0, |t| t.span().start);
        errs.push(err(
            at,
            "defaults.timeout",
            "timeout must be greater than zero".into(),
        ));
    }

    if raw.nodes.is_empty() {
        errs.push(Diagnostic::new(path, "workflow has no [[node]]").at(&source, wf_span));
    }
    let mut nodes = Vec::with_capacity(raw.nodes.len());
    for spanned in raw.nodes {
        let node_offset = spanned.span().start;
        let n = spanned.into_inner();
        let id = n.id.get_ref().clone();
        let k = |field: &str| format!("node.{id}.{field}");
        if !valid_ident(&id) {
            errs.push(err(
                n.id.span().start,
                &k("id"),
                format!("invalid node id `{id}`: use letters, digits, `_` and `-`"),
            ));
        }
        let mut policy = default_policy.clone();
        if let Some(r) = parse_retries(&source, n.retries.as_ref(), &k("retries"), &mut errs) {
            policy.retries = r;
        }
        if let Some(b) = parse_dur(&source, n.backoff.as_ref(), &k("backoff"), &mut errs) {
            policy.backoff = b;
        }
        if let Some(t) = parse_dur(&source, n.timeout.as_ref(), &k("timeout"), &mut errs) {
            if t.is_zero() {
                errs.push(err(
                    n.timeout.as_ref().map_or(0, |t| t.span().start),
                    &k("timeout"),
                    "timeout must be greater than zero".into(),
                ));
            }
            policy.timeout = Some(t);
        }
        let every = parse_dur(&source, n.every.as_ref(), &k("every"), &mut errs);
        let max_runs = match &n.max_runs {
            None => None,
            Some(v) if *v.get_ref() >= 1 && *v.get_ref() <= u32::MAX as i64 => {
                Some(*v.get_ref() as u32)
            }
            Some(v) => {
                errs.push(err(
                    v.span().start,
                    &k("max_runs"),
                    format!("max_runs must be at least 1, got {}", v.get_ref()),
                ));
                None
            }
        };
        let repeat = match (every, max_runs) {
            (Some(every), max_runs) => Some(Repeat { every, max_runs }),
            (None, Some(m)) if m > 1 => {
                errs.push(err(
                    n.max_runs.as_ref().map_or(node_offset, |v| v.span().start),
                    &k("max_runs"),
                    "max_runs > 1 needs `every` (the interval between runs)".into(),
                ));
                None
            }
            (None, _) => None,
        };
        let on_completion_only = n.on_completion_only.as_ref().is_some_and(|b| *b.get_ref());
        if on_completion_only && repeat.is_some() {
            errs.push(err(
                node_offset,
                &k("on_completion_only"),
                "a node that runs on completion only runs once: remove `every`/`max_runs`".into(),
            ));
        }
        let upstream = match &n.upstream {
            None => UpstreamRule::Succeeded,
            Some(v) => match v.get_ref().as_str() {
                "succeeded" => UpstreamRule::Succeeded,
                "finished" => UpstreamRule::Finished,
                other => {
                    errs.push(err(
                        v.span().start,
                        &k("upstream"),
                        format!("unknown upstream rule `{other}`: use \"succeeded\" (the default: run when every upstream node succeeded) or \"finished\" (run once every upstream node has finished, in any state)"),
                    ));
                    UpstreamRule::Succeeded
                }
            },
        };
        if upstream == UpstreamRule::Finished && n.after.is_empty() {
            errs.push(err(
                n.upstream.as_ref().map_or(node_offset, |v| v.span().start),
                &k("upstream"),
                "`upstream = \"finished\"` needs `after` (the nodes to wait for)".into(),
            ));
        }
        let mut spans = NodeSpans {
            id: n.id.span().start,
            task: n.task.span().start,
            node: node_offset,
            ..Default::default()
        };
        let mut params = serde_json::Map::new();
        for (key, value) in n.params {
            spans.params.insert(key.get_ref().clone(), key.span().start);
            match toml_to_json(&value) {
                Ok(v) => {
                    params.insert(key.into_inner(), v);
                }
                Err(e) => errs.push(err(
                    key.span().start,
                    &format!("node.{id}.params.{}", key.get_ref()),
                    e,
                )),
            }
        }
        spans.after = n.after.iter().map(|a| a.span().start).collect();
        nodes.push(NodeSpec {
            id,
            task: n.task.into_inner(),
            description: n.description,
            after: n.after.into_iter().map(Spanned::into_inner).collect(),
            params,
            policy,
            repeat,
            on_completion_only,
            upstream,
            machine: n.machine.map(Spanned::into_inner),
            line: source.line_of(node_offset),
            spans,
        });
    }
    let source_hash = format!("{:016x}", fnv1a(bytes));
    let spec = WorkflowSpec {
        name,
        description: wf.description,
        max_concurrency,
        schedule,
        nodes,
        source_path: path.to_string(),
        source_hash,
        source: Some(source),
        schedule_spans,
    };
    Ok((spec, errs))
}

fn parse_schedule(source: &SourceText, s: RawSchedule, errs: &mut Vec<Diagnostic>) -> Schedule {
    let path = &source.path;
    let mut time =
        |v: &Spanned<String>, key: &str| match NaiveTime::parse_from_str(v.get_ref(), "%H:%M") {
            Ok(t) => t,
            Err(_) => {
                errs.push(
                    Diagnostic::new(
                        path,
                        format!(
                            "invalid time `{}`: expected HH:MM in 24-hour format, e.g. \"07:00\"",
                            v.get_ref()
                        ),
                    )
                    .at(source, v.span().start)
                    .key(key),
                );
                NaiveTime::MIN
            }
        };
    let start = time(&s.start, "workflow.schedule.start");
    let stop = time(&s.stop, "workflow.schedule.stop");
    if start == stop && errs.is_empty() {
        errs.push(
            Diagnostic::new(
                path,
                "schedule start and stop are equal: the window would be empty",
            )
            .at(source, s.stop.span().start)
            .key("workflow.schedule.stop"),
        );
    }
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let days_offset = s.days.as_ref().map_or(0, |d| d.span().start);
    let days = match s.days {
        None => vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        Some(list) => {
            let mut out = Vec::new();
            for d in list.into_inner() {
                let lower = d.get_ref().to_ascii_lowercase();
                match DAYS
                    .iter()
                    .position(|x| *x == lower || full_day(x) == lower)
                {
                    Some(i) => out.push(weekday(i)),
                    None => errs.push(
                        Diagnostic::new(
                            path,
                            format!(
                                "unknown day `{}`: use mon, tue, wed, thu, fri, sat or sun",
                                d.get_ref()
                            ),
                        )
                        .at(source, d.span().start)
                        .key("workflow.schedule.days")
                        .help_opt(did_you_mean(
                            &lower,
                            DAYS.iter().copied().chain(DAYS.iter().map(|d| full_day(d))),
                        )),
                    ),
                }
            }
            if out.is_empty() && errs.is_empty() {
                errs.push(
                    Diagnostic::new(path, "schedule has no days: it would never run")
                        .at(source, days_offset)
                        .key("workflow.schedule.days"),
                );
            }
            out
        }
    };
    let timezone = match &s.timezone {
        None => Tz::UTC,
        Some(tz) => match tz.get_ref().parse::<Tz>() {
            Ok(t) => t,
            Err(_) => {
                let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                errs.push(
                    Diagnostic::new(
                        path,
                        format!(
                            "unknown timezone `{}`: use an IANA name such as \"Europe/London\"",
                            tz.get_ref()
                        ),
                    )
                    .at(source, tz.span().start)
                    .key("workflow.schedule.timezone")
                    .help_opt(did_you_mean(tz.get_ref(), names)),
                );
                Tz::UTC
            }
        },
    };
    Schedule {
        start,
        stop,
        days,
        timezone,
        after_workflows: s
            .after_workflows
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
    }
}

fn full_day(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

fn weekday(i: usize) -> Weekday {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][i % 7]
}

fn parse_retries(
    source: &SourceText,
    v: Option<&Spanned<i64>>,
    key: &str,
    errs: &mut Vec<Diagnostic>,
) -> Option<u32> {
    let v = v?;
    if (0..=100).contains(v.get_ref()) {
        Some(*v.get_ref() as u32)
    } else {
        errs.push(
            Diagnostic::new(
                &source.path,
                format!("retries must be between 0 and 100, got {}", v.get_ref()),
            )
            .at(source, v.span().start)
            .key(key),
        );
        None
    }
}

fn parse_dur(
    source: &SourceText,
    v: Option<&Spanned<String>>,
    key: &str,
    errs: &mut Vec<Diagnostic>,
) -> Option<Duration> {
    let v = v?;
    match parse_duration(v.get_ref()) {
        Ok(d) => Some(d),
        Err(e) => {
            errs.push(
                Diagnostic::new(&source.path, e)
                    .at(source, v.span().start)
                    .key(key),
            );
            None
        }
    }
}

/// Workflow names and node ids: non-empty, ASCII letters, digits, `_`, `-`.
pub fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// TOML value to JSON (params travel as JSON through the run store and to tasks).
pub fn toml_to_json(v: &toml::Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or("NaN or infinite numbers are not allowed in params")?,
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => serde_json::Value::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// FNV-1a, a stable content hash for recording which definition a run used.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WorkflowSpec, Diagnostics> {
        parse_workflow("w.toml", text.as_bytes(), Some("w"))
    }

    #[test]
    fn parses_a_full_workflow() {
        let w = parse(
            r#"
[workflow]
name = "w"
max_concurrency = 2
[workflow.schedule]
start = "07:00"
stop = "23:50"
days = ["mon", "fri"]
timezone = "Europe/London"
after_workflows = ["other"]
[defaults]
retries = 2
backoff = "1s"
timeout = "1m"
[[node]]
id = "a"
task = "noop"
[[node]]
id = "b"
task = "noop"
after = ["a"]
params = { x = 1 }
every = "2h"
max_runs = 5
retries = 0
"#,
        )
        .unwrap();
        assert_eq!(w.max_concurrency, 2);
        let s = w.schedule.unwrap();
        assert_eq!(s.days, vec![Weekday::Mon, Weekday::Fri]);
        assert_eq!(s.timezone, chrono_tz::Europe::London);
        assert_eq!(w.nodes[0].policy.retries, 2);
        assert_eq!(w.nodes[1].policy.retries, 0);
        assert_eq!(
            w.nodes[1].repeat,
            Some(Repeat {
                every: Duration::from_secs(7200),
                max_runs: Some(5)
            })
        );
        assert_eq!(w.nodes[1].line, 18);
        assert_eq!(w.nodes[1].spans.params.len(), 1);
    }

    #[test]
    fn collects_all_field_errors() {
        let e = parse(
            r#"[workflow]
name = "x"
[workflow.schedule]
start = "7am"
stop = "23:50"
days = ["mon", "fryday"]
timezone = "Europe/Londn"
[[node]]
id = "a"
task = "noop"
backoff = "3q"
"#,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("must equal the file stem"), "{text}");
        assert!(text.contains("w.toml:4:"), "{text}");
        assert!(text.contains("unknown day `fryday`"), "{text}");
        assert!(text.contains("did you mean `Europe/London`"), "{text}");
        assert!(text.contains("unknown unit `q`"), "{text}");
        assert_eq!(e.0.len(), 5);
    }

    #[test]
    fn empty_and_non_utf8_files_are_rejected() {
        assert!(parse("  \n")
            .unwrap_err()
            .to_string()
            .contains("file is empty"));
        let e = parse_workflow("w.toml", b"[workflow]\nname = \"\xff\"", Some("w")).unwrap_err();
        assert_eq!(e.0[0].line, Some(2));
        assert!(e.0[0].message.contains("UTF-8"));
    }

    #[test]
    fn unknown_node_key_names_line_and_suggests() {
        let e =
            parse("[workflow]\nname = \"w\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\nretires = 2\n")
                .unwrap_err();
        assert_eq!(e.0[0].line, Some(6));
        assert_eq!(e.0[0].help.as_deref(), Some("did you mean `retries`?"));
    }
}
