//! `report`: runs one report (`report = "NAME"`, see `systrade report list`), so each report is
//! one node: retried, recorded, and failing alone. Where it goes is the `[reports]` config's
//! output for it (pysystemtrade's `reports:` key): a file `<home>/reports/NAME_YYYY-MM-DD.EXT`
//! in `format` (html by default; text, json, csv), e-mail, both, or nowhere; `email = true` on
//! the node e-mails it as well. `instrument` limits it to one instrument where the report takes
//! that. The output names the file.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::config::ReportOutput;
use crate::domain::reports::ReportOptions;
use crate::engine::task::{parse_params, Params, Task, TaskContext, TaskError, TaskKind};
use crate::reports::render::{render, Format};
use crate::reports::{build, spec, write, ReportError};

pub struct Report;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportParams {
    report: String,
    #[serde(default = "html")]
    format: String,
    instrument: Option<String>,
    /// Also e-mail it (see `App::email_report`).
    #[serde(default)]
    email: bool,
}

fn html() -> String {
    "html".into()
}

struct ReportTask {
    name: &'static str,
    format: Format,
    options: ReportOptions,
    email: bool,
}

impl TaskKind<App> for Report {
    fn name(&self) -> &'static str {
        "report"
    }
    fn summary(&self) -> &'static str {
        "writes one report into the home's reports directory"
    }
    fn build(&self, params: &Params) -> Result<Arc<dyn Task<App>>, Vec<String>> {
        let p: ReportParams = parse_params(params)?;
        let mut errors = Vec::new();
        let spec = spec(&p.report)
            .map_err(|e| errors.push(format!("report: {e}")))
            .ok();
        let format = Format::parse(&p.format);
        if format.is_none() {
            errors.push(format!(
                "format: `{}` is not one of: html, text, json, csv",
                p.format
            ));
        }
        if let Some(s) = spec {
            if p.instrument.is_some() && !s.options.contains(&"instrument") {
                errors.push(format!(
                    "instrument: report `{}` does not take an instrument",
                    s.name
                ));
            }
        }
        match (spec, format) {
            (Some(spec), Some(format)) if errors.is_empty() => Ok(Arc::new(ReportTask {
                name: spec.name,
                format,
                email: p.email,
                options: ReportOptions {
                    instrument: p.instrument,
                    ..Default::default()
                },
            })),
            _ => Err(errors),
        }
    }
}

#[async_trait]
impl Task<App> for ReportTask {
    async fn run(&self, ctx: &TaskContext<App>) -> Result<Value, TaskError> {
        let app = &ctx.app;
        // Where it goes: [reports] config, and e-mail too when the node asks for it.
        let mut output = app.config.reports.output_of(self.name);
        if self.email {
            output = match output {
                ReportOutput::File | ReportOutput::Both => ReportOutput::Both,
                ReportOutput::Email | ReportOutput::None => ReportOutput::Email,
            };
        }
        // The status report is still made for its stale-data alert when it goes nowhere.
        if output == ReportOutput::None && self.name != "status" {
            tracing::info!(report = self.name, "not made: reports output is \"none\"");
            return Ok(json!({ "report": self.name, "output": "none" }));
        }
        let report = build(app, self.name, &self.options)
            .await
            .map_err(|e| match e {
                ReportError::Invalid(m) => TaskError::fatal(m),
                ReportError::Data(m) => TaskError::fatal(m),
            })?;
        let mut out =
            json!({ "report": self.name, "title": report.title, "output": output.as_str() });
        if output.to_file() {
            let path = write::path_in(
                &app.home.reports_dir(),
                self.name,
                self.format,
                app.clock.now(),
            );
            write::atomically(&path, &render(&report, self.format)).map_err(|e| {
                TaskError::retryable(format!("cannot write {}: {e}", path.display()))
            })?;
            tracing::info!(report = self.name, path = %path.display(), "{} written", report.title);
            out["path"] = json!(path.display().to_string());
        }
        // Stale prices or optimal positions on a trading day are a critical alert.
        let now = app.clock.now();
        let weekday = !matches!(
            chrono::Datelike::weekday(&now),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        if self.name == "status" && weekday {
            if let Some(body) = crate::reports::status::stale_data(&report) {
                let raised = app
                    .raise(crate::domain::alerts::NewAlert {
                        severity: crate::domain::alerts::Severity::Critical,
                        kind: "stale_data".into(),
                        subject: "stale prices or optimal positions".into(),
                        body: body.clone(),
                        context: crate::domain::alerts::AlertContext {
                            run_id: Some(ctx.run_id),
                            node: Some(ctx.node_id.clone()),
                            ..Default::default()
                        },
                    })
                    .await
                    .map_err(|e| TaskError::retryable(e.to_string()))?;
                tracing::warn!(report = self.name, alert = raised.id, "{body}");
                out["stale"] = json!(body);
            }
        }
        if output.to_email() {
            if app.mailer.is_none() {
                return Err(TaskError::fatal(format!(
                    "reports output \"{}\": {}",
                    output.as_str(),
                    crate::domain::alerts::AlertError::NotConfigured
                )));
            }
            // A failed send is kept as an alert; the node succeeds (the file is written).
            let sent = app
                .email_report(&report)
                .await
                .map_err(|e| TaskError::retryable(e.to_string()))?;
            out["emailed"] = json!(sent);
        }
        Ok(out)
    }
}
