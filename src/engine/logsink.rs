//! A tracing layer that captures events inside a `run` span (and its `node` spans) into a buffer
//! that the executor flushes to the run store, so every run's log is kept with the run.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::store::LogEvent;

/// Events waiting to be written to the run store.
#[derive(Clone, Default)]
pub struct LogBuffer {
    events: Arc<Mutex<Vec<LogEvent>>>,
}

impl LogBuffer {
    pub fn push(&self, e: LogEvent) {
        if let Ok(mut v) = self.events.lock() {
            v.push(e);
        }
    }

    pub fn drain(&self) -> Vec<LogEvent> {
        self.events
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// The layer; install it next to the terminal formatter.
pub struct StoreLogLayer {
    buffer: LogBuffer,
}

impl StoreLogLayer {
    pub fn new(buffer: LogBuffer) -> Self {
        Self { buffer }
    }
}

#[derive(Default, Clone)]
struct RunIds {
    run_id: Option<i64>,
    node_id: Option<String>,
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: Map<String, Value>,
    ids: RunIds,
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "run_id" {
            self.ids.run_id = Some(value);
        }
        self.rest.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "run_id" {
            self.ids.run_id = i64::try_from(value).ok();
        }
        self.rest.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.rest.insert(field.name().into(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "node_id" => {
                self.ids.node_id = Some(value.to_string());
                self.rest.insert("node_id".into(), Value::from(value));
            }
            name => {
                self.rest.insert(name.into(), Value::from(value));
            }
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "message" => self.message = text,
            "node_id" => self.ids.node_id = Some(text.trim_matches('"').to_string()),
            name => {
                self.rest.insert(name.into(), Value::from(text));
            }
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for StoreLogLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if f.ids.run_id.is_some() || f.ids.node_id.is_some() {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(f.ids);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let e = capture(event, &ctx);
        if e.run_id.is_some() {
            self.buffer.push(e);
        }
    }
}

/// The event as a [`LogEvent`], with run and node ids taken from the enclosing spans.
pub fn capture<S: Subscriber + for<'a> LookupSpan<'a>>(
    event: &Event<'_>,
    ctx: &Context<'_, S>,
) -> LogEvent {
    {
        let mut ids = RunIds::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(found) = span.extensions().get::<RunIds>() {
                    ids.run_id = ids.run_id.or(found.run_id);
                    if ids.node_id.is_none() {
                        ids.node_id.clone_from(&found.node_id);
                    }
                }
            }
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let run_id = f.ids.run_id.or(ids.run_id);
        f.rest.remove("run_id");
        f.rest.remove("node_id");
        LogEvent {
            run_id,
            node_id: f.ids.node_id.or(ids.node_id),
            ts: Utc::now(),
            level: event.metadata().level().as_str().to_ascii_lowercase(),
            target: event.metadata().target().to_string(),
            message: super::secrets::mask_owned(f.message),
            fields: if f.rest.is_empty() {
                None
            } else {
                Some(super::secrets::mask_json(Value::Object(f.rest)))
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn captures_events_inside_run_and_node_spans_only() {
        let buffer = LogBuffer::default();
        let subscriber = tracing_subscriber::registry().with(StoreLogLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any run");
            let run = tracing::info_span!("run", run_id = 7_i64, workflow = "w");
            let _r = run.enter();
            tracing::info!("run level");
            let node = tracing::info_span!("node", node_id = "fx", attempt = 1);
            let _n = node.enter();
            tracing::warn!(rows = 3, "inside node");
        });
        let events = buffer.drain();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].run_id, Some(7));
        assert_eq!(events[0].node_id, None);
        assert_eq!(events[1].node_id.as_deref(), Some("fx"));
        assert_eq!(events[1].level, "warn");
        assert_eq!(events[1].fields.as_ref().unwrap()["rows"], 3);
    }
}
