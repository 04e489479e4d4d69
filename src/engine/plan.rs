//! A validated, runnable workflow: the spec checked against the task catalogue and the Rust task
//! registry, its graph checked with petgraph (duplicates, unknown or self `after`, cycles with
//! their path), and one built task per node.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use super::catalogue::{Catalogue, TaskImpl};
use super::diagnostic::{did_you_mean, Diagnostic, Diagnostics, SourceText};
use super::external::{placeholders, ExternalCommand, BUILTIN_PLACEHOLDERS};
use super::spec::{NodeSpec, WorkflowSpec};
use super::task::{Params, Registry, Task};

/// The node graph with indices in file order.
#[derive(Debug, Clone)]
pub struct Dag {
    pub ids: Vec<String>,
    pub index: HashMap<String, usize>,
    pub upstream: Vec<Vec<usize>>,
    pub downstream: Vec<Vec<usize>>,
    /// A topological order.
    pub topo: Vec<usize>,
}

impl Dag {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The node and every node it depends on, transitively.
    pub fn with_upstream(&self, start: usize) -> Vec<usize> {
        self.closure(start, &self.upstream)
    }

    /// The node and every node that depends on it, transitively.
    pub fn with_downstream(&self, start: usize) -> Vec<usize> {
        self.closure(start, &self.downstream)
    }

    fn closure(&self, start: usize, edges: &[Vec<usize>]) -> Vec<usize> {
        let mut seen = vec![false; self.len()];
        let mut stack = vec![start];
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut seen[n], true) {
                stack.extend(&edges[n]);
            }
        }
        (0..self.len()).filter(|i| seen[*i]).collect()
    }

    /// Longest-path depth of each node (0 for roots), for layered rendering.
    pub fn depths(&self) -> Vec<usize> {
        let mut depth = vec![0; self.len()];
        for &n in &self.topo {
            for &u in &self.upstream[n] {
                depth[n] = depth[n].max(depth[u] + 1);
            }
        }
        depth
    }
}

/// A workflow ready to execute.
pub struct Plan<C: 'static> {
    pub spec: Arc<WorkflowSpec>,
    pub dag: Dag,
    /// Built task per node index.
    pub tasks: Vec<Arc<dyn Task<C>>>,
    /// Effective params per node index (task defaults + node params).
    pub params: Vec<Params>,
}

/// Builds the graph of a spec, reporting every structural error.
pub fn build_dag(spec: &WorkflowSpec) -> Result<Dag, Diagnostics> {
    let fallback = SourceText::new(&spec.source_path, "");
    let src = spec.source().unwrap_or(&fallback);
    let path = &spec.source_path;
    let mut errs = Vec::new();
    let mut index = HashMap::with_capacity(spec.nodes.len());
    for (i, n) in spec.nodes.iter().enumerate() {
        if let Some(prev) = index.insert(n.id.clone(), i) {
            errs.push(
                Diagnostic::new(
                    path,
                    format!(
                        "duplicate node id `{}` (first defined on line {})",
                        n.id, spec.nodes[prev].line
                    ),
                )
                .at(src, n.spans.id)
                .key(format!("node.{}.id", n.id)),
            );
            index.insert(n.id.clone(), prev);
        }
    }
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(spec.nodes.len(), spec.nodes.len());
    let idx: Vec<NodeIndex> = (0..spec.nodes.len()).map(|i| graph.add_node(i)).collect();
    let mut upstream = vec![Vec::new(); spec.nodes.len()];
    let mut downstream = vec![Vec::new(); spec.nodes.len()];
    let ids: Vec<&str> = spec.nodes.iter().map(|n| n.id.as_str()).collect();
    for (i, n) in spec.nodes.iter().enumerate() {
        for (j, a) in n.after.iter().enumerate() {
            let at = n.spans.after.get(j).copied().unwrap_or(n.spans.node);
            let key = format!("node.{}.after", n.id);
            if a == &n.id {
                errs.push(
                    Diagnostic::new(path, format!("node `{a}` lists itself in `after`"))
                        .at(src, at)
                        .key(key),
                );
                continue;
            }
            match index.get(a) {
                None => errs.push(
                    Diagnostic::new(
                        path,
                        format!("node `{}` runs after unknown node `{a}`", n.id),
                    )
                    .at(src, at)
                    .key(key)
                    .help_opt(did_you_mean(a, ids.iter().copied())),
                ),
                Some(&u) => {
                    if upstream[i].contains(&u) {
                        continue;
                    }
                    upstream[i].push(u);
                    downstream[u].push(i);
                    graph.add_edge(idx[u], idx[i], ());
                }
            }
        }
    }
    if !errs.is_empty() {
        return Err(Diagnostics(errs));
    }
    let topo = match toposort(&graph, None) {
        Ok(order) => order.into_iter().map(|n| graph[n]).collect(),
        Err(_) => {
            for scc in tarjan_scc(&graph) {
                if scc.len() > 1 {
                    let members: Vec<usize> = scc.iter().map(|n| graph[*n]).collect();
                    let cycle = cycle_path(&members, &downstream);
                    let names: Vec<&str> =
                        cycle.iter().map(|&i| spec.nodes[i].id.as_str()).collect();
                    let first = &spec.nodes[cycle[0]];
                    errs.push(
                        Diagnostic::new(path, format!("cycle in `after`: {}", names.join(" -> ")))
                            .at(src, first.spans.node)
                            .key(format!("node.{}.after", first.id)),
                    );
                }
            }
            return Err(Diagnostics(errs));
        }
    };
    Ok(Dag {
        ids: spec.nodes.iter().map(|n| n.id.clone()).collect(),
        index,
        upstream,
        downstream,
        topo,
    })
}

/// A concrete cycle inside a strongly connected component, closed (first node repeated at the end).
fn cycle_path(members: &[usize], downstream: &[Vec<usize>]) -> Vec<usize> {
    let in_scc = |n: usize| members.contains(&n);
    let start = *members.iter().min().unwrap_or(&0);
    // Breadth-first search from start back to start within the component gives a shortest cycle.
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for &d in &downstream[n] {
            if !in_scc(d) {
                continue;
            }
            if d == start {
                let mut path = vec![n];
                let mut cur = n;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(d) {
                e.insert(n);
                queue.push_back(d);
            }
        }
    }
    vec![start, start]
}

/// Checks a spec against the catalogue and registry and builds its tasks. `known_workflows`,
/// when given, is used to check `after_workflows`.
pub fn build_plan<C: Send + Sync + 'static>(
    spec: WorkflowSpec,
    catalogue: &Catalogue,
    registry: &Registry<C>,
    known_workflows: Option<&[String]>,
) -> Result<Plan<C>, Diagnostics> {
    let dag_result = build_dag(&spec);
    let fallback = SourceText::new(&spec.source_path, "");
    let src = spec.source().unwrap_or(&fallback);
    let path = spec.source_path.clone();
    let mut errs = Vec::new();
    let mut tasks: Vec<Arc<dyn Task<C>>> = Vec::with_capacity(spec.nodes.len());
    let mut params_out = Vec::with_capacity(spec.nodes.len());
    for n in &spec.nodes {
        match node_task(n, catalogue, registry) {
            Ok((task, params)) => {
                tasks.push(task);
                params_out.push(params);
            }
            Err(list) => errs.extend(list.into_iter().map(|(offset, key, msg, help)| {
                Diagnostic::new(&path, msg)
                    .at(src, offset.unwrap_or(n.spans.node))
                    .key(key)
                    .help_opt(help)
            })),
        }
        if n.repeat.as_ref().is_some_and(|r| r.max_runs.is_none()) && spec.schedule.is_none() {
            errs.push(
                Diagnostic::new(&path, format!("node `{}` repeats `every` without `max_runs`, but the workflow has no schedule whose stop time would end it", n.id))
                    .at(src, n.spans.node)
                    .key(format!("node.{}.max_runs", n.id))
                    .help("add `max_runs = N`, or a [workflow.schedule] with a stop time"),
            );
        }
    }
    if let Ok(dag) = &dag_result {
        for (i, n) in spec.nodes.iter().enumerate() {
            if n.on_completion_only && !dag.upstream[i].is_empty() {
                errs.push(
                    Diagnostic::new(&path, format!("node `{}` runs on completion only (after every other node): it cannot also have `after`", n.id))
                        .at(src, n.spans.node)
                        .key(format!("node.{}.after", n.id)),
                );
            }
            for &d in &dag.downstream[i] {
                if n.on_completion_only {
                    let down = &spec.nodes[d];
                    errs.push(
                        Diagnostic::new(
                            &path,
                            format!(
                                "node `{}` runs after `{}`, which runs on completion only",
                                down.id, n.id
                            ),
                        )
                        .at(src, down.spans.node)
                        .key(format!("node.{}.after", down.id)),
                    );
                }
            }
        }
    }
    if let (Some(known), Some(schedule)) = (known_workflows, &spec.schedule) {
        for (j, w) in schedule.after_workflows.iter().enumerate() {
            let at = spec
                .schedule_spans
                .as_ref()
                .and_then(|s| s.after_workflows.get(j))
                .copied()
                .unwrap_or(0);
            if w == &spec.name {
                errs.push(
                    Diagnostic::new(&path, format!("workflow `{w}` cannot wait for itself"))
                        .at(src, at)
                        .key("workflow.schedule.after_workflows"),
                );
            } else if !known.contains(w) {
                errs.push(
                    Diagnostic::new(&path, format!("unknown workflow `{w}` in after_workflows"))
                        .at(src, at)
                        .key("workflow.schedule.after_workflows")
                        .help_opt(did_you_mean(w, known.iter().map(String::as_str))),
                );
            }
        }
    }
    let dag = match dag_result {
        Ok(dag) => dag,
        Err(mut graph_errs) => {
            graph_errs.0.extend(errs);
            return Err(graph_errs);
        }
    };
    if !errs.is_empty() {
        return Err(Diagnostics(errs));
    }
    Ok(Plan {
        spec: Arc::new(spec),
        dag,
        tasks,
        params: params_out,
    })
}

/// (byte offset, key, message, help) of a node-level error.
type NodeError = (Option<usize>, String, String, Option<String>);
/// A node's built task and effective params.
type BuiltNode<C> = (Arc<dyn Task<C>>, Params);

fn node_task<C: Send + Sync + 'static>(
    n: &NodeSpec,
    catalogue: &Catalogue,
    registry: &Registry<C>,
) -> Result<BuiltNode<C>, Vec<NodeError>> {
    let key = |field: &str| format!("node.{}.{field}", n.id);
    let Some(def) = catalogue.get(&n.task) else {
        return Err(vec![(
            Some(n.spans.task),
            key("task"),
            format!("unknown task `{}`", n.task),
            did_you_mean(&n.task, catalogue.names()),
        )]);
    };
    let mut params: Params = def.params.clone();
    match &def.implementation {
        TaskImpl::Command(template) => {
            let mut errs = Vec::new();
            for (k, v) in &n.params {
                if !def.params.contains_key(k) {
                    let help =
                        did_you_mean(k, def.params.keys().map(String::as_str)).or_else(|| {
                            Some(format!(
                                "task `{}` takes: {}",
                                def.name,
                                def.params.keys().cloned().collect::<Vec<_>>().join(", ")
                            ))
                        });
                    errs.push((
                        n.spans.params.get(k).copied(),
                        key(&format!("params.{k}")),
                        format!("unknown param `{k}` for task `{}`", def.name),
                        help,
                    ));
                }
                params.insert(k.clone(), v.clone());
            }
            for arg in template {
                for p in placeholders(arg).unwrap_or_default() {
                    if !params.contains_key(&p) && !BUILTIN_PLACEHOLDERS.contains(&p.as_str()) {
                        errs.push((
                            None,
                            key("params"),
                            format!("no value for `{{{p}}}` used by task `{}`", def.name),
                            None,
                        ));
                    }
                }
            }
            if !errs.is_empty() {
                return Err(errs);
            }
            let task: Arc<dyn Task<C>> = Arc::new(ExternalCommand {
                template: template.clone(),
                params: params.clone(),
            });
            Ok((task, params))
        }
        TaskImpl::Handler(handler) => {
            let Some(kind) = registry.get(handler) else {
                return Err(vec![(
                    Some(n.spans.task),
                    key("task"),
                    format!(
                        "task `{}` ({}) names handler `{handler}`, which this build does not have",
                        def.name, def.defined_at
                    ),
                    did_you_mean(handler, registry.names()),
                )]);
            };
            for (k, v) in &n.params {
                params.insert(k.clone(), v.clone());
            }
            let first_param = n.spans.params.values().min().copied();
            match kind.build(&params) {
                Ok(task) => Ok((task, params)),
                Err(msgs) => Err(msgs
                    .into_iter()
                    .map(|m| {
                        let offset = n
                            .spans
                            .params
                            .iter()
                            .find(|(k, _)| m.contains(&format!("`{k}`")))
                            .map(|(_, o)| *o)
                            .or(first_param);
                        let help = unknown_field_help(&m);
                        (
                            offset,
                            key("params"),
                            format!("task `{}`: {m}", def.name),
                            help,
                        )
                    })
                    .collect()),
            }
        }
    }
}

/// "did you mean" for serde's `unknown field `x`, expected one of ...` messages.
fn unknown_field_help(msg: &str) -> Option<String> {
    let rest = msg.split("unknown field `").nth(1)?;
    let (field, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    did_you_mean(field, candidates)
}

/// Effective params by node id, for display.
pub fn params_by_node<C>(plan: &Plan<C>) -> BTreeMap<String, Params> {
    plan.dag
        .ids
        .iter()
        .cloned()
        .zip(plan.params.iter().cloned())
        .collect()
}
