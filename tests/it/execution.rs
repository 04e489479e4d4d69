//! Execution semantics, end to end through the real binary: retries with exponential backoff,
//! non-retryable failures, timeouts that kill the command's processes, `upstream_failed`
//! propagation, output exchange between nodes, partial triggers, reruns that reuse outputs,
//! control states (NO-RUN, STOP), SIGTERM cancel, repeating nodes, the schedule window and the
//! scheduler's decisions (`scheduler --dry-run --json`, `scheduler --once`), and exit codes.
//! Every check reads the recorded run back with `show ID --json`.

use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::support::{bin, stderr, stdout, TestHome};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Writes workflow NAME with a `[workflow]` header followed by `body` (nodes, schedule...).
pub(crate) fn wf(h: &TestHome, name: &str, body: &str) {
    h.workflow(name, &format!("[workflow]\nname = \"{name}\"\n{body}"));
}

/// Runs `args` plus `--json`; returns the exit code and the parsed summary (Null if no JSON).
pub(crate) fn run_json(h: &TestHome, args: &[&str]) -> (i32, Value) {
    let mut a = args.to_vec();
    a.push("--json");
    let out = h.run(&a);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().expect("exit code"), v)
}

/// Runs workflow NAME; returns exit code and run id.
pub(crate) fn run_wf(h: &TestHome, name: &str) -> (i32, i64) {
    let (code, v) = run_json(h, &["run", name]);
    let id = v["run_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no run_id in {v} (exit {code})"));
    (code, id)
}

pub(crate) fn show(h: &TestHome, id: i64) -> Value {
    h.json(&["show", &id.to_string(), "--json"])
}

pub(crate) fn node<'a>(s: &'a Value, id: &str) -> &'a Value {
    s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == id)
        .unwrap_or_else(|| panic!("no node {id} in {s}"))
}

pub(crate) fn state(s: &Value, id: &str) -> String {
    node(s, id)["state"].as_str().unwrap().to_string()
}

/// Attempt records of one node, in (execution, attempt) order.
pub(crate) fn attempts<'a>(s: &'a Value, id: &str) -> Vec<&'a Value> {
    let mut v: Vec<&Value> = s["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["node_id"] == id)
        .collect();
    v.sort_by_key(|a| (a["execution"].as_u64(), a["attempt"].as_u64()));
    v
}

fn ts(v: &Value) -> DateTime<Utc> {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not a time: {v} ({e})"))
}

fn ms(d: chrono::Duration) -> i64 {
    d.num_milliseconds()
}

pub(crate) fn runs(h: &TestHome) -> Vec<Value> {
    h.json(&["runs", "--json"]).as_array().unwrap().clone()
}

pub(crate) fn read(h: &TestHome, file: &str) -> String {
    std::fs::read_to_string(h.path().join(file)).unwrap_or_default()
}

fn lines(h: &TestHome, file: &str) -> Vec<String> {
    read(h, file).lines().map(str::to_string).collect()
}

/// Starts `systrade --home H ARGS` in the background (clean SYSTRADE_* env, output to a file).
pub(crate) fn spawn(h: &TestHome, args: &[&str]) -> Child {
    let mut c = std::process::Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("SYSTRADE_") {
            c.env_remove(k);
        }
    }
    let log = std::fs::File::create(h.path().join("runner.out")).unwrap();
    c.arg("--home")
        .arg(h.path())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    c.spawn().expect("spawn systrade")
}

/// Waits for the child to exit; kills it and panics after `limit`.
pub(crate) fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `file` in the home holds a number (a PID written by a script) or exists.
pub(crate) fn wait_for_file(h: &TestHome, file: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let text = read(h, file);
        if !text.trim().is_empty() || (file.ends_with(".started") && h.path().join(file).exists()) {
            return text.trim().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{file} did not appear within {limit:?}; runner output:\n{}",
            read(h, "runner.out")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True while the process exists and is not a zombie.
pub(crate) fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                != Some("Z")
        }
    }
}

pub(crate) fn assert_dead_soon(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `scheduler --dry-run --json` at the fake instant `now`: the decision for `workflow`.
fn decision(h: &TestHome, now: &str, workflow: &str) -> Value {
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", now)
        .args(["scheduler", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|d| d["workflow"] == workflow)
        .unwrap_or_else(|| panic!("{workflow} not in {all}"))["decision"]
        .clone()
}

const WED_0800: &str = "2026-07-01T08:00:00Z";
const SCHEDULE_DAY: &str = "[workflow.schedule]\nstart = \"07:00\"\nstop = \"23:50\"\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\ntimezone = \"UTC\"\n";

// ---------------------------------------------------------------------------------------------
// Retries, failures, timeouts

#[test]
fn retries_back_off_exponentially_then_succeed() {
    let h = TestHome::new();
    wf(&h, "flaky", "[[node]]\nid = \"f\"\ntask = \"fail\"\nretries = 2\nbackoff = \"200ms\"\nparams = { attempts = 2, message = \"boom\" }\n");
    let (code, id) = run_wf(&h, "flaky");
    assert_eq!(code, 0);
    let s = show(&h, id);
    assert_eq!(s["run"]["status"], "succeeded");
    let n = node(&s, "f");
    assert_eq!(
        (
            n["state"].as_str(),
            n["attempts"].as_u64(),
            n["executions"].as_u64()
        ),
        (Some("succeeded"), Some(3), Some(1))
    );
    let a = attempts(&s, "f");
    let statuses: Vec<&str> = a.iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["failed", "failed", "succeeded"]);
    assert_eq!(
        a.iter()
            .map(|a| a["attempt"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(a[0]["error"], "boom");
    // Delay before retry n lies in [base*2^(n-1)/2, base*2^(n-1)]: >= 100 ms, then >= 200 ms.
    for (n, min) in [(1usize, 100i64), (2, 200)] {
        let gap = ms(ts(&a[n]["started_at"]) - ts(&a[n - 1]["finished_at"]));
        assert!(
            gap >= min - 5,
            "gap before attempt {} is {gap} ms, expected >= {min}",
            n + 1
        );
        assert!(
            gap <= 2 * min + 1500,
            "gap before attempt {} is {gap} ms, far above the backoff",
            n + 1
        );
    }
}

#[test]
fn retries_exhausted_fail_the_run() {
    let h = TestHome::new();
    wf(&h, "flaky", "[[node]]\nid = \"f\"\ntask = \"fail\"\nretries = 1\nbackoff = \"50ms\"\nparams = { attempts = 2, message = \"boom\" }\n");
    let (code, id) = run_wf(&h, "flaky");
    assert_eq!(code, 1);
    let s = show(&h, id);
    assert_eq!(s["run"]["status"], "failed");
    assert_eq!(state(&s, "f"), "failed");
    assert_eq!(node(&s, "f")["error"], "boom");
    let statuses: Vec<&str> = attempts(&s, "f")
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "failed"]);
}

#[test]
fn non_retryable_failure_is_not_retried() {
    let h = TestHome::new();
    wf(&h, "fatal", "[[node]]\nid = \"f\"\ntask = \"fail\"\nretries = 3\nbackoff = \"50ms\"\nparams = { retryable = false, message = \"bad config\" }\n");
    let (code, id) = run_wf(&h, "fatal");
    assert_eq!(code, 1);
    let s = show(&h, id);
    assert_eq!(state(&s, "f"), "failed");
    assert_eq!(node(&s, "f")["attempts"], 1);
    assert_eq!(attempts(&s, "f").len(), 1);
}

#[test]
fn timeout_fails_the_attempt_and_kills_the_command() {
    let h = TestHome::new();
    wf(&h, "slow", "[[node]]\nid = \"t\"\ntask = \"shell\"\ntimeout = \"1s\"\nretries = 0\nparams = { script = 'echo $$ > t.pid; exec sleep 30' }\n");
    let t0 = Instant::now();
    let (code, id) = run_wf(&h, "slow");
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(code, 1);
    let s = show(&h, id);
    assert_eq!(state(&s, "t"), "failed");
    let err = node(&s, "t")["error"].as_str().unwrap().to_string();
    assert!(err.contains("timed out"), "{err}");
    assert!(attempts(&s, "t")[0]["error"]
        .as_str()
        .unwrap()
        .contains("timed out"));
    let pid: i32 = read(&h, "t.pid").trim().parse().expect("pid written");
    assert_dead_soon(pid);
}

#[test]
fn failure_marks_downstream_upstream_failed_and_independent_branches_go_on() {
    let h = TestHome::new();
    wf(
        &h,
        "chain",
        "[[node]]\nid = \"a\"\ntask = \"noop\"\n\n[[node]]\nid = \"b\"\ntask = \"fail\"\nafter = [\"a\"]\n\n\
         [[node]]\nid = \"c\"\ntask = \"noop\"\nafter = [\"b\"]\n\n[[node]]\nid = \"d\"\ntask = \"sleep\"\nparams = { duration = \"300ms\" }\n",
    );
    let (code, id) = run_wf(&h, "chain");
    assert_eq!(code, 1);
    let s = show(&h, id);
    assert_eq!(s["run"]["status"], "failed");
    assert_eq!(
        [
            state(&s, "a"),
            state(&s, "b"),
            state(&s, "c"),
            state(&s, "d")
        ],
        ["succeeded", "failed", "upstream_failed", "succeeded"]
    );
    assert!(node(&s, "c")["error"].as_str().unwrap().contains('b'));
    assert!(
        attempts(&s, "c").is_empty(),
        "an upstream_failed node never starts"
    );
}

#[test]
fn exit_code_is_zero_only_when_every_node_succeeded() {
    let h = TestHome::new();
    wf(&h, "good", "[[node]]\nid = \"a\"\ntask = \"noop\"\n[[node]]\nid = \"b\"\ntask = \"shell\"\nafter = [\"a\"]\n");
    wf(&h, "bad", "[[node]]\nid = \"a\"\ntask = \"noop\"\n[[node]]\nid = \"b\"\ntask = \"shell\"\nparams = { script = 'exit 3' }\n");
    let out = h.run(&["run", "good"]);
    assert_eq!(out.status.code(), Some(0));
    let out = h.run(&["run", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("failed"));
    let (code, v) = run_json(&h, &["run", "bad"]);
    assert_eq!(
        (
            code,
            v["status"].as_str(),
            v["nodes"]["a"].as_str(),
            v["nodes"]["b"].as_str()
        ),
        (1, Some("failed"), Some("succeeded"), Some("failed"))
    );
    let s = show(&h, v["run_id"].as_i64().unwrap());
    assert!(node(&s, "b")["error"]
        .as_str()
        .unwrap()
        .contains("status 3"));
}

// ---------------------------------------------------------------------------------------------
// Outputs, triggers, reruns

#[test]
fn outputs_flow_to_downstream_inputs() {
    let h = TestHome::new();
    wf(
        &h,
        "xchg",
        "[[node]]\nid = \"a\"\ntask = \"noop\"\nparams = { output = { x = 1 } }\n\n[[node]]\nid = \"b\"\ntask = \"shell\"\nafter = [\"a\"]\n\
         params = { script = '''printf '%s' \"$SYSTRADE_INPUTS\" > b.inputs; printf '{\"y\":2}' > \"$SYSTRADE_OUTPUT\"''' }\n",
    );
    let (code, id) = run_wf(&h, "xchg");
    assert_eq!(code, 0);
    let inputs: Value = serde_json::from_str(&read(&h, "b.inputs")).expect("inputs are JSON");
    assert_eq!(inputs, json!({ "a": { "x": 1 } }));
    let s = show(&h, id);
    assert_eq!(node(&s, "a")["output"], json!({ "x": 1 }));
    assert_eq!(node(&s, "b")["output"], json!({ "y": 2 }));
}

const ETL: &str = "[[node]]\nid = \"extract\"\ntask = \"noop\"\nparams = { output = { rows = 3 } }\n\n\
[[node]]\nid = \"transform\"\ntask = \"shell\"\nafter = [\"extract\"]\nparams = { script = '''printf '%s' \"$SYSTRADE_INPUTS\" > transform.inputs; echo transform >> marker''' }\n\n\
[[node]]\nid = \"load\"\ntask = \"shell\"\nafter = [\"transform\"]\nparams = { script = 'echo load >> marker' }\n\n\
[[node]]\nid = \"audit\"\ntask = \"shell\"\nparams = { script = 'echo audit >> marker' }\n";

fn states(s: &Value) -> Vec<(String, String)> {
    ["extract", "transform", "load", "audit"]
        .iter()
        .map(|n| (n.to_string(), state(s, n)))
        .collect()
}

fn expect_states(s: &Value, want: [&str; 4]) {
    let want: Vec<(String, String)> = ["extract", "transform", "load", "audit"]
        .iter()
        .zip(want)
        .map(|(n, w)| (n.to_string(), w.to_string()))
        .collect();
    assert_eq!(states(s), want);
}

#[test]
fn trigger_runs_only_the_selected_node_with_earlier_outputs_as_inputs() {
    let h = TestHome::new();
    wf(&h, "etl", ETL);
    assert_eq!(run_wf(&h, "etl").0, 0);
    std::fs::remove_file(h.path().join("transform.inputs")).unwrap();
    std::fs::remove_file(h.path().join("marker")).unwrap();

    let (code, v) = run_json(&h, &["trigger", "etl", "transform"]);
    assert_eq!(code, 0, "{v}");
    let s = show(&h, v["run_id"].as_i64().unwrap());
    expect_states(&s, ["skipped", "succeeded", "skipped", "skipped"]);
    assert_eq!(
        s["run"]["selection"],
        json!({ "node": "transform", "mode": "only", "nodes": ["transform"] })
    );
    assert_eq!(lines(&h, "marker"), ["transform"]);
    // The skipped upstream's output from the first run is the input.
    let inputs: Value = serde_json::from_str(&read(&h, "transform.inputs")).unwrap();
    assert_eq!(inputs, json!({ "extract": { "rows": 3 } }));
}

#[test]
fn trigger_with_upstream_or_downstream_selects_the_closure() {
    let h = TestHome::new();
    wf(&h, "etl", ETL);
    let (code, v) = run_json(&h, &["trigger", "etl", "transform", "--with-upstream"]);
    assert_eq!(code, 0);
    let s = show(&h, v["run_id"].as_i64().unwrap());
    expect_states(&s, ["succeeded", "succeeded", "skipped", "skipped"]);
    assert_eq!(s["run"]["selection"]["mode"], "with_upstream");
    let mut sel: Vec<&str> = s["run"]["selection"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    sel.sort();
    assert_eq!(sel, ["extract", "transform"]);

    let (code, v) = run_json(&h, &["trigger", "etl", "transform", "--with-downstream"]);
    assert_eq!(code, 0);
    let s = show(&h, v["run_id"].as_i64().unwrap());
    expect_states(&s, ["skipped", "succeeded", "succeeded", "skipped"]);
    assert_eq!(s["run"]["selection"]["mode"], "with_downstream");
    assert_eq!(lines(&h, "marker"), ["transform", "transform", "load"]);
}

#[test]
fn trigger_of_an_unknown_node_is_invalid_with_a_suggestion() {
    let h = TestHome::new();
    wf(&h, "etl", ETL);
    let out = h.run(&["trigger", "etl", "transfrom"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `transform`"),
        "{}",
        stderr(&out)
    );
    assert!(runs(&h).is_empty(), "no run is recorded");
}

/// a -> b -> c plus d; b fails unless `flag` exists; every node appends its name to `marker`.
const RERUNNABLE: &str = "[[node]]\nid = \"a\"\ntask = \"shell\"\nparams = { script = 'echo a >> marker; echo {\\\"v\\\":1} > $SYSTRADE_OUTPUT' }\n\n\
[[node]]\nid = \"b\"\ntask = \"shell\"\nafter = [\"a\"]\nparams = { script = 'echo b >> marker; test -f flag' }\n\n\
[[node]]\nid = \"c\"\ntask = \"shell\"\nafter = [\"b\"]\nparams = { script = 'echo c >> marker' }\n\n\
[[node]]\nid = \"d\"\ntask = \"shell\"\nparams = { script = 'echo d >> marker' }\n";

fn count(h: &TestHome, name: &str) -> usize {
    lines(h, "marker").iter().filter(|l| *l == name).count()
}

#[test]
fn rerun_reuses_succeeded_nodes_and_runs_the_rest() {
    let h = TestHome::new();
    wf(&h, "rr", RERUNNABLE);
    let (code, first) = run_wf(&h, "rr");
    assert_eq!(code, 1);
    let s = show(&h, first);
    assert_eq!(
        [
            state(&s, "a"),
            state(&s, "b"),
            state(&s, "c"),
            state(&s, "d")
        ],
        ["succeeded", "failed", "upstream_failed", "succeeded"]
    );

    std::fs::write(h.path().join("flag"), "").unwrap();
    let (code, v) = run_json(&h, &["rerun", &first.to_string()]);
    assert_eq!(code, 0, "{v}");
    let second = v["run_id"].as_i64().unwrap();
    assert_ne!(second, first);
    let s = show(&h, second);
    assert_eq!(s["run"]["trigger"], "rerun");
    assert_eq!(s["run"]["parent_run_id"], first);
    assert_eq!(s["run"]["status"], "succeeded");
    for n in ["a", "d"] {
        assert_eq!(state(&s, n), "succeeded");
        assert_eq!(node(&s, n)["reused_from"], first, "{n}");
        assert_eq!(node(&s, n)["executions"], 0, "{n} is not executed again");
        assert!(attempts(&s, n).is_empty());
    }
    assert_eq!(
        node(&s, "a")["output"],
        json!({ "v": 1 }),
        "reused output is kept"
    );
    for n in ["b", "c"] {
        assert_eq!(state(&s, n), "succeeded");
        assert!(node(&s, n)["reused_from"].is_null());
        assert_eq!(attempts(&s, n).len(), 1);
    }
    assert_eq!(
        [
            count(&h, "a"),
            count(&h, "b"),
            count(&h, "c"),
            count(&h, "d")
        ],
        [1, 2, 1, 1]
    );

    // Nothing left to re-run: no new run, exit 0.
    let before = runs(&h).len();
    let out = h.run(&["rerun", &second.to_string()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("nothing to re-run"));
    assert_eq!(runs(&h).len(), before);
}

#[test]
fn rerun_last_picks_the_most_recent_run() {
    let h = TestHome::new();
    wf(&h, "rr", RERUNNABLE);
    let (code, first) = run_wf(&h, "rr");
    assert_eq!(code, 1);
    std::fs::write(h.path().join("flag"), "").unwrap();
    let (code, v) = run_json(&h, &["rerun", "--last", "--workflow", "rr"]);
    assert_eq!(code, 0);
    let second = v["run_id"].as_i64().unwrap();
    assert_eq!(show(&h, second)["run"]["parent_run_id"], first);
    // The rerun succeeded, so `rerun --last` now has nothing to do.
    let (code, v) = run_json(&h, &["rerun", "--last"]);
    assert_eq!(code, 0);
    assert_eq!(v["parent_run_id"], second);
    assert!(v["rerun"].is_null());
    assert_eq!(runs(&h).len(), 2);
    assert_eq!(
        [
            count(&h, "a"),
            count(&h, "b"),
            count(&h, "c"),
            count(&h, "d")
        ],
        [1, 2, 1, 1]
    );
}

// ---------------------------------------------------------------------------------------------
// Control states and signals

#[test]
fn no_run_refuses_unless_forced() {
    let h = TestHome::new();
    wf(&h, "w", "[[node]]\nid = \"a\"\ntask = \"noop\"\n");
    assert_eq!(h.run(&["control", "w", "no-run"]).status.code(), Some(0));
    let out = h.run(&["run", "w"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("NO-RUN"), "{}", stderr(&out));
    assert!(runs(&h).is_empty());
    assert_eq!(h.run(&["trigger", "w", "a"]).status.code(), Some(3));
    let (code, v) = run_json(&h, &["run", "w", "--force"]);
    assert_eq!(code, 0);
    assert_eq!(
        show(&h, v["run_id"].as_i64().unwrap())["run"]["status"],
        "succeeded"
    );
}

/// A `slow` node (SECS s), then a 5 s one and a third; `wrapup` runs once at the end.
fn stoppable(secs: &str) -> String {
    format!("[[node]]\nid = \"slow\"\ntask = \"shell\"\nparams = {{ script = 'touch slow.started; sleep {secs}' }}\n\n{STOPPABLE_REST}")
}

const STOPPABLE_REST: &str = "\
[[node]]\nid = \"next\"\ntask = \"sleep\"\nafter = [\"slow\"]\nparams = { duration = \"5s\" }\n\n\
[[node]]\nid = \"last\"\ntask = \"noop\"\nafter = [\"next\"]\n\n\
[[node]]\nid = \"wrapup\"\ntask = \"shell\"\non_completion_only = true\nparams = { script = 'touch wrapup.ran' }\n";

/// Sets STOP on a running `stoppable` run and checks it winds down: the running command is
/// asked to stop (SIGTERM) and recorded cancelled, pending nodes are cancelled, the
/// on-completion node runs, and the run ends soon after.
fn stop_and_check(h: &TestHome, child: &mut Child) {
    assert_eq!(
        h.run(&["control", "stoppable", "stop"]).status.code(),
        Some(0)
    );
    let t0 = Instant::now();
    let status = wait_exit(child, Duration::from_secs(15));
    // Without STOP the run would take 5 s more after `slow`.
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "run ended {:?} after STOP",
        t0.elapsed()
    );
    assert_eq!(status.code(), Some(1));
    let s = show(h, runs(h)[0]["id"].as_i64().unwrap());
    assert_eq!(s["run"]["status"], "cancelled");
    assert!(
        s["run"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("STOP"),
        "{}",
        s["run"]
    );
    assert_eq!(
        state(&s, "slow"),
        "cancelled",
        "the running node is stopped"
    );
    let slow_error = node(&s, "slow")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        slow_error.contains("STOP") && slow_error.contains("SIGTERM"),
        "{slow_error}"
    );
    assert_eq!(state(&s, "next"), "cancelled");
    assert_eq!(state(&s, "last"), "cancelled");
    assert_eq!(state(&s, "wrapup"), "succeeded");
    assert!(h.path().join("wrapup.ran").exists());
}

#[test]
fn stop_winds_a_running_workflow_down() {
    let h = TestHome::new();
    wf(&h, "stoppable", &stoppable("1.5"));
    let mut child = spawn(&h, &["run", "stoppable"]);
    wait_for_file(&h, "slow.started", Duration::from_secs(20));
    stop_and_check(&h, &mut child);
    let out = h.run(&["run", "stoppable"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("STOP"));
}

#[test]
fn force_overrides_an_existing_stop_but_a_new_stop_still_stops() {
    let h = TestHome::new();
    wf(&h, "pair", "[[node]]\nid = \"a\"\ntask = \"noop\"\n[[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"a\"]\n");
    assert_eq!(h.run(&["control", "pair", "stop"]).status.code(), Some(0));
    assert_eq!(h.run(&["run", "pair"]).status.code(), Some(3));
    let (code, v) = run_json(&h, &["run", "pair", "--force"]);
    assert_eq!(
        (code, v["nodes"]["b"].as_str()),
        (0, Some("succeeded")),
        "a forced run is not stopped by the STOP it overrides: {v}"
    );

    // STOP set again during a forced run (after GO) stops it.
    wf(&h, "stoppable", &stoppable("2.5"));
    assert_eq!(
        h.run(&["control", "stoppable", "stop"]).status.code(),
        Some(0)
    );
    let mut child = spawn(&h, &["run", "stoppable", "--force"]);
    wait_for_file(&h, "slow.started", Duration::from_secs(20));
    assert_eq!(
        h.run(&["control", "stoppable", "go"]).status.code(),
        Some(0)
    );
    std::thread::sleep(Duration::from_millis(600));
    stop_and_check(&h, &mut child);
}

#[test]
fn sigterm_cancels_the_run_and_kills_its_commands() {
    let h = TestHome::new();
    wf(
        &h,
        "longrun",
        "[[node]]\nid = \"long\"\ntask = \"shell\"\nparams = { script = 'echo $$ > long.pid; exec sleep 30' }\n\n\
         [[node]]\nid = \"after_long\"\ntask = \"noop\"\nafter = [\"long\"]\n",
    );
    let mut child = spawn(&h, &["run", "longrun"]);
    let pid: i32 = wait_for_file(&h, "long.pid", Duration::from_secs(20))
        .parse()
        .unwrap();
    assert!(alive(pid));
    // SAFETY: kill(2) on the runner we spawned.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
    let s = show(&h, runs(&h)[0]["id"].as_i64().unwrap());
    assert_eq!(s["run"]["status"], "cancelled");
    assert_eq!(state(&s, "long"), "cancelled");
    assert_eq!(state(&s, "after_long"), "cancelled");
    assert_eq!(attempts(&s, "long")[0]["status"], "cancelled");
    assert_dead_soon(pid);
}

// ---------------------------------------------------------------------------------------------
// Repetition and the schedule

#[test]
fn repeating_node_runs_max_runs_times_then_downstream() {
    let h = TestHome::new();
    wf(
        &h,
        "rep",
        "[[node]]\nid = \"tick\"\ntask = \"shell\"\nevery = \"200ms\"\nmax_runs = 3\nparams = { script = 'echo tick >> ticks' }\n\n\
         [[node]]\nid = \"done\"\ntask = \"noop\"\nafter = [\"tick\"]\n",
    );
    let (code, id) = run_wf(&h, "rep");
    assert_eq!(code, 0);
    let s = show(&h, id);
    assert_eq!(node(&s, "tick")["executions"], 3);
    assert_eq!(lines(&h, "ticks").len(), 3);
    let a = attempts(&s, "tick");
    assert_eq!(
        a.iter()
            .map(|a| a["execution"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for w in a.windows(2) {
        let gap = ms(ts(&w[1]["started_at"]) - ts(&w[0]["finished_at"]));
        assert!(gap >= 195, "repetitions {gap} ms apart, expected >= 200");
    }
    assert_eq!(state(&s, "done"), "succeeded");
    assert!(ts(&node(&s, "done")["started_at"]) >= ts(&node(&s, "tick")["finished_at"]));
}

#[test]
fn unlimited_repetition_ends_when_the_window_closes() {
    let h = TestHome::new();
    let sched = SCHEDULE_DAY.replace("23:50", "08:00");
    wf(
        &h,
        "poller",
        &format!(
            "{sched}\n[[node]]\nid = \"poll\"\ntask = \"shell\"\nevery = \"500ms\"\nparams = {{ script = 'echo p >> polls' }}\n\n\
             [[node]]\nid = \"report\"\ntask = \"noop\"\nafter = [\"poll\"]\n"
        ),
    );
    // The window closes 2.5 s after the fake start instant.
    let t0 = Instant::now();
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2026-07-01T07:59:57.500Z")
        .args(["run", "poller", "--json"])
        .output()
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        took >= Duration::from_millis(1500),
        "repetition stopped too early ({took:?})"
    );
    assert!(
        took < Duration::from_secs(10),
        "repetition did not stop at the window close ({took:?})"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = show(&h, v["run_id"].as_i64().unwrap());
    let execs = node(&s, "poll")["executions"].as_u64().unwrap();
    assert!(execs >= 2, "{execs} executions");
    assert!(
        execs <= took.as_millis() as u64 / 500 + 2,
        "{execs} executions in {took:?}"
    );
    assert_eq!(lines(&h, "polls").len() as u64, execs);
    assert_eq!(state(&s, "poll"), "succeeded");
    assert_eq!(state(&s, "report"), "succeeded");
}

#[test]
fn scheduled_run_stops_when_the_window_closes() {
    let h = TestHome::new();
    let sched = SCHEDULE_DAY.replace("23:50", "08:00");
    wf(
        &h,
        "poller",
        &format!(
            "{sched}\n[[node]]\nid = \"poll\"\ntask = \"noop\"\nevery = \"500ms\"\n\n[[node]]\nid = \"report\"\ntask = \"noop\"\nafter = [\"poll\"]\n\n\
             [[node]]\nid = \"fin\"\ntask = \"noop\"\non_completion_only = true\n"
        ),
    );
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2026-07-01T09:00:00Z")
        .args(["run", "poller", "--scheduled"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "outside the window: {}",
        stderr(&out)
    );
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2026-07-01T07:59:58Z")
        .args(["run", "poller", "--scheduled", "--json"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = show(&h, v["run_id"].as_i64().unwrap());
    assert_eq!(
        (s["run"]["trigger"].as_str(), s["run"]["status"].as_str()),
        (Some("schedule"), Some("cancelled"))
    );
    assert!(
        s["run"]["message"]
            .as_str()
            .unwrap()
            .contains("window closed"),
        "{}",
        s["run"]
    );
    assert_eq!(state(&s, "poll"), "succeeded");
    assert!(node(&s, "poll")["executions"].as_u64().unwrap() >= 2);
    assert_eq!(
        state(&s, "report"),
        "cancelled",
        "nothing new starts after the window closed"
    );
    assert_eq!(state(&s, "fin"), "succeeded");
}

#[test]
fn scheduler_decisions_follow_window_control_and_previous_runs() {
    let h = TestHome::new();
    wf(
        &h,
        "day",
        &format!("{SCHEDULE_DAY}\n[[node]]\nid = \"a\"\ntask = \"noop\"\n"),
    );
    let d = decision(&h, WED_0800, "day");
    assert_eq!(d["decision"], "start", "{d}");
    let d = decision(&h, "2026-07-01T06:00:00Z", "day");
    assert_eq!(d["decision"], "wait");
    assert!(d["reason"].as_str().unwrap().contains("outside"), "{d}");
    assert_eq!(ts(&d["next_open"]), ts(&json!("2026-07-01T07:00:00Z")));
    let d = decision(&h, "2026-07-04T12:00:00Z", "day");
    assert_eq!(d["decision"], "wait");
    assert!(d["reason"].as_str().unwrap().contains("outside"), "{d}");
    assert_eq!(
        ts(&d["next_open"]),
        ts(&json!("2026-07-06T07:00:00Z")),
        "Saturday waits for Monday"
    );

    assert_eq!(h.run(&["control", "day", "stop"]).status.code(), Some(0));
    let d = decision(&h, WED_0800, "day");
    assert_eq!(d["decision"], "wait");
    assert!(d["reason"].as_str().unwrap().contains("STOP"), "{d}");
    assert_eq!(h.run(&["control", "day", "go"]).status.code(), Some(0));

    // A (manual) run at 08:00 counts as this window's start.
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", WED_0800)
        .args(["run", "day"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let d = decision(&h, "2026-07-01T09:00:00Z", "day");
    assert_eq!(d["decision"], "wait");
    assert!(
        d["reason"].as_str().unwrap().contains("already started"),
        "{d}"
    );
    // The next day's window starts again.
    assert_eq!(
        decision(&h, "2026-07-02T08:00:00Z", "day")["decision"],
        "start"
    );
}

#[test]
fn scheduler_waits_for_previous_workflow_to_succeed() {
    let h = TestHome::new();
    wf(&h, "prices", "[[node]]\nid = \"p\"\ntask = \"noop\"\n");
    let sched = SCHEDULE_DAY.replace(
        "timezone = \"UTC\"\n",
        "timezone = \"UTC\"\nafter_workflows = [\"prices\"]\n",
    );
    wf(
        &h,
        "strategy",
        &format!("{sched}\n[[node]]\nid = \"s\"\ntask = \"noop\"\n"),
    );
    let d = decision(&h, WED_0800, "strategy");
    assert_eq!(d["decision"], "wait");
    assert!(
        d["reason"].as_str().unwrap().contains("never succeeded"),
        "{d}"
    );
    // A failed `prices` run does not count.
    wf(&h, "prices", "[[node]]\nid = \"p\"\ntask = \"fail\"\n");
    assert_eq!(
        h.cmd()
            .env("SYSTRADE_NOW", "2026-07-01T07:30:00Z")
            .args(["run", "prices"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
    assert_eq!(decision(&h, WED_0800, "strategy")["decision"], "wait");
    wf(&h, "prices", "[[node]]\nid = \"p\"\ntask = \"noop\"\n");
    assert_eq!(
        h.cmd()
            .env("SYSTRADE_NOW", "2026-07-01T07:40:00Z")
            .args(["run", "prices"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    let d = decision(&h, WED_0800, "strategy");
    assert_eq!(d["decision"], "start", "{d}");
}

#[test]
fn scheduler_once_starts_the_due_workflow_and_logs_it() {
    let h = TestHome::new();
    wf(&h, "nightly", &format!("{SCHEDULE_DAY}\n[[node]]\nid = \"a\"\ntask = \"shell\"\nparams = {{ script = 'echo scheduled-node-ran' }}\n"));
    // Outside its window, nothing starts.
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", "2026-07-04T12:00:00Z")
        .args(["scheduler", "--once"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(runs(&h).is_empty());

    let t0 = Instant::now();
    let out = h
        .cmd()
        .env("SYSTRADE_NOW", WED_0800)
        .args(["scheduler", "--once"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(t0.elapsed() < Duration::from_secs(20));
    let r = runs(&h);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (
            r[0]["workflow"].as_str(),
            r[0]["trigger"].as_str(),
            r[0]["status"].as_str()
        ),
        (Some("nightly"), Some("schedule"), Some("succeeded"))
    );
    assert!(
        ts(&r[0]["started_at"]) >= ts(&json!(WED_0800)),
        "recorded at the fake time"
    );
    let log = read(&h, "logs/nightly.log");
    assert!(log.contains("succeeded"), "log: {log}");
}

#[test]
fn nodes_pinned_to_another_machine_are_skipped_here() {
    let h = TestHome::new();
    h.workflow(
        "pinned",
        "[workflow]\nname = \"pinned\"\n[[node]]\nid = \"here\"\ntask = \"noop\"\n[[node]]\nid = \"there\"\ntask = \"noop\"\nmachine = \"some-other-host\"\n[[node]]\nid = \"after\"\ntask = \"noop\"\nafter = [\"there\"]\n",
    );
    let out = h.run(&["run", "pinned", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["nodes"]["here"], "succeeded");
    assert_eq!(summary["nodes"]["there"], "skipped");
    assert_eq!(summary["nodes"]["after"], "succeeded");
    let shown = h.json(&["show", &summary["run_id"].to_string(), "--json"]);
    let there = shown["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == "there")
        .unwrap()
        .clone();
    assert!(
        there["error"]
            .as_str()
            .unwrap()
            .contains("runs on machine `some-other-host`"),
        "{there}"
    );
}
