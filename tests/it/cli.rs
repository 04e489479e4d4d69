//! The command-line surface: every command's exit code and the JSON it prints (the schemas that
//! scripts rely on), the home layout, configuration layering and its errors, the task catalogue,
//! logs and their filters, workflow overrides and file paths, and the demo.

use std::path::Path;

use serde_json::{json, Value};

use crate::support::{stderr, stdout, TestHome};

/// Sorted keys of a JSON object.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

fn has_keys(v: &Value, wanted: &[&str]) {
    for k in wanted {
        assert!(v.get(*k).is_some(), "missing `{k}` in {v:#}");
    }
}

/// Runs `example` and returns its run id.
fn run_example(h: &TestHome) -> i64 {
    let out = h.run(&["run", "example", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["run_id"].as_i64().unwrap()
}

#[test]
fn init_creates_the_home_layout() {
    let h = TestHome::new();
    let out = h.run(&["init", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        keys(&v),
        ["created", "damaged_store_moved", "database", "home"]
    );
    assert_eq!(v["damaged_store_moved"], Value::Null);
    assert_eq!(Path::new(v["home"].as_str().unwrap()), h.path());
    assert_eq!(
        Path::new(v["database"].as_str().unwrap()),
        h.path().join("systrade.db")
    );
    for p in ["config.toml", "workflows", "tasks", "systrade.db"] {
        assert!(h.path().join(p).exists(), "{p} not created");
    }
    let created: Vec<&str> = v["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        created.iter().any(|c| c.ends_with("config.toml"))
            && created.iter().any(|c| c.ends_with("workflows")),
        "{created:?}"
    );
    // The template is valid config; a second init keeps the user's edits and creates nothing.
    assert_eq!(h.run(&["config", "show"]).status.code(), Some(0));
    std::fs::write(
        h.path().join("config.toml"),
        "[logging]\nlevel = \"warn\"\n",
    )
    .unwrap();
    let again = h.json(&["init", "--json"]);
    assert_eq!(again["created"], json!([]));
    assert_eq!(
        std::fs::read_to_string(h.path().join("config.toml")).unwrap(),
        "[logging]\nlevel = \"warn\"\n"
    );
}

#[test]
fn run_json_is_a_run_summary() {
    let h = TestHome::new();
    let out = h.run(&["run", "example", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON summary");
    has_keys(
        &v,
        &[
            "run_id", "workflow", "status", "nodes", "seconds", "message",
        ],
    );
    assert_eq!(v["run_id"], 1);
    assert_eq!(v["workflow"], "example");
    assert_eq!(v["status"], "succeeded");
    let nodes = v["nodes"].as_object().unwrap();
    let mut ids: Vec<&str> = nodes.keys().map(String::as_str).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "flaky",
            "heartbeat",
            "hello",
            "join",
            "pause",
            "start",
            "wrap_up"
        ]
    );
    assert!(nodes.values().all(|s| s == "succeeded"), "{v:#}");
    // `pause` sleeps 200ms, so the run cannot take less.
    assert!(v["seconds"].as_f64().unwrap() >= 0.2, "{v:#}");
    assert_eq!(run_example(&h), 2, "run ids increase");
}

#[test]
fn runs_json_lists_run_records() {
    let h = TestHome::new();
    assert_eq!(h.json(&["runs", "--json"]), json!([]));
    let id = run_example(&h);
    let runs = h.json(&["runs", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(
        keys(r),
        [
            "definition_hash",
            "definition_path",
            "finished_at",
            "host",
            "id",
            "message",
            "parent_run_id",
            "pid",
            "selection",
            "started_at",
            "status",
            "trigger",
            "workflow"
        ]
    );
    assert_eq!(r["id"], id);
    assert_eq!(r["workflow"], "example");
    assert_eq!(r["trigger"], "manual");
    assert_eq!(r["status"], "succeeded");
    assert_eq!(r["parent_run_id"], Value::Null);
    assert_eq!(r["definition_path"], "builtin:workflows/example.toml");
    assert_eq!(r["definition_hash"].as_str().unwrap().len(), 16);
    assert!(r["pid"].as_i64().unwrap() > 0 && !r["host"].as_str().unwrap().is_empty());
    assert!(r["finished_at"].as_str().unwrap() >= r["started_at"].as_str().unwrap());
    // --workflow filters.
    assert_eq!(
        h.json(&["runs", "--workflow", "daily", "--json"]),
        json!([])
    );
}

#[test]
fn show_json_has_run_nodes_and_attempts() {
    let h = TestHome::new();
    let id = run_example(&h);
    let v = h.json(&["show", &id.to_string(), "--json"]);
    assert_eq!(keys(&v), ["attempts", "nodes", "run"]);
    assert_eq!(v["run"]["id"], id);
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 7);
    for n in nodes {
        has_keys(
            n,
            &[
                "node_id",
                "task",
                "state",
                "executions",
                "attempts",
                "started_at",
                "finished_at",
                "output",
                "error",
                "reused_from",
            ],
        );
        assert_eq!(n["state"], "succeeded");
        assert_eq!(n["reused_from"], Value::Null);
    }
    let node = |id: &str| nodes.iter().find(|n| n["node_id"] == id).unwrap();
    assert_eq!(node("start")["output"], json!({ "greeting": "hello" }));
    assert_eq!(node("flaky")["attempts"], 2);
    assert_eq!(node("heartbeat")["executions"], 3);
    assert_eq!(node("hello")["task"], "say_hello");
    let attempts = v["attempts"].as_array().unwrap();
    let failed: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{attempts:#?}");
    assert_eq!(failed[0]["node_id"], "flaky");
    assert_eq!(failed[0]["attempt"], 1);
    assert_eq!(failed[0]["error"], "fails once, then succeeds on retry");
    for a in attempts {
        has_keys(
            a,
            &[
                "id",
                "run_id",
                "node_id",
                "execution",
                "attempt",
                "status",
                "started_at",
                "finished_at",
                "error",
                "output",
            ],
        );
        assert_eq!(a["run_id"], id);
    }
    let out = h.run(&["show", "999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no run 999"), "{}", stderr(&out));
}

#[test]
fn status_json_reports_every_workflow() {
    let h = TestHome::new();
    let id = run_example(&h);
    // Tuesday 21:00 in London (GMT in November): inside daily's 20:15-23:50 window.
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2026-11-24T21:00:00Z")
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    has_keys(&v, &["now", "home", "workflows"]);
    assert!(
        v["now"].as_str().unwrap().starts_with("2026-11-24T21:00:0"),
        "{}",
        v["now"]
    );
    assert_eq!(Path::new(v["home"].as_str().unwrap()), h.path());
    let wfs = v["workflows"].as_array().unwrap();
    let names: Vec<&str> = wfs
        .iter()
        .map(|w| w["workflow"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["daily", "example", "systems", "trading"]);
    for w in wfs {
        has_keys(
            w,
            &[
                "workflow",
                "control",
                "running",
                "last_run",
                "schedule",
                "window",
                "scheduler",
                "valid",
            ],
        );
        assert_eq!(w["control"], "go");
        assert_eq!(w["running"], Value::Null);
        assert_eq!(w["valid"], true);
    }
    let (daily, example) = (&wfs[0], &wfs[1]);
    assert_eq!(daily["last_run"], Value::Null);
    assert_eq!(daily["schedule"]["timezone"], "Europe/London");
    assert_eq!(daily["window"]["open"], true);
    assert_eq!(daily["window"]["closes_at"], "2026-11-24T23:50:00Z");
    assert_eq!(daily["scheduler"]["decision"], "start");
    assert_eq!(example["last_run"]["id"], id);
    assert_eq!(example["last_run"]["status"], "succeeded");
    assert_eq!(example["schedule"], Value::Null);
    assert_eq!(example["scheduler"], Value::Null);
    // Saturday: closed, opens again on Monday evening; a STOP shows up.
    assert_eq!(h.run(&["control", "daily", "stop"]).status.code(), Some(0));
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2026-11-28T12:00:00Z")
        .args(["status", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let daily = &v["workflows"][0];
    assert_eq!(daily["control"], "stop");
    assert_eq!(daily["window"]["open"], false);
    assert_eq!(daily["window"]["next_open"], "2026-11-30T20:15:00Z");
    assert_eq!(daily["scheduler"]["decision"], "wait");
    // The table says which time zone each time is in.
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2026-11-28T12:00:00Z")
        .arg("status")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("now 2026-11-28 12:00:00 UTC"), "{text}");
    let line = text.lines().find(|l| l.starts_with("daily")).unwrap();
    assert!(
        line.contains("Mon-Fri 20:15-23:50 Europe/London;")
            && line.contains("next window Mon 2026-11-30 20:15 GMT (20:15 UTC)"),
        "{line}"
    );
}

#[test]
fn dag_renders_every_format_and_colours_by_run() {
    let h = TestHome::new();
    let plain = h.json(&["dag", "example", "--format", "json"]);
    assert_eq!(plain["workflow"], "example");
    let nodes = plain["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 7);
    assert!(
        nodes.iter().all(|n| n["state"].is_null()),
        "no run, no states: {plain:#}"
    );
    assert!(plain["edges"]
        .as_array()
        .unwrap()
        .contains(&json!({ "from": "start", "to": "hello" })));
    let id = run_example(&h).to_string();
    let coloured = h.json(&["dag", "example", "--format", "json", "--run", &id]);
    assert!(
        coloured["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["state"] == "succeeded"),
        "{coloured:#}"
    );

    let text = |args: &[&str]| {
        let out = h.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let dot = text(&["dag", "example", "--format", "dot", "--run", &id]);
    assert!(
        dot.starts_with("digraph") && dot.contains("\"start\" -> \"hello\""),
        "{dot}"
    );
    let start_line = dot
        .lines()
        .find(|l| l.trim_start().starts_with("\"start\" ["))
        .expect("start node in dot");
    assert!(
        start_line.contains("fillcolor") && start_line.contains("succeeded"),
        "{start_line}"
    );
    let plain_dot = text(&["dag", "example", "--format", "dot"]);
    assert!(!plain_dot.contains("succeeded"), "{plain_dot}");
    let mermaid = text(&["dag", "example", "--format", "mermaid", "--run", &id]);
    assert!(
        mermaid.starts_with("graph") && mermaid.contains("-->") && mermaid.contains("fill:"),
        "{mermaid}"
    );
    let ascii = text(&["dag", "example", "--format", "ascii"]);
    for n in [
        "start",
        "hello",
        "pause",
        "flaky",
        "heartbeat",
        "join",
        "wrap_up",
    ] {
        assert!(ascii.contains(n), "{n} missing:\n{ascii}");
    }
    assert_eq!(text(&["dag", "example"]), ascii, "ascii is the default");

    // A run of another workflow cannot colour this one; an unknown run is an error too.
    let daily = h.json(&["run", "daily", "--json"]);
    let out = h.run(&["dag", "example", "--run", &daily["run_id"].to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is of workflow `daily`, not `example`"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    assert_eq!(
        h.run(&["dag", "example", "--run", "999"]).status.code(),
        Some(2)
    );
}

#[test]
fn control_lists_sets_and_rejects() {
    let h = TestHome::new();
    let out = h.run(&["control"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("daily") && stdout(&out).contains("GO"),
        "{}",
        stdout(&out)
    );
    let out = h.run(&["control", "example", "stop"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).trim(), "example: STOP");
    let list = h.json(&["control", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert_eq!(keys(&list[0]), ["state", "updated_at", "workflow"]);
    assert_eq!(
        list[0],
        json!({ "workflow": "daily", "state": "go", "updated_at": null })
    );
    assert_eq!(list[1]["state"], "stop");
    assert!(list[1]["updated_at"].is_string());
    // STOP refuses a run (exit 3) unless forced.
    assert_eq!(h.run(&["run", "example"]).status.code(), Some(3));
    assert_eq!(
        h.json(&["control", "example", "no-run", "--json"]),
        json!([{ "workflow": "example", "state": "no-run" }])
    );

    let out = h.run(&["control", "nosuch", "stop"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no workflow named `nosuch`"),
        "{}",
        stderr(&out)
    );
    let out = h.run(&["control", "exampel", "go"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `example`?"),
        "{}",
        stderr(&out)
    );
    let out = h.run(&["control", "example", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown control state `maybe`"),
        "{}",
        stderr(&out)
    );
    // Nothing was written by the refused commands: a workflow named `nosuch` appearing later is
    // GO and never set, and example is still NO-RUN.
    h.workflow(
        "nosuch",
        "[workflow]\nname = \"nosuch\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\n",
    );
    let list = h.json(&["control", "--json"]);
    let state = |w: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["workflow"] == w)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        state("nosuch"),
        json!({ "workflow": "nosuch", "state": "go", "updated_at": null })
    );
    assert_eq!(state("example")["state"], "no-run");
    assert_eq!(h.run(&["control", "example", "go"]).status.code(), Some(0));
    assert_eq!(h.run(&["run", "example"]).status.code(), Some(0));
}

#[test]
fn config_show_reports_each_value_and_its_source() {
    let h = TestHome::new();
    std::fs::write(
        h.path().join("config.toml"),
        "[logging]\n# keep less\nretention_days = 5\n",
    )
    .unwrap();
    let out = h
        .cmd()
        .env("SYSTRADE_LOGGING__LEVEL", "debug")
        .args(["config", "show", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = v["entries"].as_array().unwrap();
    for e in entries {
        assert_eq!(keys(e), ["env", "key", "source", "value"]);
    }
    let entry = |k: &str| {
        entries
            .iter()
            .find(|e| e["key"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in {v:#}"))
    };
    let days = entry("logging.retention_days");
    assert_eq!(days["value"], 5);
    assert_eq!(days["source"]["kind"], "file");
    assert_eq!(days["source"]["line"], 3);
    assert!(days["source"]["path"]
        .as_str()
        .unwrap()
        .ends_with("config.toml"));
    assert_eq!(days["env"], "SYSTRADE_LOGGING__RETENTION_DAYS");
    let level = entry("logging.level");
    assert_eq!(level["value"], "debug");
    assert_eq!(
        level["source"],
        json!({ "kind": "env", "var": "SYSTRADE_LOGGING__LEVEL" })
    );
    let keep = entry("backup.keep_daily");
    assert_eq!(keep["value"], 7);
    assert_eq!(keep["source"], json!({ "kind": "default" }));
    assert_eq!(entry("store.durability")["value"], "normal");
    // The human table shows the same sources.
    let text = stdout(&h.run(&["config", "show"]));
    assert!(text.contains("config.toml:3"), "{text}");
}

#[test]
fn unknown_config_key_fails_every_command() {
    let h = TestHome::new();
    run_example(&h);
    std::fs::write(
        h.path().join("config.toml"),
        "[logging]\nlevel = \"info\"\nretention_dayz = 5\n",
    )
    .unwrap();
    let commands: &[&[&str]] = &[
        &["config", "show"],
        &["init"],
        &["runs"],
        &["show", "1"],
        &["status"],
        &["run", "example"],
        &["validate", "example"],
        &["dag", "example"],
        &["tasks"],
        &["logs"],
        &["control"],
    ];
    for args in commands {
        let out = h.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?} should exit 2\n{err}");
        assert!(
            err.contains("config.toml:3:") && err.contains("retention_dayz"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("did you mean `retention_days`?"),
            "{args:?}: {err}"
        );
    }
    // The demo, on a fresh home with the same broken config, refuses before creating anything.
    let fresh = TestHome::new();
    std::fs::write(
        fresh.path().join("config.toml"),
        "[logging]\nlevel = \"info\"\nretention_dayz = 5\n",
    )
    .unwrap();
    let out = fresh.run(&["demo"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("config.toml:3:"), "{}", stderr(&out));
    assert!(!fresh.path().join("systrade.db").exists());
    // No new run was started by `run`.
    std::fs::remove_file(h.path().join("config.toml")).unwrap();
    assert_eq!(h.json(&["runs", "--json"]).as_array().unwrap().len(), 1);
    // A bad environment override is an error too.
    let out = h
        .cmd()
        .env("SYSTRADE_LOGGING__NOPE", "1")
        .arg("runs")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("SYSTRADE_LOGGING__NOPE"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn tasks_json_lists_the_catalogue() {
    let h = TestHome::new();
    let v = h.json(&["tasks", "--json"]);
    let tasks = v.as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for n in [
        "noop",
        "sleep",
        "fail",
        "shell",
        "say_hello",
        "run_backups",
        "clean",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    for t in tasks {
        has_keys(
            t,
            &[
                "name",
                "description",
                "implementation",
                "params",
                "defined_at",
            ],
        );
        assert!(t["defined_at"]
            .as_str()
            .unwrap()
            .starts_with("builtin:tasks/"));
    }
    let task = |n: &str| tasks.iter().find(|t| t["name"] == n).unwrap();
    assert_eq!(task("noop")["implementation"], json!({ "handler": "noop" }));
    assert_eq!(task("shell")["implementation"]["command"][0], "sh");
    assert_eq!(task("sleep")["params"]["duration"], "1s");
    // A home task file adds entries.
    h.tasks("mine", "[[task]]\nname = \"greet\"\ndescription = \"hi\"\ncommand = [\"echo\", \"{who}\"]\nparams = { who = \"you\" }\n");
    let v = h.json(&["tasks", "--json"]);
    let greet = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "greet")
        .expect("home task listed")
        .clone();
    assert!(
        greet["defined_at"]
            .as_str()
            .unwrap()
            .ends_with("mine.toml:1"),
        "{greet}"
    );
}

#[test]
fn logs_json_is_one_object_per_line_and_filters() {
    let h = TestHome::new();
    let id = run_example(&h).to_string();
    let lines = |args: &[&str]| -> Vec<Value> {
        let out = h.run(args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    };
    let all = lines(&["logs", "--run", &id, "--json"]);
    assert!(all.len() > 10, "{all:#?}");
    for e in &all {
        has_keys(e, &["level", "message", "node_id", "run_id", "ts"]);
        assert_eq!(e["run_id"].to_string(), id);
    }
    assert!(
        all.iter()
            .any(|e| e["node_id"].is_null() && e["message"].as_str().unwrap().contains("started")),
        "a run-level event"
    );
    let flaky = lines(&["logs", "--run", &id, "--json", "--node", "flaky"]);
    assert!(!flaky.is_empty() && flaky.len() < all.len());
    assert!(flaky.iter().all(|e| e["node_id"] == "flaky"), "{flaky:#?}");
    let warn = lines(&["logs", "--run", &id, "--json", "--level", "warn"]);
    assert!(!warn.is_empty(), "the flaky retry is a warning");
    assert!(
        warn.iter()
            .all(|e| e["level"] == "warn" || e["level"] == "error"),
        "{warn:#?}"
    );
    assert!(warn.iter().any(|e| e["node_id"] == "flaky"));
    // Without --run: the latest run.
    assert_eq!(lines(&["logs", "--json"]).len(), all.len());
    assert_eq!(h.run(&["logs", "--run", "999"]).status.code(), Some(2));
    assert_eq!(h.run(&["logs", "--level", "loud"]).status.code(), Some(2));
}

#[test]
fn home_workflow_overrides_the_shipped_one() {
    let h = TestHome::new();
    let path = h.workflow(
        "example",
        "[workflow]\nname = \"example\"\n[[node]]\nid = \"only\"\ntask = \"noop\"\n",
    );
    let v = h.json(&["run", "example", "--json"]);
    assert_eq!(v["nodes"], json!({ "only": "succeeded" }));
    let runs = h.json(&["runs", "--json"]);
    assert_eq!(
        Path::new(runs[0]["definition_path"].as_str().unwrap()),
        path
    );
    let status = h.json(&["status", "--json"]);
    let example = status["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workflow"] == "example")
        .unwrap()
        .clone();
    assert_eq!(Path::new(example["path"].as_str().unwrap()), path);
}

#[test]
fn a_workflow_file_runs_from_any_directory() {
    let h = TestHome::new();
    let defs = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = defs.path().join("adhoc.toml");
    std::fs::write(&file, "[workflow]\nname = \"adhoc\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\n[[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"a\"]\n").unwrap();
    let out = h
        .cmd()
        .current_dir(elsewhere.path())
        .args(["run", &file.display().to_string(), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["workflow"], "adhoc");
    assert_eq!(v["nodes"], json!({ "a": "succeeded", "b": "succeeded" }));
    // A relative path is relative to the current directory.
    let out = h
        .cmd()
        .current_dir(defs.path())
        .args(["run", "adhoc.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Shipped workflows are embedded: no source tree needed.
    let out = h
        .cmd()
        .current_dir(elsewhere.path())
        .args(["run", "daily", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let runs = h.json(&["runs", "--json"]);
    assert_eq!(runs.as_array().unwrap().len(), 3);
    assert_eq!(
        Path::new(runs[2]["definition_path"].as_str().unwrap()),
        file
    );
}

#[test]
fn a_run_from_a_relative_workflow_path_reruns_from_any_directory() {
    let h = TestHome::new();
    let defs = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = defs.path().join("flaky.toml");
    // `b` fails the first time it ever runs in this home (no retries): the first run fails, a
    // rerun succeeds.
    std::fs::write(
        &file,
        "[workflow]\nname = \"flaky\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\n\
         [[node]]\nid = \"b\"\ntask = \"shell\"\nretries = 0\nafter = [\"a\"]\n\
         params = { script = \"test -e ran-once || { touch ran-once; exit 1; }\" }\n",
    )
    .unwrap();
    let out = h
        .cmd()
        .current_dir(defs.path())
        .args(["run", "flaky.toml", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let runs = h.json(&["runs", "--json"]);
    assert_eq!(
        Path::new(runs[0]["definition_path"].as_str().unwrap()),
        file,
        "the run records the absolute path"
    );
    let out = h
        .cmd()
        .current_dir(elsewhere.path())
        .args(["rerun", "--last", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(v["nodes"]["b"], "succeeded", "{v:#}\n{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A rerun whose file is gone says so; it does not run another workflow of that name.
    std::fs::remove_file(h.path().join("ran-once")).unwrap();
    let out = h
        .cmd()
        .current_dir(defs.path())
        .args(["run", "flaky.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    std::fs::remove_file(&file).unwrap();
    let before = h.json(&["runs", "--json"]).as_array().unwrap().len();
    let out = h.run(&["rerun", "--last"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&file.display().to_string())
            && stderr(&out).contains("cannot be read"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        h.json(&["runs", "--json"]).as_array().unwrap().len(),
        before
    );
}

#[test]
fn backtest_takes_a_strategy_name_as_run_systems_does() {
    let h = TestHome::new();
    let out = h.run(&["backtest", "chapter15_equl_weights"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no strategy `chapter15_equl_weights`")
            && stderr(&out).contains("chapter15_equal_weights"),
        "{}",
        stderr(&out)
    );
    // The shipped strategy by name: resolved and run (an empty home has no prices, so every
    // instrument is reported skipped and the exit code is 1, not 2).
    let out = h.run(&["backtest", "chapter15_equal_weights"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("SP500"), "{}", stderr(&out));
    // A home strategy of that name wins over the shipped one.
    let dir = h.path().join("strategies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("chapter15_equal_weights.toml"), "not = [valid\n").unwrap();
    let out = h.run(&["backtest", "chapter15_equal_weights"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("strategies/chapter15_equal_weights.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn demo_runs_daily_on_a_fresh_home() {
    let h = TestHome::new();
    let out = h.run(&["demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("results are in {}", h.path().display())),
        "{text}"
    );
    assert!(text.contains("show 1"), "{text}");
    let backups = || {
        std::fs::read_dir(h.path().join("backups"))
            .expect("backups dir")
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("systrade-backup-")
            })
            .count()
    };
    assert_eq!(backups(), 1);
    let runs = h.json(&["runs", "--json"]);
    assert_eq!(runs[0]["workflow"], "daily");
    assert_eq!(runs[0]["status"], "succeeded");
    // A home that already has a run store is refused and left alone.
    let out = h.run(&["demo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already holds a systrade home"),
        "{}",
        stderr(&out)
    );
    assert_eq!(h.json(&["runs", "--json"]).as_array().unwrap().len(), 1);
    assert_eq!(backups(), 1);
}

#[test]
fn help_exits_zero() {
    let h = TestHome::new();
    let out = h.run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for cmd in ["validate", "run", "dag", "status", "control", "demo"] {
        assert!(text.contains(cmd), "{cmd} not in help:\n{text}");
    }
    let out = h.run(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("--force"), "{}", stdout(&out));
    assert_eq!(h.run(&["no-such-command"]).status.code(), Some(2));
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_with_exit_0() {
    use std::io::Read;
    let h = TestHome::new();
    // A DAG whose JSON is far larger than a pipe buffer, so writes continue after the reader left.
    let mut text = String::from("[workflow]\nname = \"big\"\n");
    for i in 0..3000 {
        text.push_str(&format!("[[node]]\nid = \"node_{i}\"\ntask = \"noop\"\n"));
    }
    h.workflow("big", &text);
    let mut child = std::process::Command::new(crate::support::bin())
        .args([
            "--home",
            h.path().to_str().unwrap(),
            "dag",
            "big",
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
