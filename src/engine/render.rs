//! DAG pictures for `systrade dag`: ASCII (layered), Graphviz dot, Mermaid and JSON, optionally
//! coloured by the node states of one run.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::json;

use super::plan::Dag;
use super::spec::WorkflowSpec;
use super::store::NodeState;

/// Output formats of `systrade dag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DagFormat {
    Ascii,
    Dot,
    Mermaid,
    Json,
}

/// Fill colour per state (dot and mermaid).
pub fn state_colour(state: NodeState) -> &'static str {
    match state {
        NodeState::Succeeded => "#8fd18f",
        NodeState::Failed | NodeState::Crashed => "#f08080",
        NodeState::UpstreamFailed => "#f4b183",
        NodeState::Running | NodeState::Retrying => "#87cefa",
        NodeState::Cancelled => "#d3d3d3",
        NodeState::Skipped => "#f5f5f5",
        NodeState::Pending => "#ffffff",
    }
}

fn ansi(state: NodeState) -> &'static str {
    match state {
        NodeState::Succeeded => "\x1b[32m",
        NodeState::Failed | NodeState::Crashed => "\x1b[31m",
        NodeState::UpstreamFailed => "\x1b[33m",
        NodeState::Running | NodeState::Retrying => "\x1b[36m",
        _ => "\x1b[2m",
    }
}

pub fn render(
    spec: &WorkflowSpec,
    dag: &Dag,
    states: Option<&BTreeMap<String, NodeState>>,
    format: DagFormat,
    colour: bool,
) -> String {
    match format {
        DagFormat::Ascii => ascii(spec, dag, states, colour),
        DagFormat::Dot => dot(spec, dag, states),
        DagFormat::Mermaid => mermaid(dag, states),
        DagFormat::Json => {
            let depths = dag.depths();
            let nodes: Vec<_> = spec
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    json!({
                        "id": n.id, "task": n.task, "after": n.after, "depth": depths[i],
                        "upstream": n.upstream.as_str(),
                        "state": states.and_then(|s| s.get(&n.id)).map(|s| s.as_str()),
                    })
                })
                .collect();
            let edges: Vec<_> = (0..dag.len())
                .flat_map(|i| dag.downstream[i].iter().map(move |&d| (i, d)))
                .map(|(a, b)| match spec.nodes[b].upstream {
                    super::spec::UpstreamRule::Succeeded => {
                        json!({"from": dag.ids[a], "to": dag.ids[b]})
                    }
                    super::spec::UpstreamRule::Finished => {
                        json!({"from": dag.ids[a], "to": dag.ids[b], "when": "finished"})
                    }
                })
                .collect();
            serde_json::to_string_pretty(
                &json!({"workflow": spec.name, "nodes": nodes, "edges": edges}),
            )
            .unwrap_or_default()
        }
    }
}

fn ascii(
    spec: &WorkflowSpec,
    dag: &Dag,
    states: Option<&BTreeMap<String, NodeState>>,
    colour: bool,
) -> String {
    // Nodes that run on completion only come last, whatever their (empty) `after`.
    let regular_depth = |i: usize, d: usize| {
        if spec.nodes[i].on_completion_only {
            None
        } else {
            Some(d)
        }
    };
    let depths: Vec<Option<usize>> = dag
        .depths()
        .into_iter()
        .enumerate()
        .map(|(i, d)| regular_depth(i, d))
        .collect();
    let max_depth = depths.iter().flatten().copied().max().unwrap_or(0);
    let width = dag.ids.iter().map(String::len).max().unwrap_or(4);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({} nodes{})",
        spec.name,
        dag.len(),
        if spec.description.is_empty() {
            String::new()
        } else {
            format!(": {}", spec.description)
        }
    );
    let mut stages: Vec<(String, Vec<usize>)> = (0..=max_depth)
        .map(|l| {
            (
                format!("stage {}", l + 1),
                (0..dag.len()).filter(|&i| depths[i] == Some(l)).collect(),
            )
        })
        .collect();
    stages.push((
        "on completion".into(),
        (0..dag.len()).filter(|&i| depths[i].is_none()).collect(),
    ));
    for (title, members) in stages {
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}");
        for i in members {
            let n = &spec.nodes[i];
            let state = states.and_then(|s| s.get(&n.id)).copied();
            let mark = match state {
                Some(s) => format!(" [{s}]"),
                None => String::new(),
            };
            let ups: Vec<&str> = dag.upstream[i]
                .iter()
                .map(|&u| dag.ids[u].as_str())
                .collect();
            // `<-` waits for success, `<~` for the upstream to finish in any state.
            let arrow = match n.upstream {
                super::spec::UpstreamRule::Succeeded => "<-",
                super::spec::UpstreamRule::Finished => "<~",
            };
            let after = if ups.is_empty() {
                String::new()
            } else {
                format!("  {arrow} {}", ups.join(", "))
            };
            let flags = match (&n.repeat, n.on_completion_only) {
                (Some(r), _) => format!(
                    "  (every {}{})",
                    super::duration::format_duration(r.every),
                    r.max_runs.map(|m| format!(", max {m}")).unwrap_or_default()
                ),
                _ => String::new(),
            };
            let (pre, post) = match (colour, state) {
                (true, Some(s)) => (ansi(s), "\x1b[0m"),
                _ => ("", ""),
            };
            let _ = writeln!(
                out,
                "  {pre}{:<width$}{mark}{post}  {}{after}{flags}",
                n.id, n.task
            );
        }
    }
    if spec
        .nodes
        .iter()
        .any(|n| n.upstream == super::spec::UpstreamRule::Finished)
    {
        out.push_str("<- runs when its upstream succeeded; <~ once its upstream has finished, whatever the outcome\n");
    }
    out
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn dot(spec: &WorkflowSpec, dag: &Dag, states: Option<&BTreeMap<String, NodeState>>) -> String {
    let mut out = format!("digraph {} {{\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\"];\n", quote(&spec.name));
    for n in &spec.nodes {
        let state = states.and_then(|s| s.get(&n.id)).copied();
        let label = match state {
            Some(s) => format!("{}\\n{}\\n[{s}]", n.id, n.task),
            None => format!("{}\\n{}", n.id, n.task),
        };
        let fill = state
            .map(|s| format!(", fillcolor=\"{}\"", state_colour(s)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} [label=\"{}\"{fill}];",
            quote(&n.id),
            label.replace('"', "\\\"")
        );
    }
    for i in 0..dag.len() {
        for &d in &dag.downstream[i] {
            let style = match spec.nodes[d].upstream {
                super::spec::UpstreamRule::Succeeded => "",
                super::spec::UpstreamRule::Finished => " [style=dashed, label=\"finished\"]",
            };
            let _ = writeln!(
                out,
                "  {} -> {}{style};",
                quote(&dag.ids[i]),
                quote(&dag.ids[d])
            );
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid(dag: &Dag, states: Option<&BTreeMap<String, NodeState>>) -> String {
    // Mermaid ids must be simple: number the nodes and label them with the real id.
    let mut out = String::from("graph TD\n");
    for (i, id) in dag.ids.iter().enumerate() {
        let _ = writeln!(out, "  n{i}[\"{}\"]", id.replace('"', "#quot;"));
    }
    for i in 0..dag.len() {
        for &d in &dag.downstream[i] {
            let _ = writeln!(out, "  n{i} --> n{d}");
        }
    }
    if let Some(states) = states {
        for (i, id) in dag.ids.iter().enumerate() {
            if let Some(s) = states.get(id) {
                let _ = writeln!(out, "  style n{i} fill:{}", state_colour(*s));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::build_dag;
    use crate::engine::spec::parse_workflow;

    fn sample() -> (WorkflowSpec, Dag) {
        let text = "[workflow]\nname = \"w\"\n[[node]]\nid = \"a\"\ntask = \"noop\"\n[[node]]\nid = \"b\"\ntask = \"noop\"\nafter = [\"a\"]\n[[node]]\nid = \"z\"\ntask = \"noop\"\non_completion_only = true\n";
        let spec = parse_workflow("w.toml", text.as_bytes(), Some("w")).unwrap();
        let dag = build_dag(&spec).unwrap();
        (spec, dag)
    }

    #[test]
    fn ascii_lists_stages_and_completion_nodes_last() {
        let (spec, dag) = sample();
        let text = render(&spec, &dag, None, DagFormat::Ascii, false);
        let a = text.find("stage 1").unwrap();
        let b = text.find("stage 2").unwrap();
        let z = text.find("on completion").unwrap();
        assert!(a < b && b < z, "{text}");
        assert!(text.contains("b  noop  <- a"), "{text}");
    }

    #[test]
    fn dot_and_mermaid_colour_by_state() {
        let (spec, dag) = sample();
        let states: BTreeMap<String, NodeState> = [
            ("a".to_string(), NodeState::Succeeded),
            ("b".to_string(), NodeState::Failed),
        ]
        .into();
        let dot = render(&spec, &dag, Some(&states), DagFormat::Dot, false);
        assert!(dot.contains("\"a\" -> \"b\";"), "{dot}");
        assert!(dot.contains(state_colour(NodeState::Failed)), "{dot}");
        let mermaid = render(&spec, &dag, Some(&states), DagFormat::Mermaid, false);
        assert!(
            mermaid.contains("n0 --> n1") && mermaid.contains("style n1 fill:#f08080"),
            "{mermaid}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&spec, &dag, Some(&states), DagFormat::Json, false))
                .unwrap();
        assert_eq!(json["nodes"][1]["state"], "failed");
        assert_eq!(json["edges"][0]["from"], "a");
    }
}
