//! Stopping running work: STOP and SIGTERM reach running nodes (sleeps at once, commands by
//! SIGTERM then SIGKILL), and nodes with `upstream = "finished"` run whatever their upstream did,
//! also on the way out of a STOP; a price update stops between instruments. The stack
//! handler's stop is tested with the orders (`order_scenarios`, `order_lifecycle`).

use std::time::{Duration, Instant};

use crate::execution::{
    alive, assert_dead_soon, node, run_wf, runs, show, spawn, state, wait_exit, wait_for_file, wf,
};
use crate::support::{stderr, stdout, TestHome};

/// Sets STOP on `name` and returns how long the runner took to exit, with its exit code.
fn stop(h: &TestHome, name: &str, child: &mut std::process::Child) -> (Duration, Option<i32>) {
    assert_eq!(h.run(&["control", name, "stop"]).status.code(), Some(0));
    let t0 = Instant::now();
    let status = wait_exit(child, Duration::from_secs(20));
    (t0.elapsed(), status.code())
}

#[test]
fn stop_ends_a_running_sleep_at_once_and_finished_nodes_still_run() {
    let h = TestHome::new();
    wf(
        &h,
        "napping",
        "[[node]]\nid = \"mark\"\ntask = \"shell\"\nparams = { script = 'echo 1 > mark' }\n\n\
         [[node]]\nid = \"nap\"\ntask = \"sleep\"\nafter = [\"mark\"]\nparams = { duration = \"30s\" }\n\n\
         [[node]]\nid = \"orders\"\ntask = \"noop\"\nafter = [\"nap\"]\n\n\
         [[node]]\nid = \"cleanup\"\ntask = \"shell\"\nafter = [\"orders\"]\nupstream = \"finished\"\n\
         params = { script = 'touch cleanup.ran' }\n",
    );
    let mut child = spawn(&h, &["run", "napping"]);
    wait_for_file(&h, "mark", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let (took, code) = stop(&h, "napping", &mut child);
    assert!(
        took < Duration::from_secs(3),
        "a 30 s sleep took {took:?} to stop"
    );
    assert_eq!(code, Some(1));
    let s = show(&h, runs(&h)[0]["id"].as_i64().unwrap());
    assert_eq!(s["run"]["status"], "cancelled");
    assert_eq!(state(&s, "nap"), "cancelled");
    assert!(
        node(&s, "nap")["error"]
            .as_str()
            .unwrap_or_default()
            .contains("STOP"),
        "{}",
        node(&s, "nap")
    );
    assert_eq!(state(&s, "orders"), "cancelled");
    assert_eq!(state(&s, "cleanup"), "succeeded", "the way-out node runs");
    assert!(h.path().join("cleanup.ran").exists());
}

#[test]
fn a_finished_rule_node_runs_after_a_failure_and_a_default_one_does_not() {
    let h = TestHome::new();
    wf(
        &h,
        "broken",
        "[[node]]\nid = \"bad\"\ntask = \"fail\"\nretries = 0\n\n\
         [[node]]\nid = \"needs_bad\"\ntask = \"noop\"\nafter = [\"bad\"]\n\n\
         [[node]]\nid = \"housekeeping\"\ntask = \"shell\"\nafter = [\"needs_bad\"]\nupstream = \"finished\"\n\
         params = { script = 'touch housekeeping.ran' }\n",
    );
    let (code, id) = run_wf(&h, "broken");
    assert_eq!(code, 1);
    let s = show(&h, id);
    assert_eq!(state(&s, "bad"), "failed");
    assert_eq!(state(&s, "needs_bad"), "upstream_failed");
    assert_eq!(state(&s, "housekeeping"), "succeeded");
    assert!(h.path().join("housekeeping.ran").exists());
    assert_eq!(
        s["run"]["status"], "failed",
        "the run still reports the failure"
    );
}

#[test]
fn a_command_that_ignores_sigterm_is_killed_after_the_grace() {
    let h = TestHome::new();
    wf(
        &h,
        "stubborn",
        "[[node]]\nid = \"deaf\"\ntask = \"shell\"\n\
         params = { script = 'trap \"\" TERM; echo $$ > deaf.pid; sleep 60' }\n",
    );
    let mut child = spawn(&h, &["run", "stubborn"]);
    let pid: i32 = wait_for_file(&h, "deaf.pid", Duration::from_secs(20))
        .parse()
        .unwrap();
    let (took, code) = stop(&h, "stubborn", &mut child);
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(12),
        "SIGTERM ignored: expected the kill after the 5 s grace, took {took:?}"
    );
    assert_eq!(code, Some(1));
    assert!(
        !alive(pid) || {
            assert_dead_soon(pid);
            true
        }
    );
    let s = show(&h, runs(&h)[0]["id"].as_i64().unwrap());
    assert_eq!(state(&s, "deaf"), "cancelled");
    let err = node(&s, "deaf")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains("ignored SIGTERM") && err.contains("killed"),
        "{err}"
    );
}

#[test]
fn the_upstream_rule_is_validated_and_drawn() {
    let h = TestHome::new();
    wf(
        &h,
        "rules",
        "[[node]]\nid = \"a\"\ntask = \"noop\"\n\n\
         [[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"a\"]\nupstream = \"bogus\"\n",
    );
    let out = h.run(&["validate", "rules"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("rules.toml:")
            && err.contains("`node.b.upstream`")
            && err.contains("\"finished\""),
        "{err}"
    );

    wf(
        &h,
        "rules",
        "[[node]]\nid = \"a\"\ntask = \"noop\"\nupstream = \"finished\"\n",
    );
    let out = h.run(&["validate", "rules"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("needs `after`"), "{}", stderr(&out));

    wf(
        &h,
        "rules",
        "[[node]]\nid = \"a\"\ntask = \"noop\"\n\n\
         [[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"a\"]\nupstream = \"finished\"\n",
    );
    let out = h.run(&["dag", "rules", "--format", "ascii"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("<~"), "{}", stdout(&out));
    let dag = h.json(&["dag", "rules", "--format", "json"]);
    assert_eq!(dag["edges"][0]["when"], "finished", "{dag}");
}

#[test]
fn stop_ends_a_price_update_between_instruments() {
    let h = TestHome::new();
    // Sixty instruments of the shipped instrument file: the historical price update takes
    // seconds, a STOP ends it after the instrument at hand.
    let codes: Vec<String> = include_str!("../../config/instrumentconfig.csv")
        .lines()
        .skip(1)
        .take(60)
        .map(|l| format!("\"{}\"", l.split(',').next().unwrap()))
        .collect();
    std::fs::write(
        h.path().join("config.toml"),
        format!("[prices]\ninstruments = [{}]\n", codes.join(", ")),
    )
    .unwrap();
    wf(
        &h,
        "prices",
        "[[node]]\nid = \"sampled\"\ntask = \"update_sampled_contracts\"\n\n\
         [[node]]\nid = \"historical\"\ntask = \"update_historical_prices\"\nafter = [\"sampled\"]\n\n\
         [[node]]\nid = \"adjusted\"\ntask = \"update_multiple_adjusted_prices\"\nafter = [\"historical\"]\n\n\
         [[node]]\nid = \"housekeeping\"\ntask = \"noop\"\nafter = [\"adjusted\"]\nupstream = \"finished\"\n",
    );
    let mut child = spawn(&h, &["run", "prices"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(h.path().join("runner.out"))
        .unwrap_or_default()
        .contains("historical] started")
    {
        assert!(
            Instant::now() < deadline,
            "the historical update did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (took, code) = stop(&h, "prices", &mut child);
    assert_eq!(code, Some(1));
    let s = show(&h, runs(&h)[0]["id"].as_i64().unwrap());
    assert_eq!(state(&s, "historical"), "cancelled", "{s:#}");
    let error = node(&s, "historical")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let done: usize = error
        .split(" of 60 instruments updated")
        .next()
        .and_then(|head| head.rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the error says how far it got: {error}"));
    eprintln!("stopped after {done} of 60 instruments, {took:?} after the STOP: {error}");
    assert!(
        done < 60,
        "stopped after {done} of 60 instruments (took {took:?}): {error}"
    );
    assert_eq!(state(&s, "adjusted"), "cancelled");
    assert_eq!(
        state(&s, "housekeeping"),
        "succeeded",
        "the way-out node runs"
    );
}
