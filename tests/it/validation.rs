//! `systrade validate`: one test per validation error. Each writes a broken workflow (or task
//! catalogue) file, runs the real binary and checks the exit code (2), that the message names the
//! file and the line (`FILE:LINE:`), the offending key or id, and a "did you mean" where one
//! applies. Also: every error of a file is reported, the `--json` shape, that validation writes no
//! state, and that `run` refuses an invalid workflow without recording a run.

use serde_json::Value;

use crate::support::{stderr, stdout, TestHome};

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in:\n{text}"))
        + 1
}

/// Writes `<home>/workflows/NAME.toml`, validates it by name and returns stderr, asserting exit 2.
fn invalid(h: &TestHome, name: &str, text: &str) -> String {
    h.workflow(name, text);
    let out = h.run(&["validate", name]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "validate {name} should fail with 2\nstderr:\n{err}"
    );
    assert!(
        err.contains("1 error found") || err.contains("errors found"),
        "no error count:\n{err}"
    );
    err
}

/// Asserts stderr has a diagnostic at `NAME.toml:LINE:` (with the key), containing every needle.
fn assert_diag(err: &str, file: &str, line: usize, key: &str, needles: &[&str]) {
    let at = format!("{file}:{line}:");
    let diag = err
        .split("error: ")
        .find(|d| d.contains(&at))
        .unwrap_or_else(|| panic!("no diagnostic at `{at}` in:\n{err}"));
    assert!(
        diag.contains(&format!("`{key}`")),
        "diagnostic at {at} does not name key `{key}`:\n{diag}"
    );
    for n in needles {
        assert!(diag.contains(n), "diagnostic at {at} lacks `{n}`:\n{diag}");
    }
}

const NOOP: &str = "[[node]]\nid = \"a\"\ntask = \"noop\"\n";

#[test]
fn cycle_is_reported_with_its_path() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"cyc\"\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\nafter = [\"c\"]\n\n\
                [[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"a\"]\n\n[[node]]\nid = \"c\"\ntask = \"noop\"\nafter = [\"b\"]\n\n\
                [[node]]\nid = \"free\"\ntask = \"noop\"\n";
    let err = invalid(&h, "cyc", text);
    assert_diag(
        &err,
        "cyc.toml",
        4,
        "node.a.after",
        &["cycle in `after`: a -> b -> c -> a"],
    );
    assert!(
        !err.contains("free"),
        "a node outside the cycle is not part of the path:\n{err}"
    );
}

#[test]
fn unknown_task_suggests_the_closest() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"a\"\ntask = \"nop\"\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        line_of(text, "\"nop\""),
        "node.a.task",
        &["unknown task `nop`", "did you mean `noop`?"],
    );
}

#[test]
fn unknown_after_suggests_the_closest() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"alpha\"\ntask = \"noop\"\n\n[[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"alpah\"]\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        line_of(text, "alpah"),
        "node.b.after",
        &["unknown node `alpah`", "did you mean `alpha`?"],
    );
}

#[test]
fn self_after_is_rejected() {
    let h = TestHome::new();
    let text =
        "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\nafter = [\"a\"]\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        7,
        "node.a.after",
        &["node `a` lists itself in `after`"],
    );
}

#[test]
fn duplicate_node_id_names_the_first_definition() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        9,
        "node.a.id",
        &["duplicate node id `a`", "first defined on line 4"],
    );
}

#[test]
fn unknown_key_in_workflow_table_suggests_the_closest() {
    let h = TestHome::new();
    let text = format!("[workflow]\nname = \"t\"\nmax_concurency = 2\n\n{NOOP}");
    let err = invalid(&h, "t", &text);
    assert_diag(
        &err,
        "t.toml",
        3,
        "workflow.max_concurency",
        &["unknown key", "did you mean `max_concurrency`?"],
    );
}

#[test]
fn unknown_key_in_defaults_suggests_the_closest() {
    let h = TestHome::new();
    let text =
        format!("[workflow]\nname = \"t\"\n\n[defaults]\nbackoff = \"1s\"\nretires = 2\n\n{NOOP}");
    let err = invalid(&h, "t", &text);
    assert_diag(
        &err,
        "t.toml",
        6,
        "defaults.retires",
        &["unknown key", "did you mean `retries`?"],
    );
}

#[test]
fn unknown_key_in_node_suggests_the_closest() {
    let h = TestHome::new();
    let text =
        "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\ntimeot = \"1s\"\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        7,
        "node.a.timeot",
        &["unknown key", "did you mean `timeout`?"],
    );
}

#[test]
fn every_unknown_key_and_wrong_type_is_reported_with_its_full_path() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"t\"\nmax_concurency = 2\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\n\
                after = 42\nafer = [\"x\"]\n\n[[node]]\nid = \"b\"\ntask = \"noop\"\non_completion_only = \"yes\"\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        3,
        "workflow.max_concurency",
        &["unknown key"],
    );
    assert_diag(
        &err,
        "t.toml",
        8,
        "node.a.after",
        &["expected an array of strings, found an integer `42`"],
    );
    assert_diag(
        &err,
        "t.toml",
        9,
        "node.a.afer",
        &["unknown key `afer` in node `a`", "did you mean `after`?"],
    );
    assert_diag(
        &err,
        "t.toml",
        14,
        "node.b.on_completion_only",
        &["expected true or false, found a string `\"yes\"`"],
    );
    assert!(err.contains("4 errors"), "{err}");
}

#[test]
fn bad_duration_names_the_unit() {
    let h = TestHome::new();
    let text =
        "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\ntimeout = \"3q\"\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        7,
        "node.a.timeout",
        &["invalid duration `3q`", "unknown unit `q`"],
    );
}

#[test]
fn bad_time_asks_for_hh_mm() {
    let h = TestHome::new();
    let text = format!("[workflow]\nname = \"t\"\n\n[workflow.schedule]\nstart = \"7am\"\nstop = \"23:00\"\n\n{NOOP}");
    let err = invalid(&h, "t", &text);
    assert_diag(
        &err,
        "t.toml",
        5,
        "workflow.schedule.start",
        &["invalid time `7am`", "HH:MM"],
    );
}

#[test]
fn bad_day_suggests_the_closest() {
    let h = TestHome::new();
    let text = format!("[workflow]\nname = \"t\"\n\n[workflow.schedule]\nstart = \"07:00\"\nstop = \"23:00\"\ndays = [\"mon\", \"fryday\"]\n\n{NOOP}");
    let err = invalid(&h, "t", &text);
    assert_diag(
        &err,
        "t.toml",
        7,
        "workflow.schedule.days",
        &["unknown day `fryday`", "did you mean `friday`?"],
    );
}

#[test]
fn empty_day_list_is_reported_on_its_line() {
    let h = TestHome::new();
    let text = format!("[workflow]\nname = \"t\"\n\n[workflow.schedule]\nstart = \"07:00\"\nstop = \"23:00\"\ndays = []\n\n{NOOP}");
    let err = invalid(&h, "t", &text);
    assert_diag(&err, "t.toml", 7, "workflow.schedule.days", &["no days"]);
}

#[test]
fn bad_timezone_suggests_the_iana_name() {
    let h = TestHome::new();
    let text = format!("[workflow]\nname = \"t\"\n\n[workflow.schedule]\nstart = \"07:00\"\nstop = \"23:00\"\ntimezone = \"Europe/Londn\"\n\n{NOOP}");
    let err = invalid(&h, "t", &text);
    assert_diag(
        &err,
        "t.toml",
        7,
        "workflow.schedule.timezone",
        &[
            "unknown timezone `Europe/Londn`",
            "did you mean `Europe/London`?",
        ],
    );
}

#[test]
fn name_must_equal_the_file_stem() {
    let h = TestHome::new();
    let text = format!("# a comment\n[workflow]\nname = \"other\"\n\n{NOOP}");
    let err = invalid(&h, "stem", &text);
    assert_diag(
        &err,
        "stem.toml",
        3,
        "workflow.name",
        &["`other` must equal the file stem `stem`"],
    );
}

#[test]
fn empty_file_is_rejected() {
    let h = TestHome::new();
    let err = invalid(&h, "empty", "  \n\n");
    assert!(err.contains("empty.toml: file is empty"), "{err}");
    assert!(
        err.contains("[workflow]") && err.contains("[[node]]"),
        "says what a workflow needs:\n{err}"
    );
}

#[test]
fn non_utf8_file_names_the_line_of_the_bad_byte() {
    let h = TestHome::new();
    let p = h.workflow("bin", "");
    std::fs::write(
        &p,
        b"[workflow]\nname = \"bin\"\n# caf\xe9\n[[node]]\nid = \"a\"\ntask = \"noop\"\n",
    )
    .unwrap();
    let out = h.run(&["validate", "bin"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bin.toml:3:") && err.contains("not valid UTF-8"),
        "{err}"
    );
}

#[test]
fn unknown_param_of_an_external_command_task_suggests_the_closest() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"hi\"\ntask = \"say_hello\"\nparams = { greting = \"x\" }\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        7,
        "node.hi.params.greting",
        &[
            "unknown param `greting` for task `say_hello`",
            "did you mean `greeting`?",
        ],
    );
}

#[test]
fn unknown_param_of_a_rust_task_suggests_the_closest() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\nparams = { outptu = 1 }\n";
    let err = invalid(&h, "t", text);
    assert_diag(
        &err,
        "t.toml",
        7,
        "node.a.params",
        &["task `noop`", "`outptu`", "did you mean `output`?"],
    );
}

#[test]
fn undeclared_placeholder_in_a_home_task_file() {
    let h = TestHome::new();
    let text =
        "# my tasks\n\n[[task]]\nname = \"greet\"\ncommand = [\"echo\", \"{who}\", \"{run_id}\"]\n";
    h.tasks("mine", text);
    // Any validation loads the catalogue, so even a shipped workflow reports the broken task file.
    let out = h.run(&["validate", "example"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_diag(
        &err,
        "mine.toml",
        3,
        "task.greet",
        &["`{who}`", "declares no param `who`"],
    );
    assert!(
        !err.contains("`{run_id}`"),
        "built-in placeholders are allowed:\n{err}"
    );
    // Declaring the param fixes it.
    h.tasks("mine", &format!("{text}params = {{ who = \"world\" }}\n"));
    let out = h.run(&["validate", "example"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn every_without_max_runs_needs_a_schedule() {
    let h = TestHome::new();
    let node = "[[node]]\nid = \"poll\"\ntask = \"noop\"\nevery = \"1s\"\n";
    let err = invalid(&h, "t", &format!("[workflow]\nname = \"t\"\n\n{node}"));
    assert_diag(
        &err,
        "t.toml",
        4,
        "node.poll.max_runs",
        &["repeats `every` without `max_runs`", "max_runs = N"],
    );
    // With a schedule, the window's stop time ends it: valid.
    h.workflow("t", &format!("[workflow]\nname = \"t\"\n[workflow.schedule]\nstart = \"07:00\"\nstop = \"08:00\"\n\n{node}"));
    assert_eq!(h.run(&["validate", "t"]).status.code(), Some(0));
}

#[test]
fn on_completion_only_node_cannot_have_after() {
    let h = TestHome::new();
    let text = format!("[workflow]\nname = \"t\"\n\n{NOOP}\n[[node]]\nid = \"last\"\ntask = \"noop\"\non_completion_only = true\nafter = [\"a\"]\n");
    let err = invalid(&h, "t", &text);
    assert_diag(
        &err,
        "t.toml",
        line_of(&text, "\"last\"") - 1,
        "node.last.after",
        &["on completion only", "cannot also have `after`"],
    );
}

#[test]
fn unknown_workflow_in_after_workflows_suggests_the_closest() {
    let h = TestHome::new();
    let text = format!(
        "[workflow]\nname = \"t\"\n\n[workflow.schedule]\nstart = \"07:00\"\nstop = \"23:00\"\nafter_workflows = [\n  \"example\",\n  \"dayly\",\n]\n\n{NOOP}"
    );
    let err = invalid(&h, "t", &text);
    assert_diag(
        &err,
        "t.toml",
        9,
        "workflow.schedule.after_workflows",
        &["unknown workflow `dayly`", "did you mean `daily`?"],
    );
    assert!(
        !err.contains("`example`"),
        "a known workflow is fine:\n{err}"
    );
}

#[test]
fn every_error_of_a_file_is_reported() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"many\"\nmax_concurrency = 0\n\n[workflow.schedule]\nstart = \"7am\"\nstop = \"25:00\"\n\
                days = [\"funday\"]\ntimezone = \"Mars/Base\"\n\n[defaults]\ntimeout = \"0s\"\n\n\
                [[node]]\nid = \"a\"\ntask = \"noop\"\nbackoff = \"3q\"\nretries = -1\n";
    let err = invalid(&h, "many", text);
    assert!(err.contains("8 errors found"), "{err}");
    for (line, key) in [
        (3, "workflow.max_concurrency"),
        (6, "workflow.schedule.start"),
        (7, "workflow.schedule.stop"),
        (8, "workflow.schedule.days"),
        (9, "workflow.schedule.timezone"),
        (12, "defaults.timeout"),
        (17, "node.a.backoff"),
        (18, "node.a.retries"),
    ] {
        assert_diag(&err, "many.toml", line, key, &[]);
    }
    let v = h.json(&["validate", "many", "--json"]);
    assert_eq!(v["errors"].as_array().unwrap().len(), 8, "{v:#}");
}

#[test]
fn json_output_lists_structured_errors() {
    let h = TestHome::new();
    let text = "[workflow]\nname = \"t\"\n\n[[node]]\nid = \"a\"\ntask = \"nop\"\n\n[[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"zzz\"]\n";
    h.workflow("t", text);
    let out = h.run(&["validate", "t", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["valid"], false);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{v:#}");
    for e in errors {
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["column", "file", "help", "key", "line", "message"]);
        assert!(e["file"].as_str().unwrap().ends_with("t.toml"));
        assert!(e["column"].as_u64().unwrap() >= 1);
    }
    let task = errors
        .iter()
        .find(|e| e["key"] == "node.a.task")
        .expect("unknown task error");
    assert_eq!(task["line"], 6);
    assert_eq!(task["help"], "did you mean `noop`?");
    let after = errors
        .iter()
        .find(|e| e["key"] == "node.b.after")
        .expect("unknown after error");
    assert_eq!(after["line"], 11);
    assert!(after["message"].as_str().unwrap().contains("`zzz`"));
    assert_eq!(after["help"], Value::Null, "nothing close to `zzz`");
    assert_eq!(v["workflows"][0]["valid"], false);
}

#[test]
fn a_valid_file_exits_zero() {
    let h = TestHome::new();
    h.workflow("good", "[workflow]\nname = \"good\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\n[[node]]\nid = \"b\"\ntask = \"sleep\"\nafter = [\"a\"]\n");
    let out = h.run(&["validate", "good"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("good.toml: ok (2 nodes)"),
        "{}",
        stdout(&out)
    );
    let v = h.json(&["validate", "good", "--json"]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["errors"], serde_json::json!([]));
    assert_eq!(v["workflows"][0]["nodes"], 2);
}

#[test]
fn a_file_outside_the_home_is_named_as_given() {
    let h = TestHome::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("side.toml"),
        "[workflow]\nname = \"side\"\n\n[[node]]\nid = \"a\"\ntask = \"nop\"\n",
    )
    .unwrap();
    let out = h
        .cmd()
        .current_dir(dir.path())
        .args(["validate", "./side.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("./side.toml:6:"), "{}", stderr(&out));
    let out = h.run(&[
        "validate",
        &dir.path().join("missing.toml").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("missing.toml: cannot read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn validate_writes_no_state() {
    let h = TestHome::new();
    h.workflow(
        "bad",
        "[workflow]\nname = \"bad\"\n[[node]]\nid = \"a\"\ntask = \"nop\"\n",
    );
    assert_eq!(h.run(&["validate", "bad"]).status.code(), Some(2));
    assert_eq!(h.run(&["validate", "example"]).status.code(), Some(0));
    assert_eq!(
        h.run(&["validate", "--all", "--json"]).status.code(),
        Some(2)
    );
    let mut entries: Vec<String> = std::fs::read_dir(h.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["workflows"], "validate created files in the home");
}

#[test]
fn validate_all_checks_the_shipped_workflows() {
    let h = TestHome::new();
    let out = h.run(&["validate", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("builtin:workflows/daily.toml: ok")
            && text.contains("builtin:workflows/example.toml: ok"),
        "{text}"
    );
    // A broken home workflow fails --all, the others are still checked.
    h.workflow(
        "broken",
        "[workflow]\nname = \"broken\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\nafter = [\"a\"]\n",
    );
    let v = h.json(&["validate", "--all", "--json"]);
    assert_eq!(v["valid"], false);
    let by_name = |n: &str| {
        v["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["workflow"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("daily")["valid"], true);
    assert_eq!(by_name("broken")["valid"], false);
    assert_eq!(v["errors"][0]["line"], 6);
}

#[test]
fn run_of_an_invalid_workflow_exits_2_and_records_no_run() {
    let h = TestHome::new();
    h.workflow("bad", "[workflow]\nname = \"bad\"\n\n[[node]]\nid = \"a\"\ntask = \"noop\"\nafter = [\"b\"]\n[[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"a\"]\n");
    let out = h.run(&["run", "bad"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bad.toml:4:") && err.contains("cycle in `after`: a -> b -> a"),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(
        !h.path().join("systrade.db").exists(),
        "invalid input must not create the run store"
    );
    let out = h.run(&["trigger", "bad", "a"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !h.path().join("systrade.db").exists(),
        "invalid input must not create the run store"
    );
    assert_eq!(h.json(&["runs", "--json"]), serde_json::json!([]));
}

#[test]
fn field_task_and_graph_errors_are_reported_together_in_line_order() {
    let h = TestHome::new();
    let path = h.workflow(
        "mixed",
        "[workflow]\nname = \"mixed\"\n[[node]]\nid = \"a\"\ntask = \"nop\"\nbackoff = \"3q\"\n[[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"zz\"]\n",
    );
    let out = h.run(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let task = err.find("mixed.toml:5:").expect(&err);
    let backoff = err.find("mixed.toml:6:").expect(&err);
    let after = err.find("mixed.toml:10:").expect(&err);
    assert!(
        task < backoff && backoff < after,
        "errors must come in line order:\n{err}"
    );
    assert!(
        err.contains("unknown task `nop`")
            && err.contains("unknown unit `q`")
            && err.contains("unknown node `zz`"),
        "{err}"
    );
    assert!(err.contains("3 errors found"), "{err}");
}

#[test]
fn unknown_workflow_name_suggests_the_closest() {
    let h = TestHome::new();
    for cmd in ["run", "validate", "dag"] {
        let out = h.run(&[cmd, "dayly"]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        assert!(
            err.contains("no workflow named `dayly`") && err.contains("did you mean `daily`?"),
            "{cmd}: {err}"
        );
    }
    let out = h.run(&["run", "zzzz"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("known workflows: daily, example"),
        "{}",
        stderr(&out)
    );
}
