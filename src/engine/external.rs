//! External command tasks: `{param}` templating, stdout/stderr captured into the run log, a JSON
//! output file, and process-group kill on timeout, cancel or runner crash.
//!
//! Each command runs under `systrade __guard`, a tiny parent in its own process group. The guard
//! watches its parent: if the runner dies (even by `kill -9`) the guard kills the whole group, so
//! no orphan goes on running after a crash. On timeout or abort the runner kills the group itself;
//! asked to stop (STOP, Ctrl-C) it sends SIGTERM first and SIGKILL after [`TERM_GRACE`].

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::task::{Params, Task, TaskContext, TaskError};

/// Placeholders every command may use besides its params.
pub const BUILTIN_PLACEHOLDERS: &[&str] = &[
    "run_id",
    "node_id",
    "workflow",
    "attempt",
    "execution",
    "home",
];

/// Largest output file accepted from a command (outputs are meant to be small).
const MAX_OUTPUT_BYTES: u64 = 1 << 20;

/// Names of the `{placeholders}` in one argument; `{{` and `}}` are literal braces.
pub fn placeholders(arg: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = arg.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|p| p.1) == Some('{') => {
                chars.next();
            }
            '}' if chars.peek().map(|p| p.1) == Some('}') => {
                chars.next();
            }
            '{' => {
                let rest = &arg[i + 1..];
                let end = rest.find('}').ok_or_else(|| format!("unclosed `{{` in command argument `{arg}` (write `{{{{` for a literal brace)"))?;
                let name = &rest[..end];
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!(
                        "invalid placeholder `{{{name}}}` in command argument `{arg}`"
                    ));
                }
                out.push(name.to_string());
                for _ in 0..=end {
                    chars.next();
                }
            }
            '}' => {
                return Err(format!(
                    "unmatched `}}` in command argument `{arg}` (write `}}}}` for a literal brace)"
                ))
            }
            _ => {}
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Fills placeholders. An argument that is exactly `{list}` expands to one argument per element.
pub fn render_argv(
    template: &[String],
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Result<Vec<String>, String> {
    let mut argv = Vec::new();
    for arg in template {
        let names = placeholders(arg)?;
        if names.len() == 1 && arg == &format!("{{{}}}", names[0]) {
            match lookup(&names[0]) {
                Some(Value::Array(items)) => argv.extend(items.iter().map(scalar)),
                Some(v) => argv.push(scalar(&v)),
                None => return Err(format!("no value for `{{{}}}`", names[0])),
            }
            continue;
        }
        let mut out = String::new();
        let mut rest = arg.as_str();
        while let Some(pos) = rest.find(['{', '}']) {
            out.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                out.push_str(&tail[..1]);
                rest = &tail[2..];
            } else {
                let end = tail.find('}').ok_or("unclosed `{`")?;
                let name = &tail[1..end];
                let v = lookup(name).ok_or_else(|| format!("no value for `{{{name}}}`"))?;
                match v {
                    Value::Array(items) => {
                        out.push_str(&items.iter().map(scalar).collect::<Vec<_>>().join(" "))
                    }
                    v => out.push_str(&scalar(&v)),
                }
                rest = &tail[end + 1..];
            }
        }
        out.push_str(rest);
        argv.push(out);
    }
    Ok(argv)
}

/// A node that runs an external program.
pub struct ExternalCommand {
    pub template: Vec<String>,
    pub params: Params,
}

/// How long a command asked to stop (SIGTERM) has before it is killed (SIGKILL).
pub const TERM_GRACE: Duration = Duration::from_secs(5);

fn signal_group(pgid: Option<i32>, signal: i32) {
    if let Some(pgid) = pgid {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Kills the command's process group when dropped (timeout, cancel, or normal end).
struct GroupKiller(Option<i32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

#[async_trait]
impl<C: Send + Sync + 'static> Task<C> for ExternalCommand {
    async fn run(&self, ctx: &TaskContext<C>) -> Result<Value, TaskError> {
        let lookup = |name: &str| -> Option<Value> {
            match name {
                "run_id" => Some(Value::from(ctx.run_id)),
                "node_id" => Some(Value::from(ctx.node_id.clone())),
                "workflow" => Some(Value::from(ctx.workflow.clone())),
                "attempt" => Some(Value::from(ctx.attempt)),
                "execution" => Some(Value::from(ctx.execution)),
                "home" => Some(Value::from(ctx.env.home.display().to_string())),
                _ => self.params.get(name).cloned(),
            }
        };
        let argv = render_argv(&self.template, &lookup).map_err(TaskError::fatal)?;
        let out_dir = ctx.env.home.join("runs").join(ctx.run_id.to_string());
        tokio::fs::create_dir_all(&out_dir).await.map_err(|e| {
            TaskError::retryable(format!("cannot create {}: {e}", out_dir.display()))
        })?;
        let output_file: PathBuf = out_dir.join(format!(
            "{}.{}.{}.json",
            ctx.node_id, ctx.execution, ctx.attempt
        ));
        let _ = tokio::fs::remove_file(&output_file).await;
        let inputs = serde_json::to_string(&ctx.inputs).unwrap_or_else(|_| "{}".into());

        let mut cmd = match &ctx.env.guard_exe {
            Some(guard) => {
                let mut c = tokio::process::Command::new(guard);
                c.arg("__guard")
                    .arg("--parent")
                    .arg(std::process::id().to_string())
                    .arg("--")
                    .args(&argv);
                c
            }
            None => {
                let mut c = tokio::process::Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
        };
        cmd.process_group(0)
            .current_dir(&ctx.env.home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("SYSTRADE_RUN_ID", ctx.run_id.to_string())
            .env("SYSTRADE_NODE_ID", &ctx.node_id)
            .env("SYSTRADE_WORKFLOW", &ctx.workflow)
            .env("SYSTRADE_ATTEMPT", ctx.attempt.to_string())
            .env("SYSTRADE_EXECUTION", ctx.execution.to_string())
            .env("SYSTRADE_HOME", &ctx.env.home)
            .env("SYSTRADE_OUTPUT", &output_file)
            .env("SYSTRADE_INPUTS", inputs)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| TaskError::retryable(format!("cannot start `{}`: {e}", argv[0])))?;
        let _killer = GroupKiller(child.id().map(|p| p as i32));
        tracing::debug!(pid = child.id(), command = %argv.join(" "), "started external command");

        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let out_task = async {
            if let Some(s) = stdout {
                let mut lines = BufReader::new(s).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(stream = "stdout", "{line}");
                }
            }
        };
        let err_task = async {
            let mut tail: Vec<String> = Vec::new();
            if let Some(s) = stderr {
                let mut lines = BufReader::new(s).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::warn!(stream = "stderr", "{line}");
                    if tail.len() == 5 {
                        tail.remove(0);
                    }
                    tail.push(line);
                }
            }
            tail
        };
        let pgid = child.id().map(|p| p as i32);
        let finished = async { tokio::join!(child.wait(), out_task, err_task) };
        tokio::pin!(finished);
        let mut stopped: Option<String> = None;
        let (status, (), tail) = tokio::select! {
            r = &mut finished => r,
            reason = ctx.stop.requested() => {
                // SIGTERM the group, give it TERM_GRACE to exit, then SIGKILL.
                signal_group(pgid, libc::SIGTERM);
                tracing::warn!("{reason}: sent SIGTERM to `{}`; SIGKILL in {} if it has not exited", argv[0], super::duration::format_duration(TERM_GRACE));
                let r = match tokio::time::timeout(TERM_GRACE, &mut finished).await {
                    Ok(r) => {
                        stopped = Some(format!("{reason}; `{}` exited after SIGTERM", argv[0]));
                        r
                    }
                    Err(_) => {
                        signal_group(pgid, libc::SIGKILL);
                        stopped = Some(format!("{reason}; `{}` ignored SIGTERM for {} and was killed", argv[0], super::duration::format_duration(TERM_GRACE)));
                        (&mut finished).await
                    }
                };
                r
            }
        };
        if let Some(message) = stopped {
            return Err(TaskError::stopped(message));
        }
        let status =
            status.map_err(|e| TaskError::retryable(format!("waiting for `{}`: {e}", argv[0])))?;
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            };
            let detail = if tail.is_empty() {
                String::new()
            } else {
                format!(": {}", tail.join(" | "))
            };
            return Err(TaskError::retryable(format!(
                "command `{}` {how}{detail}",
                argv[0]
            )));
        }
        read_output(&output_file).await
    }
}

async fn read_output(path: &std::path::Path) -> Result<Value, TaskError> {
    match tokio::fs::metadata(path).await {
        Err(_) => Ok(Value::Null),
        Ok(m) if m.len() > MAX_OUTPUT_BYTES => Err(TaskError::fatal(format!(
            "output file {} is larger than 1 MiB",
            path.display()
        ))),
        Ok(_) => {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| TaskError::retryable(format!("reading {}: {e}", path.display())))?;
            if text.trim().is_empty() {
                let _ = tokio::fs::remove_file(path).await;
                return Ok(Value::Null);
            }
            let value = serde_json::from_str(&text).map_err(|e| {
                TaskError::fatal(format!(
                    "output file {} is not valid JSON: {e}",
                    path.display()
                ))
            })?;
            // The run store now holds it (with secrets masked); a file that is not JSON stays
            // for the user to look at.
            let _ = tokio::fs::remove_file(path).await;
            Ok(value)
        }
    }
}

/// Entry point of `systrade __guard --parent PID -- PROGRAM ARGS...`: runs the program in the
/// guard's process group and kills the group as soon as the runner `parent` is gone (also if it
/// died before the guard started: then the guard's parent is already someone else).
pub fn guard_main(parent: Option<i32>, argv: &[String]) -> i32 {
    let Some(program) = argv.first() else {
        eprintln!("systrade __guard: no command given");
        return 2;
    };
    // SAFETY: getppid has no preconditions.
    let parent = parent.unwrap_or_else(|| unsafe { libc::getppid() });
    let mut child = match std::process::Command::new(program).args(&argv[1..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start `{program}`: {e}");
            return 127;
        }
    };
    std::thread::spawn(move || loop {
        // SAFETY: getppid/getpgrp/kill have no memory preconditions.
        unsafe {
            if libc::getppid() != parent {
                libc::kill(-libc::getpgrp(), libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    });
    match child.wait() {
        Ok(status) => {
            use std::os::unix::process::ExitStatusExt;
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(9))
        }
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_and_escapes() {
        assert_eq!(placeholders("echo {a} {b}").unwrap(), vec!["a", "b"]);
        assert_eq!(placeholders("{{literal}}").unwrap(), Vec::<String>::new());
        assert!(placeholders("{oops").is_err());
        assert!(placeholders("a}b").is_err());
    }

    #[test]
    fn renders_scalars_lists_and_escapes() {
        let lookup = |n: &str| match n {
            "who" => Some(Value::from("world")),
            "n" => Some(Value::from(3)),
            "list" => Some(serde_json::json!(["EUR", "JPY"])),
            _ => None,
        };
        let argv = render_argv(
            &[
                "echo".into(),
                "hi {who} x{n}".into(),
                "{list}".into(),
                "{{x}} {list}".into(),
            ],
            &lookup,
        )
        .unwrap();
        assert_eq!(
            argv,
            vec!["echo", "hi world x3", "EUR", "JPY", "{x} EUR JPY"]
        );
        assert!(render_argv(&["{missing}".into()], &lookup).is_err());
    }
}
