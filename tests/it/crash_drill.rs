//! The crash drill over the whole day (`systrade bench --crash-drill`): the shipped daily
//! workflow killed with SIGKILL at random moments of each of its stages, recovered with
//! `startup` and `rerun --last`, and compared with an uninterrupted run of the same day:
//! positions at all three levels, the broker's orders and fills, price series and backtest
//! states equal; no broker order sent twice; no run left running; no partial file under a final
//! name.

use serde_json::Value;

use crate::support::{stderr, stdout, TestHome};

#[test]
fn the_daily_workflow_killed_at_24_random_moments_recovers_to_the_uninterrupted_day() {
    let h = TestHome::new();
    let out = h.run(&[
        "bench",
        "--nodes",
        "1",
        "--validate-nodes",
        "1",
        "--repeat",
        "1",
        "--crash-drill",
        "24",
        "--seed",
        "7",
        "--json",
    ]);
    let report: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}\n{}", stdout(&out), stderr(&out)));
    let drill = &report["crash_drill"];
    let failed: Vec<&Value> = drill["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["ok"] != true)
        .collect();
    assert!(
        failed.is_empty(),
        "trials that did not recover: {failed:#?}"
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(drill["trials"], 24);
    assert_eq!(drill["passed"], 24);
    // The kills landed while the day was under way, across its stages.
    let killed = drill["killed"].as_u64().expect("killed");
    assert!(
        killed >= 20,
        "only {killed} of 24 runs were killed: {drill}"
    );
    let hit = drill["stages_hit"].as_object().expect("stages");
    for stage in ["prices", "backtest", "stack_handler", "reports"] {
        assert!(hit.contains_key(stage), "no kill during {stage}: {hit:?}");
    }
    assert!(hit.len() >= 6, "kills during only {hit:?}");
}
