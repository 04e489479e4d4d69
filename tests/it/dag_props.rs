//! Property tests of the executor on random DAGs, in process through the library (no binary).
//!
//! Each case builds a random DAG (1..=25 nodes, each with a random subset of earlier nodes as
//! upstream, written to the TOML in a shuffled order) and a random `max_concurrency` (1..=6), and
//! runs it with a recording task kind `rec` against a real SQLite run store. The task appends
//! start/end events to a log in the application context, so the order in which the executor
//! really ran things can be checked: every node runs exactly once, never before its upstreams
//! ended, never more than `max_concurrency` at a time; with random failures, a failed node's
//! descendants never start and are `upstream_failed`, everything else still runs, and the run
//! fails exactly when some node failed. The store must agree with what happened.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::Deserialize;
use serde_json::{json, Value};

use systrade::adapters::store::sqlite::{Durability, SqliteRunStore};
use systrade::engine::catalogue::Catalogue;
use systrade::engine::clock::SystemClock;
use systrade::engine::executor::{Executor, RunRequest, RunSummary, Silent};
use systrade::engine::plan::build_plan;
use systrade::engine::process::ProcessIdentity;
use systrade::engine::spec::parse_workflow;
use systrade::engine::store::{
    AttemptRecord, NodeRecord, NodeState, RunRecord, RunStatus, RunStore, Trigger,
};
use systrade::engine::task::{
    parse_params, EngineEnv, Params, Registry, Task, TaskContext, TaskError, TaskKind,
};

/// What a `rec` task saw, in the order it happened (the index in the log is the global order).
#[derive(Debug, Clone)]
enum Event {
    Start {
        node: String,
        inputs: BTreeMap<String, Value>,
    },
    End {
        node: String,
    },
}

/// The application context of these tests: the shared event log.
#[derive(Default)]
struct TestCtx {
    log: Mutex<Vec<Event>>,
}

/// Task kind `rec`: records start and end, pauses `pause_ms` in between (0: just yields), then
/// succeeds with its node id as output, or fails fatally when `fail = true`.
struct Rec;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecParams {
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    pause_ms: u64,
}

struct RecTask {
    fail: bool,
    pause: Duration,
}

impl TaskKind<TestCtx> for Rec {
    fn name(&self) -> &'static str {
        "rec"
    }
    fn summary(&self) -> &'static str {
        "records its start and end in the test context"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<TestCtx>>, Vec<String>> {
        let p: RecParams = parse_params(params)?;
        Ok(Arc::new(RecTask {
            fail: p.fail,
            pause: Duration::from_millis(p.pause_ms),
        }))
    }
}

#[async_trait]
impl Task<TestCtx> for RecTask {
    async fn run(&self, ctx: &TaskContext<TestCtx>) -> Result<Value, TaskError> {
        ctx.app.log.lock().unwrap().push(Event::Start {
            node: ctx.node_id.clone(),
            inputs: ctx.inputs.clone(),
        });
        if self.pause.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(self.pause).await;
        }
        ctx.app.log.lock().unwrap().push(Event::End {
            node: ctx.node_id.clone(),
        });
        if self.fail {
            Err(TaskError::fatal(format!(
                "{} fails on purpose",
                ctx.node_id
            )))
        } else {
            Ok(json!(ctx.node_id))
        }
    }
}

/// One generated workflow.
#[derive(Debug, Clone)]
struct Case {
    max_concurrency: usize,
    /// Upstream node indices of node `i` (all `< i`).
    upstream: Vec<Vec<usize>>,
    fail: Vec<bool>,
    pause_ms: Vec<u64>,
    /// The order in which nodes are written to the file.
    file_order: Vec<usize>,
}

impl Case {
    fn n(&self) -> usize {
        self.upstream.len()
    }

    fn toml(&self) -> String {
        let mut s = format!(
            "[workflow]\nname = \"p\"\nmax_concurrency = {}\n",
            self.max_concurrency
        );
        for &i in &self.file_order {
            let after: Vec<String> = self.upstream[i]
                .iter()
                .map(|u| format!("\"n{u}\""))
                .collect();
            s.push_str(&format!(
                "\n[[node]]\nid = \"n{i}\"\ntask = \"rec\"\nafter = [{}]\nparams = {{ fail = {}, pause_ms = {} }}\n",
                after.join(", "),
                self.fail[i],
                self.pause_ms[i]
            ));
        }
        s
    }

    /// The final state each node must reach (node indices are a topological order).
    fn expected_states(&self) -> Vec<NodeState> {
        let mut st: Vec<NodeState> = Vec::with_capacity(self.n());
        for i in 0..self.n() {
            st.push(
                if self.upstream[i]
                    .iter()
                    .any(|&u| st[u] != NodeState::Succeeded)
                {
                    NodeState::UpstreamFailed
                } else if self.fail[i] {
                    NodeState::Failed
                } else {
                    NodeState::Succeeded
                },
            );
        }
        st
    }
}

/// Random DAGs; each node fails with probability `fail_p`.
fn cases(fail_p: f64) -> impl Strategy<Value = Case> {
    (1usize..=25, 1usize..=6)
        .prop_flat_map(move |(n, k)| {
            let upstream: Vec<_> = (0..n)
                .map(|i| proptest::collection::vec(proptest::bool::weighted(0.3), i))
                .collect();
            let order = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
            (
                Just(k),
                upstream,
                proptest::collection::vec(proptest::bool::weighted(fail_p), n),
                proptest::collection::vec(0u64..3, n),
                order,
            )
        })
        .prop_map(
            |(max_concurrency, masks, fail, pause_ms, file_order)| Case {
                max_concurrency,
                upstream: masks
                    .iter()
                    .map(|m| {
                        m.iter()
                            .enumerate()
                            .filter(|(_, b)| **b)
                            .map(|(j, _)| j)
                            .collect()
                    })
                    .collect(),
                fail,
                pause_ms,
                file_order,
            },
        )
}

/// Everything recorded about one executed case.
struct Outcome {
    summary: RunSummary,
    events: Vec<Event>,
    run: RunRecord,
    nodes: Vec<NodeRecord>,
    attempts: Vec<AttemptRecord>,
    locks_left: usize,
}

/// A home with one run store, shared by all cases of a test (each case is a new run).
struct Harness {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    store: Arc<SqliteRunStore>,
    catalogue: Catalogue,
    registry: Registry<TestCtx>,
}

impl Harness {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            rt.block_on(SqliteRunStore::open(
                &dir.path().join("systrade.db"),
                Durability::Normal,
            ))
            .expect("open run store"),
        );
        let mut catalogue = Catalogue::default();
        catalogue
            .add_file(
                "test-tasks.toml",
                b"[[task]]\nname = \"rec\"\nhandler = \"rec\"\n",
            )
            .expect("catalogue");
        let kinds: [&'static dyn TaskKind<TestCtx>; 1] = [&Rec];
        Self {
            rt,
            dir,
            store,
            catalogue,
            registry: Registry::new(&kinds),
        }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn execute(&self, case: &Case) -> Outcome {
        let text = case.toml();
        let spec = parse_workflow("p.toml", text.as_bytes(), Some("p"))
            .unwrap_or_else(|d| panic!("generated workflow does not parse: {d}\n{text}"));
        let plan = build_plan(spec, &self.catalogue, &self.registry, None)
            .unwrap_or_else(|d| panic!("generated workflow is invalid: {d}\n{text}"));
        let app = Arc::new(TestCtx::default());
        // The sender must outlive the run: a closed channel counts as a cancel.
        let (_cancel_tx, cancel) = tokio::sync::watch::channel(false);
        let executor = Executor {
            env: Arc::new(EngineEnv {
                home: self.home().to_path_buf(),
                store: self.store.clone(),
                guard_exe: None,
                host: "test-host".into(),
            }),
            app: app.clone(),
            clock: Arc::new(SystemClock),
            identity: ProcessIdentity::current(),
            logs: None,
            observer: Arc::new(Silent),
            cancel,
        };
        self.rt.block_on(async {
            let summary = executor
                .execute(&plan, RunRequest::manual())
                .await
                .unwrap_or_else(|e| panic!("engine error: {e}\n{text}"));
            let store = &self.store;
            let run = store
                .get_run(summary.run_id)
                .await
                .unwrap()
                .expect("run recorded");
            let nodes = store.run_nodes(summary.run_id).await.unwrap();
            let attempts = store.attempts(summary.run_id).await.unwrap();
            let locks_left = store.locks().await.unwrap().len();
            let events = app.log.lock().unwrap().clone();
            Outcome {
                summary,
                events,
                run,
                nodes,
                attempts,
                locks_left,
            }
        })
    }
}

fn id(i: usize) -> String {
    format!("n{i}")
}

/// Checks every property of one executed case against the states the DAG implies.
fn check(case: &Case, o: &Outcome) -> Result<(), TestCaseError> {
    let n = case.n();
    let expected = case.expected_states();
    let ran = |i: usize| expected[i] != NodeState::UpstreamFailed;
    let index = |node: &str| -> usize { node[1..].parse().unwrap() };

    // Event log: starts and ends per node, positions, concurrency, inputs.
    let mut starts: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut ends: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut running = 0usize;
    let mut peak = 0usize;
    for (pos, e) in o.events.iter().enumerate() {
        match e {
            Event::Start { node, inputs } => {
                let i = index(node);
                starts[i].push(pos);
                running += 1;
                peak = peak.max(running);
                let want: BTreeMap<String, Value> = case.upstream[i]
                    .iter()
                    .map(|&u| (id(u), json!(id(u))))
                    .collect();
                prop_assert_eq!(
                    inputs,
                    &want,
                    "inputs of {} are its upstreams' outputs",
                    node
                );
            }
            Event::End { node } => {
                ends[index(node)].push(pos);
                prop_assert!(running > 0, "{} ended without a start", node);
                running -= 1;
            }
        }
    }
    prop_assert!(
        peak <= case.max_concurrency,
        "{} nodes ran at once with max_concurrency {}",
        peak,
        case.max_concurrency
    );
    for i in 0..n {
        let times = usize::from(ran(i));
        prop_assert_eq!(
            starts[i].len(),
            times,
            "n{} ({:?}) started {} times",
            i,
            expected[i],
            starts[i].len()
        );
        prop_assert_eq!(
            ends[i].len(),
            times,
            "n{} ({:?}) ended {} times",
            i,
            expected[i],
            ends[i].len()
        );
        if !ran(i) {
            continue;
        }
        prop_assert!(starts[i][0] < ends[i][0]);
        for &u in &case.upstream[i] {
            prop_assert!(
                ends[u].first().is_some_and(|&e| e < starts[i][0]),
                "n{} started before its upstream n{} ended",
                i,
                u
            );
        }
    }

    // The run store agrees with what happened.
    prop_assert_eq!(o.nodes.len(), n);
    for rec in &o.nodes {
        let i = index(&rec.node_id);
        prop_assert_eq!(rec.state, expected[i], "stored state of {}", rec.node_id);
        prop_assert_eq!(rec.task.as_str(), "rec");
        prop_assert_eq!(
            rec.executions,
            u32::from(ran(i)),
            "executions of {}",
            rec.node_id
        );
        prop_assert_eq!(
            rec.attempts,
            u32::from(ran(i)),
            "attempts of {}",
            rec.node_id
        );
        prop_assert!(rec.reused_from.is_none());
        prop_assert!(rec.finished_at.is_some(), "{} has no end time", rec.node_id);
        match expected[i] {
            NodeState::Succeeded => {
                prop_assert_eq!(&rec.output, &Some(json!(rec.node_id)));
                prop_assert!(rec.error.is_none(), "{}: {:?}", rec.node_id, rec.error);
                prop_assert!(rec.started_at.is_some());
            }
            NodeState::Failed => prop_assert!(
                rec.error
                    .as_deref()
                    .is_some_and(|e| e.contains("fails on purpose")),
                "{}: {:?}",
                rec.node_id,
                rec.error
            ),
            _ => {
                prop_assert!(rec.started_at.is_none(), "{} never started", rec.node_id);
                prop_assert!(
                    rec.error
                        .as_deref()
                        .is_some_and(|e| e.contains("upstream did not succeed")),
                    "{}: {:?}",
                    rec.node_id,
                    rec.error
                );
            }
        }
    }
    let ran_ids: BTreeSet<String> = (0..n).filter(|&i| ran(i)).map(id).collect();
    let attempt_ids: Vec<String> = o.attempts.iter().map(|a| a.node_id.clone()).collect();
    prop_assert_eq!(
        attempt_ids.len(),
        ran_ids.len(),
        "one attempt per node that ran: {:?}",
        attempt_ids
    );
    prop_assert_eq!(
        attempt_ids.iter().cloned().collect::<BTreeSet<_>>(),
        ran_ids
    );
    for a in &o.attempts {
        let i = index(&a.node_id);
        prop_assert_eq!((a.execution, a.attempt), (1, 1));
        prop_assert_eq!(a.status, expected[i], "attempt status of {}", a.node_id);
        prop_assert!(a.finished_at.is_some_and(|f| f >= a.started_at));
    }

    // The run's status: failed iff some node failed.
    let any_failed = expected.contains(&NodeState::Failed);
    let want_status = if any_failed {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    prop_assert_eq!(o.summary.status, want_status);
    prop_assert_eq!(o.run.status, want_status);
    prop_assert_eq!(o.run.trigger, Trigger::Manual);
    prop_assert!(o.run.finished_at.is_some());
    let summary_nodes: BTreeMap<String, NodeState> = (0..n).map(|i| (id(i), expected[i])).collect();
    prop_assert_eq!(&o.summary.nodes, &summary_nodes);
    if any_failed {
        let msg = o.summary.message.clone().unwrap_or_default();
        for i in (0..n).filter(|&i| expected[i] == NodeState::Failed) {
            prop_assert!(
                msg.split([' ', ',']).any(|w| w == id(i)),
                "run message {:?} names failed node n{}",
                msg,
                i
            );
        }
    }
    prop_assert_eq!(
        o.locks_left,
        0,
        "the workflow lock is released when the run ends"
    );
    Ok(())
}

/// Runs `cases` through the executor, `count` of them; returns how many had a failing node.
fn run_property(count: u32, fail_p: f64) -> u32 {
    let harness = Harness::new();
    let failing = std::cell::Cell::new(0u32);
    // No failure persistence: a failing case is printed (minimised), not written next to the source.
    let mut runner = TestRunner::new(Config {
        cases: count,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&cases(fail_p), |case| {
        let outcome = harness.execute(&case);
        if case.expected_states().contains(&NodeState::Failed) {
            failing.set(failing.get() + 1);
        }
        check(&case, &outcome)
            .map_err(|e| TestCaseError::fail(format!("{e}\nworkflow:\n{}", case.toml())))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    failing.get()
}

#[test]
fn every_node_runs_once_after_its_upstreams_within_max_concurrency() {
    let failing = run_property(32, 0.0);
    assert_eq!(failing, 0);
}

#[test]
fn failures_block_exactly_their_descendants_and_fail_the_run() {
    let failing = run_property(32, 0.15);
    // The generator must actually exercise failures (32 cases at 15% per node).
    assert!(failing > 0, "no generated case had a failing node");
}

#[test]
fn a_failed_root_blocks_its_chain_while_an_independent_branch_finishes() {
    // a fixed example of the property, readable on its own: n0 fails; n1 -> n2 depend on it;
    // n3 -> n4 are independent.
    let case = Case {
        max_concurrency: 2,
        upstream: vec![vec![], vec![0], vec![1], vec![], vec![3]],
        fail: vec![true, false, false, false, false],
        pause_ms: vec![1; 5],
        file_order: vec![4, 2, 0, 3, 1],
    };
    let harness = Harness::new();
    let o = harness.execute(&case);
    check(&case, &o).unwrap();
    let states: Vec<NodeState> = o.nodes.iter().map(|r| r.state).collect();
    let by_id: BTreeMap<&str, NodeState> = o
        .nodes
        .iter()
        .map(|r| r.node_id.as_str())
        .zip(states)
        .collect();
    assert_eq!(by_id["n0"], NodeState::Failed);
    assert_eq!(by_id["n1"], NodeState::UpstreamFailed);
    assert_eq!(by_id["n2"], NodeState::UpstreamFailed);
    assert_eq!(by_id["n3"], NodeState::Succeeded);
    assert_eq!(by_id["n4"], NodeState::Succeeded);
    assert_eq!(o.run.status, RunStatus::Failed);
}
