//! The task catalogue (`tasks/*.toml`): every task kind a workflow node may name, with its
//! description, default params, and either a built-in Rust handler or an external command.
//! Shipped files are embedded in the binary; `<home>/tasks/*.toml` adds or replaces entries.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::diagnostic::{from_toml_error, Diagnostic, Diagnostics, SourceText};
use super::spec::{toml_to_json, valid_ident};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogueFile {
    #[serde(default, rename = "task")]
    tasks: Vec<Spanned<RawTask>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    handler: Option<Spanned<String>>,
    command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    params: toml::Table,
}

/// How a task kind runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskImpl {
    /// A Rust handler registered in `src/tasks/mod.rs`.
    Handler(String),
    /// An external program; `{param}` placeholders are filled from the node's params.
    Command(Vec<String>),
}

/// One entry of the catalogue.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskDef {
    pub name: String,
    pub description: String,
    pub implementation: TaskImpl,
    /// Default params; node params override them key by key.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// File and line the entry came from.
    pub defined_at: String,
}

/// All task kinds known to this home, by name.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    tasks: BTreeMap<String, TaskDef>,
}

impl Catalogue {
    /// Adds the entries of one catalogue file; later files replace earlier entries of the same name.
    pub fn add_file(&mut self, path: &str, bytes: &[u8]) -> Result<(), Diagnostics> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Diagnostic::new(
                path,
                format!("file is not valid UTF-8 (offset {})", e.valid_up_to()),
            )
        })?;
        let source = SourceText::new(path, text);
        let raw: RawCatalogueFile =
            toml::from_str(text).map_err(|e| Diagnostics::from(from_toml_error(&source, &e)))?;
        let mut errs = Vec::new();
        let mut seen = BTreeMap::new();
        for spanned in raw.tasks {
            let at = spanned.span().start;
            let t = spanned.into_inner();
            let name = t.name.get_ref().clone();
            let here = |msg: String| {
                Diagnostic::new(path, msg)
                    .at(&source, at)
                    .key(format!("task.{name}"))
            };
            if !valid_ident(&name) {
                errs.push(here(format!(
                    "invalid task name `{name}`: use letters, digits, `_` and `-`"
                )));
            }
            if let Some(prev) = seen.insert(name.clone(), source.line_of(at)) {
                errs.push(here(format!(
                    "task `{name}` is defined twice in this file (first on line {prev})"
                )));
            }
            let implementation = match (t.handler, t.command) {
                (Some(h), None) => TaskImpl::Handler(h.into_inner()),
                (None, Some(c)) if c.get_ref().is_empty() => {
                    errs.push(here(
                        "`command` is empty: give the program and its arguments".into(),
                    ));
                    continue;
                }
                (None, Some(c)) => TaskImpl::Command(c.into_inner()),
                (Some(_), Some(_)) => {
                    errs.push(here(
                        "a task has either `handler` or `command`, not both".into(),
                    ));
                    continue;
                }
                (None, None) => {
                    errs.push(here(
                        "a task needs `handler` (built-in Rust) or `command` (external program)"
                            .into(),
                    ));
                    continue;
                }
            };
            let mut params = serde_json::Map::new();
            for (k, v) in &t.params {
                match toml_to_json(v) {
                    Ok(j) => {
                        params.insert(k.clone(), j);
                    }
                    Err(e) => errs.push(here(format!("param `{k}`: {e}"))),
                }
            }
            if let TaskImpl::Command(argv) = &implementation {
                for arg in argv {
                    if let Err(e) = super::external::placeholders(arg) {
                        errs.push(here(e));
                        continue;
                    }
                    for p in super::external::placeholders(arg).unwrap_or_default() {
                        if !params.contains_key(&p)
                            && !super::external::BUILTIN_PLACEHOLDERS.contains(&p.as_str())
                        {
                            errs.push(here(format!(
                                "command uses `{{{p}}}` but the task declares no param `{p}` (declare it in `params`, or use one of {})",
                                super::external::BUILTIN_PLACEHOLDERS.join(", ")
                            )));
                        }
                    }
                }
            }
            let defined_at = format!("{path}:{}", source.line_of(at));
            self.tasks.insert(
                name.clone(),
                TaskDef {
                    name,
                    description: t.description,
                    implementation,
                    params,
                    defined_at,
                },
            );
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(errs))
        }
    }

    pub fn get(&self, name: &str) -> Option<&TaskDef> {
        self.tasks.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tasks.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &TaskDef> {
        self.tasks.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_handlers_and_commands() {
        let mut c = Catalogue::default();
        c.add_file(
            "t.toml",
            br#"
[[task]]
name = "say_hello"
description = "an external node"
command = ["sh", "-c", "echo {greeting} >> {file}"]
params = { greeting = "hello", file = "/tmp/out" }
[[task]]
name = "noop"
handler = "noop"
"#,
        )
        .unwrap();
        assert_eq!(
            c.get("noop").unwrap().implementation,
            TaskImpl::Handler("noop".into())
        );
        assert_eq!(c.get("say_hello").unwrap().params["greeting"], "hello");
        assert_eq!(c.get("say_hello").unwrap().defined_at, "t.toml:2");
    }

    #[test]
    fn rejects_undeclared_placeholders_and_missing_impl() {
        let mut c = Catalogue::default();
        let e = c
            .add_file("t.toml", b"[[task]]\nname = \"a\"\ncommand = [\"echo\", \"{who}\"]\n[[task]]\nname = \"b\"\n")
            .unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert!(e.0[0].message.contains("`{who}`"));
        assert!(e.0[1].message.contains("needs `handler`"));
        assert_eq!(e.0[1].line, Some(4));
    }
}
