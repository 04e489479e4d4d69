//! The shape of a workflow file, checked before it is read into its typed form: every unknown
//! key and every value of the wrong type is reported — all of them, not the first — each with
//! its full path (`node.a.afer`, `workflow.schedule.start`), its line, what was expected and,
//! for an unknown key, the closest known one.

use super::diagnostic::{did_you_mean, Diagnostic, SourceText};

/// What a key's value must be.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    Table,
    Strings,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Int => "an integer",
            Kind::Bool => "true or false",
            Kind::Table => "a table",
            Kind::Strings => "an array of strings",
        }
    }

    fn accepts(self, v: &toml::Value) -> bool {
        match self {
            Kind::Str => v.is_str(),
            Kind::Int => v.is_integer(),
            Kind::Bool => v.is_bool(),
            Kind::Table => v.is_table(),
            Kind::Strings => v
                .as_array()
                .is_some_and(|a| a.iter().all(toml::Value::is_str)),
        }
    }
}

const WORKFLOW: &[(&str, Kind)] = &[
    ("name", Kind::Str),
    ("description", Kind::Str),
    ("max_concurrency", Kind::Int),
    ("schedule", Kind::Table),
];
const SCHEDULE: &[(&str, Kind)] = &[
    ("start", Kind::Str),
    ("stop", Kind::Str),
    ("days", Kind::Strings),
    ("timezone", Kind::Str),
    ("after_workflows", Kind::Strings),
];
const DEFAULTS: &[(&str, Kind)] = &[
    ("retries", Kind::Int),
    ("backoff", Kind::Str),
    ("timeout", Kind::Str),
];
const NODE: &[(&str, Kind)] = &[
    ("id", Kind::Str),
    ("task", Kind::Str),
    ("description", Kind::Str),
    ("after", Kind::Strings),
    ("params", Kind::Table),
    ("retries", Kind::Int),
    ("backoff", Kind::Str),
    ("timeout", Kind::Str),
    ("every", Kind::Str),
    ("max_runs", Kind::Int),
    ("on_completion_only", Kind::Bool),
    ("upstream", Kind::Str),
    ("machine", Kind::Str),
];

/// A value as an error message shows it: its type, and itself when short.
fn found(v: &toml::Value) -> String {
    let kind = match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    };
    let shown = v.to_string();
    if shown.chars().count() <= 40 && !v.is_table() {
        format!("{kind} `{shown}`")
    } else {
        kind.to_string()
    }
}

/// Where the `n`-th (0-based) `[[node]]` header is, by line index (0-based).
fn node_headers(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[node]]")
        .map(|(i, _)| i)
        .collect()
}

/// The 1-based line of `key = …` in the table starting at line index `start` (the header), or
/// of the header when the key is not found.
fn line_of(text: &str, start: Option<usize>, key: &str) -> Option<usize> {
    let from = start.map_or(0, |s| s + 1);
    for (i, line) in text.lines().enumerate().skip(from) {
        let t = line.trim();
        if t.starts_with('[') && (start.is_some() || i > 0) {
            break;
        }
        if t.split('=').next().map(str::trim) == Some(key) {
            return Some(i + 1);
        }
    }
    start.map(|s| s + 1)
}

/// The header line index of `[name]`.
fn table_header(text: &str, name: &str) -> Option<usize> {
    text.lines().position(|l| l.trim() == format!("[{name}]"))
}

struct Checker<'a> {
    path: &'a str,
    text: &'a str,
    source: &'a SourceText,
    errors: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn diag(&self, line: Option<usize>, key: String, message: String) -> Diagnostic {
        let mut d = Diagnostic::new(self.path, message).key(key);
        if let Some(line) = line {
            let offset: usize = self
                .text
                .lines()
                .take(line - 1)
                .map(|l| l.len() + 1)
                .sum::<usize>()
                + self
                    .text
                    .lines()
                    .nth(line - 1)
                    .map_or(0, |l| l.len() - l.trim_start().len());
            d = d.at(self.source, offset);
        }
        d
    }

    /// Checks `table` (at `prefix`, whose header is line index `header`) against `known`.
    fn table(
        &mut self,
        table: &toml::Table,
        prefix: &str,
        what: &str,
        header: Option<usize>,
        known: &[(&str, Kind)],
    ) {
        for (key, value) in table {
            // Only a key with an error needs its line.
            let line = || line_of(self.text, header, key);
            match known.iter().find(|(k, _)| k == key) {
                None => {
                    let names = known.iter().map(|(k, _)| *k);
                    let d = self
                        .diag(
                            line(),
                            format!("{prefix}.{key}"),
                            format!(
                                "unknown key `{key}` in {what}; expected one of: {}",
                                known.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                            ),
                        )
                        .help_opt(did_you_mean(key, names));
                    self.errors.push(d);
                }
                Some((_, kind)) if !kind.accepts(value) => {
                    let d = self.diag(
                        line(),
                        format!("{prefix}.{key}"),
                        format!("expected {}, found {}", kind.expected(), found(value)),
                    );
                    self.errors.push(d);
                }
                Some(_) => {}
            }
        }
    }
}

/// Every unknown key and wrongly typed value of the workflow file `text`; empty when the file
/// is not TOML at all (the reader reports that) or has the right shape.
pub(super) fn shape_errors(path: &str, source: &SourceText, text: &str) -> Vec<Diagnostic> {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut c = Checker {
        path,
        text,
        source,
        errors: Vec::new(),
    };
    let top = [
        ("workflow", Kind::Table),
        ("defaults", Kind::Table),
        ("node", Kind::Table),
    ];
    for (key, value) in &doc {
        match key.as_str() {
            "workflow" => match value.as_table() {
                Some(t) => {
                    let header = table_header(text, "workflow");
                    c.table(t, "workflow", "[workflow]", header, WORKFLOW);
                    if let Some(s) = t.get("schedule").and_then(toml::Value::as_table) {
                        let header = table_header(text, "workflow.schedule");
                        c.table(
                            s,
                            "workflow.schedule",
                            "[workflow.schedule]",
                            header,
                            SCHEDULE,
                        );
                    }
                }
                None => {
                    let d = c.diag(
                        line_of(text, None, key),
                        "workflow".into(),
                        format!("expected a table, found {}", found(value)),
                    );
                    c.errors.push(d);
                }
            },
            "defaults" => match value.as_table() {
                Some(t) => {
                    let header = table_header(text, "defaults");
                    c.table(t, "defaults", "[defaults]", header, DEFAULTS);
                }
                None => {
                    let d = c.diag(
                        line_of(text, None, key),
                        "defaults".into(),
                        format!("expected a table, found {}", found(value)),
                    );
                    c.errors.push(d);
                }
            },
            "node" => {
                let headers = node_headers(text);
                let Some(nodes) = value.as_array() else {
                    let d = c.diag(
                        line_of(text, None, key),
                        "node".into(),
                        format!("expected [[node]] tables, found {}", found(value)),
                    );
                    c.errors.push(d);
                    continue;
                };
                for (n, node) in nodes.iter().enumerate() {
                    let Some(t) = node.as_table() else {
                        continue;
                    };
                    let name = t
                        .get("id")
                        .and_then(toml::Value::as_str)
                        .map_or_else(|| format!("node[{n}]"), |id| format!("node.{id}"));
                    let what = t
                        .get("id")
                        .and_then(toml::Value::as_str)
                        .map_or_else(|| format!("node {}", n + 1), |id| format!("node `{id}`"));
                    c.table(t, &name, &what, headers.get(n).copied(), NODE);
                }
            }
            other => {
                let d = c
                    .diag(
                        line_of(text, None, other).or_else(|| table_header(text, other).map(|h| h + 1)),
                        other.to_string(),
                        format!(
                            "unknown key `{other}`; a workflow file has [workflow], [defaults] and [[node]]"
                        ),
                    )
                    .help_opt(did_you_mean(other, top.iter().map(|(k, _)| *k)));
                c.errors.push(d);
            }
        }
    }
    c.errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Vec<Diagnostic> {
        let source = SourceText::new("w.toml", text);
        shape_errors("w.toml", &source, text)
    }

    #[test]
    fn every_unknown_key_and_wrong_type_is_reported_with_its_path_and_line() {
        let text = "[workflow]\nname = \"w\"\nmax_concurency = 2\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\n\
                    after = 42\nafer = [\"x\"]\n\n[[node]]\nid = \"b\"\ntask = \"noop\"\nretries = \"3\"\n";
        let mut d = check(text);
        d.sort_by_key(|d| d.line);
        let got: Vec<(Option<usize>, Option<&str>)> =
            d.iter().map(|d| (d.line, d.key.as_deref())).collect();
        assert_eq!(
            got,
            [
                (Some(3), Some("workflow.max_concurency")),
                (Some(8), Some("node.a.after")),
                (Some(9), Some("node.a.afer")),
                (Some(14), Some("node.b.retries")),
            ]
        );
        assert!(
            d[1].message
                .contains("expected an array of strings, found an integer `42`"),
            "{}",
            d[1]
        );
        assert_eq!(d[2].help.as_deref(), Some("did you mean `after`?"));
        assert!(
            d[3].message
                .contains("expected an integer, found a string `\"3\"`"),
            "{}",
            d[3]
        );
    }

    #[test]
    fn a_well_formed_file_has_no_shape_errors() {
        let text = "[workflow]\nname = \"w\"\n[workflow.schedule]\nstart = \"07:00\"\nstop = \"08:00\"\n\
                    [defaults]\nretries = 1\n[[node]]\nid = \"a\"\ntask = \"noop\"\nparams = { x = 1 }\n";
        assert!(check(text).is_empty(), "{:?}", check(text));
    }
}
