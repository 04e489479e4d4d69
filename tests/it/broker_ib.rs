//! The IB path through the binary: `systrade broker fake-ib` serves a home's simulated account,
//! `systrade broker check` with `broker.kind = "ib"` connects to it, leases a client id and
//! gives it back; a gateway that is down is a clear, fast failure.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{stderr, stdout, TestHome};

/// Starts `broker fake-ib --port 0` and returns it with the port it printed.
pub(crate) fn start_fake(h: &TestHome) -> (Child, u16) {
    let mut child = std::process::Command::new(crate::support::bin())
        .arg("--home")
        .arg(h.path())
        .env_remove("SYSTRADE_BROKER__KIND")
        .args(["broker", "fake-ib", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fake-ib");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("first line");
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

#[test]
fn broker_check_against_the_fake_gateway_reads_the_account_and_releases_its_client_id() {
    let h = TestHome::new();
    let (mut fake, port) = start_fake(&h);
    let out = h
        .ib_cmd(port)
        .env("SYSTRADE_BROKER__SIM_ACCOUNT_VALUE", "123456")
        .args(["broker", "check", "--json"])
        .output()
        .expect("run");
    let _ = fake.kill();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["broker"], "ib");
    // The fake was started without the override: the simulated default account value.
    assert_eq!(v["account"]["value"], 500000.0);
    assert_eq!(v["health"]["connected"], true);
    assert!(v["positions"].as_array().is_some_and(|p| p.is_empty()));
    let leases = h.json(&["broker", "client-ids", "--json"]);
    assert_eq!(
        leases["leases"],
        serde_json::json!([]),
        "the client id was given back"
    );
}

#[test]
fn a_gateway_that_is_down_fails_fast_with_the_address_and_a_nonzero_exit() {
    let h = TestHome::new();
    let port = crate::support::free_port();
    let started = Instant::now();
    let out = h
        .ib_cmd(port)
        .env("SYSTRADE_BROKER__IB_CONNECT_TIMEOUT_SECONDS", "1")
        .args(["broker", "check"])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(30), "must not hang");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("disconnected"),
        "{err}"
    );
}

#[test]
fn a_bad_broker_kind_or_port_names_the_key() {
    let h = TestHome::new();
    let out = h
        .cmd()
        .env("SYSTRADE_BROKER__KIND", "ibkr")
        .env("SYSTRADE_BROKER__IB_PORT", "70000")
        .args(["broker", "check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("broker.kind") && err.contains("broker.ib_port"),
        "{err}"
    );
}
