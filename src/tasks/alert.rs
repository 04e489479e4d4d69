//! `alert`: raises an alert from a workflow (`severity` info|warning|critical, `subject`,
//! `body`, `kind`, `instrument`): recorded and e-mailed by the alert rules (`domain::alerts`),
//! with the run and node as its context. The node succeeds whether or not the e-mail went.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::domain::alerts::{AlertContext, NewAlert, Severity};
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};

pub struct Alert;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertParams {
    #[serde(default = "warning")]
    severity: String,
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default = "workflow")]
    kind: String,
    instrument: Option<String>,
}

fn warning() -> String {
    "warning".into()
}

fn workflow() -> String {
    "workflow".into()
}

struct AlertTask {
    severity: Severity,
    p: AlertParams,
}

impl TaskKind<App> for Alert {
    fn name(&self) -> &'static str {
        "alert"
    }
    fn summary(&self) -> &'static str {
        "raises an alert (recorded, e-mailed by the de-duplication rules)"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: AlertParams = parse_params(params)?;
        let mut errors = Vec::new();
        let severity = Severity::parse(&p.severity);
        if severity.is_none() {
            errors.push(format!(
                "severity: `{}` is not one of: info, warning, critical",
                p.severity
            ));
        }
        if p.subject.trim().is_empty() {
            errors.push("subject: must not be empty".into());
        }
        match severity {
            Some(severity) if errors.is_empty() => Ok(Arc::new(AlertTask { severity, p })),
            _ => Err(errors),
        }
    }
}

#[async_trait]
impl Task<App> for AlertTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let alert = NewAlert {
            severity: self.severity,
            kind: self.p.kind.clone(),
            subject: self.p.subject.clone(),
            body: self.p.body.clone(),
            context: AlertContext {
                instrument: self.p.instrument.clone(),
                run_id: Some(ctx.run_id),
                node: Some(ctx.node_id.clone()),
            },
        };
        let raised = ctx
            .app
            .raise(alert)
            .await
            .map_err(|e| TaskError::retryable(e.to_string()))?;
        Ok(json!(raised))
    }
}
