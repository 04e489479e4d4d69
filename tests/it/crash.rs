//! The crash drill: a runner is killed with SIGKILL while an external command runs in the middle
//! of a workflow. The command's whole process group must die with the runner (no orphan goes on
//! running); `startup` marks the run crashed; `rerun --last` re-executes only what did not
//! succeed, once. Also: a new run takes over a dead runner's lock by itself, a live runner's lock
//! refuses a second run (exit 3, naming the pid), and `startup` on a clean home finds nothing.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{bin, stderr, stdout, TestHome};

/// first -> middle -> last. Every execution appends "<run id> <node>" to runs.log. The middle
/// node's first execution records the PIDs of its guard, its shell and a grandchild `sleep`, then
/// blocks; later executions succeed at once.
const DRILL: &str = r#"
[workflow]
name = "drill"
max_concurrency = 2

[[node]]
id = "first"
task = "shell"
params = { script = 'echo "$SYSTRADE_RUN_ID first" >> runs.log' }

[[node]]
id = "middle"
task = "shell"
after = ["first"]
params = { script = '''
echo "$SYSTRADE_RUN_ID middle" >> runs.log
if [ ! -e started ]; then
  sleep 300 &
  echo $! > sleeper.pid
  echo $$ > shell.pid
  echo $PPID > guard.pid
  touch started
  wait
fi
''' }

[[node]]
id = "last"
task = "shell"
after = ["middle"]
params = { script = 'echo "$SYSTRADE_RUN_ID last" >> runs.log' }
"#;

/// A workflow whose only node blocks for a long time (to hold the lock).
pub(crate) const SLOW: &str = r#"
[workflow]
name = "slow"

[[node]]
id = "wait"
task = "shell"
params = { script = 'echo $$ > shell.pid; touch started; sleep 120' }
"#;

/// A spawned runner; killed (and reaped) on drop so a failing test leaves nothing behind.
pub(crate) struct Runner(Child);

impl std::ops::Deref for Runner {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Runner {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        // std remembers a reaped child, so this never signals a reused PID.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `systrade --home H ARGS` as a child process we can kill (stdout/stderr to files in the home).
pub(crate) fn spawn(home: &TestHome, args: &[&str]) -> Runner {
    let mut c = std::process::Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("SYSTRADE_") {
            c.env_remove(k);
        }
    }
    let out = std::fs::File::create(home.path().join("runner.out")).unwrap();
    let err = std::fs::File::create(home.path().join("runner.err")).unwrap();
    c.arg("--home")
        .arg(home.path())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    Runner(c.spawn().expect("spawn systrade"))
}

fn runner_output(home: &TestHome) -> String {
    let read = |f: &str| std::fs::read_to_string(home.path().join(f)).unwrap_or_default();
    format!(
        "runner stdout:\n{}\nrunner stderr:\n{}",
        read("runner.out"),
        read("runner.err")
    )
}

/// Polls until `path` exists; panics (killing the runner) after 60 s.
pub(crate) fn wait_for_file(home: &TestHome, runner: &mut Runner, name: &str) {
    let path = home.path().join(name);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if let Ok(Some(status)) = runner.try_wait() {
            panic!(
                "runner exited ({status}) before `{name}` appeared\n{}",
                runner_output(home)
            );
        }
        if Instant::now() > deadline {
            let _ = runner.kill();
            panic!(
                "`{name}` did not appear within 60 s\n{}",
                runner_output(home)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pid(dir: &Path, name: &str) -> i32 {
    // The file is written before `started` is touched, so it is complete here.
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name} = {text:?}: {e}"))
}

/// A process counts as gone when /proc has no entry or it is a zombie (dead, not yet reaped).
fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next()),
            Some("Z" | "X")
        ),
    }
}

fn sigkill(runner: &mut Runner) {
    // SAFETY: kill(2) on the PID of our own (not yet reaped) child; no memory is involved.
    let r = unsafe { libc::kill(runner.id() as i32, libc::SIGKILL) };
    assert_eq!(
        r,
        0,
        "kill -9 {}: {}",
        runner.id(),
        std::io::Error::last_os_error()
    );
    let status = runner.wait().expect("reap the killed runner");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "runner should have died of SIGKILL: {status}"
    );
}

/// The PIDs the middle node recorded: (guard, shell, sleeper).
struct Drill {
    run_id: i64,
    guard: i32,
    shell: i32,
    sleeper: i32,
}

/// Starts `systrade run drill`, waits until the middle node blocks, and checks that the recorded
/// processes are alive and the run is `running` with `first` done and `middle` running.
fn start_drill(home: &TestHome) -> (Runner, Drill) {
    home.workflow("drill", DRILL);
    let mut runner = spawn(home, &["run", "drill"]);
    wait_for_file(home, &mut runner, "started");
    let dir = home.path();
    let (guard, shell, sleeper) = (
        read_pid(dir, "guard.pid"),
        read_pid(dir, "shell.pid"),
        read_pid(dir, "sleeper.pid"),
    );
    for (what, pid) in [("guard", guard), ("shell", shell), ("sleeper", sleeper)] {
        assert!(
            !process_gone(pid),
            "the {what} (pid {pid}) should be alive while the node runs"
        );
    }
    assert_ne!(
        guard as u32,
        runner.id(),
        "the command must run under `systrade __guard`, not directly under the runner"
    );
    let runs = home.json(&["runs", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "running");
    assert_eq!(runs[0]["pid"], runner.id() as i64);
    let run_id = runs[0]["id"].as_i64().unwrap();
    let shown = home.json(&["show", &run_id.to_string(), "--json"]);
    assert_eq!(node(&shown, "first")["state"], "succeeded");
    assert_eq!(node(&shown, "middle")["state"], "running");
    assert_eq!(node(&shown, "last")["state"], "pending");
    (
        runner,
        Drill {
            run_id,
            guard,
            shell,
            sleeper,
        },
    )
}

/// Kills the runner with SIGKILL and asserts that the middle node's processes die within 2 s.
fn crash(runner: &mut Runner, d: &Drill) {
    sigkill(runner);
    let deadline = Instant::now() + Duration::from_secs(2);
    let procs = [
        ("guard", d.guard),
        ("shell", d.shell),
        ("sleep grandchild", d.sleeper),
    ];
    while procs.iter().any(|(_, p)| !process_gone(*p)) {
        if Instant::now() > deadline {
            let alive: Vec<String> = procs
                .iter()
                .filter(|(_, p)| !process_gone(*p))
                .map(|(w, p)| format!("{w} (pid {p})"))
                .collect();
            for (_, p) in procs {
                // SAFETY: best-effort cleanup of the orphans this test just found.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            panic!(
                "orphans still running 2 s after the runner was killed: {}",
                alive.join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn node<'a>(show: &'a Value, id: &str) -> &'a Value {
    show["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node_id"] == id)
        .unwrap_or_else(|| panic!("no node {id} in {show}"))
}

/// Lines of runs.log as (run id, node).
fn marker_lines(home: &TestHome) -> Vec<(i64, String)> {
    std::fs::read_to_string(home.path().join("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (run, node) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad marker line {l:?}"));
            (run.parse().unwrap(), node.to_string())
        })
        .collect()
}

/// Checks the rerun `new` of crashed run `old`: trigger, parent, reuse of `first`, the others run
/// exactly once, and the markers: `first` once overall, `middle` once per run, `last` once.
fn assert_rerun_completed(home: &TestHome, old: i64, new: i64) {
    let shown = home.json(&["show", &new.to_string(), "--json"]);
    assert_eq!(shown["run"]["status"], "succeeded", "{shown}");
    assert_eq!(shown["run"]["trigger"], "rerun");
    assert_eq!(shown["run"]["parent_run_id"], old);
    let first = node(&shown, "first");
    assert_eq!(first["state"], "succeeded");
    assert_eq!(first["reused_from"], old, "{first}");
    assert_eq!(
        first["attempts"], 0,
        "a reused node is not executed: {first}"
    );
    for id in ["middle", "last"] {
        let n = node(&shown, id);
        assert_eq!(n["state"], "succeeded", "{n}");
        assert_eq!(n["executions"], 1, "{n}");
        assert_eq!(n["attempts"], 1, "{n}");
        assert!(n["reused_from"].is_null(), "{n}");
    }
    let attempts: Vec<&str> = shown["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        attempts,
        ["middle", "last"],
        "the rerun executes exactly the nodes that did not succeed"
    );
    let expected = vec![
        (old, "first".to_string()),
        (old, "middle".to_string()),
        (new, "middle".to_string()),
        (new, "last".to_string()),
    ];
    assert_eq!(
        marker_lines(home),
        expected,
        "first ran once (before the crash); middle and last once in the rerun"
    );
    let old_shown = home.json(&["show", &old.to_string(), "--json"]);
    assert_eq!(
        old_shown["run"]["status"], "crashed",
        "the crashed run stays crashed: {old_shown}"
    );
}

#[test]
fn kill_9_during_external_node_then_startup_and_rerun_last() {
    let home = TestHome::new();
    let (mut runner, d) = start_drill(&home);
    crash(&mut runner, &d);

    // The store still says running: nobody has noticed yet. `status` sees a dead lock holder.
    let runs = home.json(&["runs", "--json"]);
    assert_eq!(runs[0]["id"], d.run_id);
    assert_eq!(runs[0]["status"], "running", "{runs}");
    let status = home.json(&["status", "--json"]);
    let wf = status["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workflow"] == "drill")
        .expect("drill in status");
    assert_eq!(wf["last_run"]["status"], "running", "{wf}");
    assert!(
        wf["running"].is_null(),
        "a dead runner is not reported as running: {wf}"
    );
    assert_eq!(wf["stale_lock"]["run_id"], d.run_id, "{wf}");

    let startup = home.json(&["startup", "--json"]);
    assert_eq!(
        startup["crashed_runs"],
        serde_json::json!([d.run_id]),
        "{startup}"
    );
    assert_eq!(startup["still_running"], serde_json::json!([]), "{startup}");
    // The crash is a critical alert.
    let alerts = home.json(&["alerts", "--json"]);
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "run_crashed"
                && a["run_id"] == d.run_id
                && a["severity"] == "critical"),
        "{alerts}"
    );
    let shown = home.json(&["show", &d.run_id.to_string(), "--json"]);
    assert_eq!(shown["run"]["status"], "crashed", "{shown}");
    assert!(
        shown["run"]["finished_at"].is_string(),
        "a crashed run gets an end time: {shown}"
    );
    assert_eq!(node(&shown, "first")["state"], "succeeded");
    assert_eq!(node(&shown, "middle")["state"], "crashed");
    // A node that never started in a crashed run is not left `pending` in a finished run.
    assert_eq!(node(&shown, "last")["state"], "cancelled");
    assert_eq!(
        node(&shown, "last")["error"],
        "not started: the run crashed"
    );
    let middle_attempts: Vec<&Value> = shown["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["node_id"] == "middle")
        .collect();
    assert_eq!(middle_attempts.len(), 1);
    assert_eq!(middle_attempts[0]["status"], "crashed", "{shown}");
    // A second startup finds nothing new; the lock is gone.
    let again = home.json(&["startup", "--json"]);
    assert_eq!(again["crashed_runs"], serde_json::json!([]), "{again}");
    let status = home.json(&["status", "--json"]);
    let wf = status["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workflow"] == "drill")
        .unwrap();
    assert!(
        wf["stale_lock"].is_null() && wf["running"].is_null(),
        "{wf}"
    );

    let out = home.run(&["rerun", "--last", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "rerun --last failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    let summary: Value =
        serde_json::from_slice(&out.stdout).expect("rerun --json prints the run summary");
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(
        summary["crashed_runs_recovered"],
        serde_json::json!([]),
        "startup already recovered it: {summary}"
    );
    let new = summary["run_id"].as_i64().unwrap();
    assert!(new > d.run_id);
    assert_rerun_completed(&home, d.run_id, new);

    // Nothing is left to re-run, and nothing crashed any more.
    let out = home.run(&["rerun", "--last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("nothing to re-run"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        home.json(&["runs", "--json"]).as_array().unwrap().len(),
        2,
        "no third run is recorded"
    );
    assert_eq!(
        home.json(&["startup", "--json"])["crashed_runs"],
        serde_json::json!([])
    );
}

#[test]
fn rerun_after_kill_9_takes_over_the_dead_runners_lock_without_startup() {
    let home = TestHome::new();
    let (mut runner, d) = start_drill(&home);
    crash(&mut runner, &d);

    let out = home.run(&["rerun", "--last", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "rerun --last failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "succeeded", "{summary}");
    assert_eq!(
        summary["crashed_runs_recovered"],
        serde_json::json!([d.run_id]),
        "the new run marks the dead one crashed: {summary}"
    );
    let new = summary["run_id"].as_i64().unwrap();
    let old = home.json(&["show", &d.run_id.to_string(), "--json"]);
    assert_eq!(old["run"]["status"], "crashed", "{old}");
    assert_eq!(node(&old, "middle")["state"], "crashed", "{old}");
    assert_rerun_completed(&home, d.run_id, new);
    assert_eq!(
        home.json(&["startup", "--json"])["crashed_runs"],
        serde_json::json!([]),
        "nothing is left for startup"
    );
}

#[test]
fn run_after_kill_9_takes_over_the_dead_runners_lock_without_startup() {
    let home = TestHome::new();
    let (mut runner, d) = start_drill(&home);
    crash(&mut runner, &d);

    // `started` exists now, so this time the middle node does not block.
    let out = home.run(&["run", "drill", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["crashed_runs_recovered"],
        serde_json::json!([d.run_id]),
        "{summary}"
    );
    let new = summary["run_id"].as_i64().unwrap();
    assert_eq!(
        home.json(&["show", &d.run_id.to_string(), "--json"])["run"]["status"],
        "crashed"
    );
    let shown = home.json(&["show", &new.to_string(), "--json"]);
    assert_eq!(shown["run"]["trigger"], "manual");
    assert_eq!(shown["run"]["status"], "succeeded");
    let markers = marker_lines(&home);
    let in_new: Vec<&str> = markers
        .iter()
        .filter(|(r, _)| *r == new)
        .map(|(_, n)| n.as_str())
        .collect();
    assert_eq!(
        in_new,
        ["first", "middle", "last"],
        "a plain run runs every node: {markers:?}"
    );
}

#[test]
fn the_scheduler_marks_a_dead_runners_run_crashed_and_raises_its_alert() {
    let home = TestHome::new();
    let (mut runner, d) = start_drill(&home);
    crash(&mut runner, &d);
    let out = home.run(&["scheduler", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = home.json(&["show", &d.run_id.to_string(), "--json"]);
    assert_eq!(shown["run"]["status"], "crashed", "{shown}");
    let alerts = home.json(&["alerts", "--json"]);
    let crashed: Vec<&Value> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "run_crashed")
        .collect();
    assert_eq!(crashed.len(), 1, "{alerts}");
    assert_eq!(crashed[0]["run_id"], d.run_id);
    assert!(
        crashed[0]["body"]
            .as_str()
            .unwrap()
            .contains("by the scheduler"),
        "{alerts}"
    );
    // Nothing is left for startup to find (and alert again).
    assert_eq!(
        home.json(&["startup", "--json"])["crashed_runs"],
        serde_json::json!([])
    );
}

#[test]
fn second_run_while_one_is_alive_is_refused_with_exit_3_naming_the_pid() {
    let home = TestHome::new();
    home.workflow("slow", SLOW);
    let mut runner = spawn(&home, &["run", "slow"]);
    wait_for_file(&home, &mut runner, "started");
    let pid = runner.id();

    let out = home.run(&["run", "slow"]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(&out)
    );
    assert!(err.contains("already running"), "{err}");
    assert!(
        err.contains(&format!("pid {pid}")),
        "the refusal names the holder's pid {pid}: {err}"
    );
    let runs = home.json(&["runs", "--json"]);
    assert_eq!(
        runs.as_array().unwrap().len(),
        1,
        "no second run is recorded: {runs}"
    );
    assert_eq!(runs[0]["status"], "running");
    let run_id = runs[0]["id"].as_i64().unwrap();

    // A rerun of the live run is refused the same way.
    let out = home.run(&["rerun", &run_id.to_string()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("already running"), "{}", stderr(&out));

    // startup leaves a live runner alone.
    let startup = home.json(&["startup", "--json"]);
    assert_eq!(startup["crashed_runs"], serde_json::json!([]), "{startup}");
    let alive = startup["still_running"].as_array().unwrap();
    assert_eq!(alive.len(), 1, "{startup}");
    assert_eq!(alive[0]["workflow"], "slow");
    assert_eq!(alive[0]["pid"], pid as i64);
    let status = home.json(&["status", "--json"]);
    let wf = status["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workflow"] == "slow")
        .unwrap();
    assert_eq!(wf["running"]["pid"], pid as i64, "{wf}");
    assert_eq!(wf["running"]["run_id"], run_id, "{wf}");
    assert_eq!(home.json(&["runs", "--json"]).as_array().unwrap().len(), 1);
    assert_eq!(
        home.json(&["show", &run_id.to_string(), "--json"])["run"]["status"],
        "running",
        "startup did not touch the live run"
    );

    let shell = read_pid(home.path(), "shell.pid");
    sigkill(&mut runner);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !process_gone(shell) {
        if Instant::now() > deadline {
            // SAFETY: best-effort cleanup of the process group this test found orphaned.
            unsafe {
                let pgid = libc::getpgid(shell);
                if pgid > 1 {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
            panic!("the node's shell (pid {shell}) survived its runner");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        home.json(&["startup", "--json"])["crashed_runs"],
        serde_json::json!([run_id])
    );
}

#[test]
fn startup_on_a_home_where_nothing_crashed_reports_nothing() {
    let home = TestHome::new();
    let empty = home.json(&["startup", "--json"]);
    assert_eq!(empty["crashed_runs"], serde_json::json!([]), "{empty}");
    assert_eq!(empty["still_running"], serde_json::json!([]), "{empty}");
    let out = home.run(&["startup"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("no crashed runs found"),
        "{}",
        stdout(&out)
    );

    // After runs that finished normally (one succeeded, one failed) there is still nothing.
    home.workflow(
        "fine",
        "[workflow]\nname = \"fine\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\n[[node]]\nid = \"b\"\ntask = \"shell\"\nafter = [\"a\"]\nparams = { script = \"true\" }\n",
    );
    home.workflow(
        "broken",
        "[workflow]\nname = \"broken\"\n[[node]]\nid = \"x\"\ntask = \"fail\"\n",
    );
    assert_eq!(home.run(&["run", "fine"]).status.code(), Some(0));
    assert_eq!(home.run(&["run", "broken"]).status.code(), Some(1));
    let after = home.json(&["startup", "--json"]);
    assert_eq!(after["crashed_runs"], serde_json::json!([]), "{after}");
    assert_eq!(after["still_running"], serde_json::json!([]), "{after}");
    let statuses: Vec<Value> = home
        .json(&["runs", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [serde_json::json!("failed"), serde_json::json!("succeeded")],
        "startup changed no finished run"
    );
}
