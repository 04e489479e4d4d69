//! Terminal output while workflows run: a tracing layer printing compact log lines to stderr,
//! and a progress bar (on a terminal) or plain lines (otherwise) as nodes change state.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::engine::executor::{RunObserver, RunSummary};
use crate::engine::logsink::capture;
use crate::engine::store::NodeState;

/// The active progress bar, so log lines print above it instead of through it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn print_line(line: &str) {
    let bar = ACTIVE_BAR.lock().ok().and_then(|b| b.clone());
    match bar {
        Some(bar) => bar.println(line),
        None => {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }
}

/// Compact log lines on stderr: `HH:MM:SS LEVEL [run 3 fx] message key=value`.
pub struct TerminalLayer {
    pub max_level: Level,
    pub colour: bool,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for TerminalLayer {
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() > self.max_level {
            return;
        }
        let e = capture(event, &ctx);
        let scope = match (e.run_id, &e.node_id) {
            (Some(r), Some(n)) => format!("[run {r} {n}] "),
            (Some(r), None) => format!("[run {r}] "),
            _ => String::new(),
        };
        let fields = super::output::fields_suffix(e.fields.as_ref());
        let level = e.level.to_ascii_uppercase();
        let level = if self.colour {
            let c = match e.level.as_str() {
                "error" => "\x1b[31m",
                "warn" => "\x1b[33m",
                "info" => "\x1b[32m",
                _ => "\x1b[2m",
            };
            format!("{c}{level:<5}\x1b[0m")
        } else {
            format!("{level:<5}")
        };
        let time = e.ts.with_timezone(&chrono::Local).format("%H:%M:%S");
        print_line(&format!("{time} {level} {scope}{}{fields}", e.message));
    }
}

/// Progress of one run: a bar on a terminal, nothing extra otherwise (log lines say it all).
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        let on_terminal = enabled && std::io::stderr().is_terminal();
        Self {
            bar: on_terminal.then(ProgressBar::hidden),
        }
    }
}

impl RunObserver for Progress {
    fn run_started(&self, run_id: i64, workflow: &str, nodes: usize) {
        if let Some(bar) = &self.bar {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(nodes as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} nodes {elapsed} {wide_msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(format!("{workflow} run {run_id}"));
            if let Ok(mut a) = ACTIVE_BAR.lock() {
                *a = Some(bar.clone());
            }
        }
    }

    fn node_changed(&self, node_id: &str, state: NodeState, _attempt: u32, _detail: Option<&str>) {
        if let Some(bar) = &self.bar {
            if state.is_final() {
                bar.inc(1);
            }
            bar.set_message(format!("{node_id}: {state}"));
        }
    }

    fn run_finished(&self, _summary: &RunSummary) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            if let Ok(mut a) = ACTIVE_BAR.lock() {
                *a = None;
            }
        }
    }
}
