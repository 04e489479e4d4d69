//! Test fixture: a temporary systrade home and helpers to run the binary against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// A temporary home; deleted when dropped.
pub struct TestHome {
    pub dir: tempfile::TempDir,
}

impl TestHome {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `systrade --home <tmp>` with a clean environment (no inherited SYSTRADE_* variables).
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("systrade").expect("binary built");
        for (k, _) in std::env::vars() {
            if k.starts_with("SYSTRADE_") {
                c.env_remove(k);
            }
        }
        c.arg("--home").arg(self.path());
        c.env("NO_COLOR", "1");
        // The simulated prices stand still, so a passive best-execution limit only fills once
        // it goes aggressive: keep the stack handler's time-outs short (tests may override).
        c.env("SYSTRADE_EXECUTION__PASSIVE_TIMEOUT_SECONDS", "0.2")
            .env("SYSTRADE_EXECUTION__TOTAL_TIMEOUT_SECONDS", "5.0")
            .env("SYSTRADE_EXECUTION__POLL_SECONDS", "0.05");
        c
    }

    /// `cmd()` with `broker.kind = "ib"` at 127.0.0.1:`port`.
    pub fn ib_cmd(&self, port: u16) -> Command {
        let mut c = self.cmd();
        c.env("SYSTRADE_BROKER__KIND", "ib")
            .env("SYSTRADE_BROKER__IB_PORT", port.to_string());
        c
    }

    /// Runs with args and returns the output (any exit code).
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run systrade")
    }

    /// Runs with args (which should include --json) and parses stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of {args:?} is not JSON ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// Writes `<home>/workflows/NAME.toml`.
    pub fn workflow(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.path().join("workflows");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Writes `<home>/tasks/NAME.toml`.
    pub fn tasks(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.path().join("tasks");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Path of the built binary (for spawning it directly, e.g. to kill it).
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("systrade")
}

/// A local TCP port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A command line and what it did, for assertion messages.
pub fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "{args:?}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

/// Runs `args`, which must exit 0; returns stdout.
pub fn ok(h: &TestHome, args: &[&str]) -> String {
    let out = h.run(args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(args, &out));
    stdout(&out)
}

/// Runs `args` (with `--json`), which must exit 0; returns stdout parsed.
pub fn json_of(h: &TestHome, args: &[&str]) -> Value {
    let text = ok(h, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{text}"))
}
