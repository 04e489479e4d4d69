//! Alerts end to end: raised by runs (a failed node, the `alert` task), recorded whatever the
//! mail server does, kept while it is down and flushed by the next successful send, the 24-hour
//! de-duplication on a fixed clock (SYSTRADE_NOW), and `systrade alerts ack`.

use serde_json::Value;

use super::email::{configure, header, ServerOptions, SmtpServer};
use super::support::*;

const NOTICE: &str = "[workflow]\nname = \"notice\"\n[[node]]\nid = \"tell\"\ntask = \"alert\"\n\
params = { subject = \"prices are stale\", body = \"the feed stopped\", severity = \"warning\" }\n";

const BROKEN: &str = "[workflow]\nname = \"broken\"\n[[node]]\nid = \"boom\"\ntask = \"fail\"\n\
params = { message = \"kaboom\" }\n[[node]]\nid = \"fine\"\ntask = \"noop\"\n";

fn run_at(h: &TestHome, workflow: &str, now: &str) -> std::process::Output {
    h.cmd()
        .args(["run", workflow])
        .env("SYSTRADE_NOW", now)
        .output()
        .unwrap()
}

fn alerts(h: &TestHome, all: bool) -> Vec<Value> {
    let mut args = vec!["alerts", "--json"];
    if all {
        args.push("--all");
    }
    json_of(h, &args)["alerts"].as_array().unwrap().clone()
}

fn subjects(server: &SmtpServer) -> Vec<String> {
    server
        .received()
        .iter()
        .map(|m| header(&m.raw, "Subject").unwrap_or_default())
        .collect()
}

#[test]
fn without_email_a_failed_node_is_recorded_and_acknowledged() {
    let h = TestHome::new();
    h.workflow("broken", BROKEN);
    let out = h.run(&["run", "broken"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&[], &out));
    let list = alerts(&h, false);
    assert_eq!(list.len(), 1, "{list:?}");
    let a = &list[0];
    assert_eq!(
        (&a["severity"], &a["kind"], &a["state"], &a["node"]),
        (
            &Value::from("critical"),
            &Value::from("node_failed"),
            &Value::from("not_sent"),
            &Value::from("boom")
        )
    );
    assert!(a["body"].as_str().unwrap().contains("kaboom"), "{a}");
    let id = a["id"].as_i64().unwrap().to_string();
    let text = ok(&h, &["alerts"]);
    assert!(
        text.contains("broken: node boom failed") && text.contains("e-mail is off"),
        "{text}"
    );
    let out = h.run(&["alerts", "ack", "999"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&[], &out));
    assert!(stderr(&out).contains("no alert with id 999"));
    ok(&h, &["alerts", "ack", &id]);
    assert!(alerts(&h, false).is_empty());
    let all = alerts(&h, true);
    assert_eq!(all.len(), 1);
    assert!(all[0]["acknowledged_at"].is_string());
}

#[test]
fn an_ib_gateway_that_goes_away_during_a_run_raises_the_disconnect_alert() {
    use std::time::{Duration, Instant};
    let h = TestHome::new();
    let (mut fake, port) = super::broker_ib::start_fake(&h);
    h.workflow(
        "watch",
        "[workflow]\nname = \"watch\"\n[[node]]\nid = \"capital\"\ntask = \"update_total_capital\"\n\
         [[node]]\nid = \"wait\"\ntask = \"sleep\"\nafter = [\"capital\"]\nparams = { duration = \"12s\" }\n",
    );
    let mut cmd = std::process::Command::new(bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("SYSTRADE_") {
            cmd.env_remove(k);
        }
    }
    let run = cmd
        .arg("--home")
        .arg(h.path())
        .env("SYSTRADE_BROKER__KIND", "ib")
        .env("SYSTRADE_BROKER__IB_PORT", port.to_string())
        .env("SYSTRADE_BROKER__IB_DISCONNECT_ALERT_SECONDS", "0.5")
        .env("SYSTRADE_BROKER__IB_CONNECT_TIMEOUT_SECONDS", "1")
        .args(["run", "watch", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the capital node has used the connection, the gateway goes away.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let show = stdout(&h.run(&["show", "1", "--json"]));
        let capital_done = serde_json::from_str::<Value>(&show).is_ok_and(|v| {
            v["nodes"].as_array().is_some_and(|nodes| {
                nodes
                    .iter()
                    .any(|n| n["node_id"] == "capital" && n["state"] == "succeeded")
            })
        });
        if capital_done {
            break;
        }
        assert!(Instant::now() < deadline, "{show}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = fake.kill();
    let _ = fake.wait();
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&[], &out));
    let list = alerts(&h, false);
    let ib = list.iter().find(|a| a["kind"] == "ib_disconnected");
    assert!(
        ib.is_some_and(|a| a["severity"] == "critical"
            && a["subject"]
                .as_str()
                .unwrap()
                .contains("IB connection has been down")),
        "{list:?}"
    );
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn a_critical_alert_is_emailed_at_once() {
    let server = SmtpServer::start(ServerOptions::default());
    let h = TestHome::new();
    configure(&h, server.port, "none", false, None);
    h.workflow("broken", BROKEN);
    assert_eq!(h.run(&["run", "broken"]).status.code(), Some(1));
    assert_eq!(h.run(&["run", "broken"]).status.code(), Some(1));
    let got = server.wait_for(2);
    assert_eq!(
        subjects(&server),
        [
            "*CRITICAL*: broken: node boom failed (run 1)",
            "*CRITICAL*: broken: node boom failed (run 2)"
        ]
    );
    assert!(got[0].raw.contains("kaboom") && got[0].raw.contains("systrade alerts ack 1"));
    let list = alerts(&h, false);
    assert!(list
        .iter()
        .all(|a| a["state"] == "sent" && a["sent_at"].is_string()));
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn a_subject_is_emailed_once_in_24_hours_with_one_warning() {
    let server = SmtpServer::start(ServerOptions::default());
    let h = TestHome::new();
    configure(&h, server.port, "none", false, None);
    h.workflow("notice", NOTICE);
    for now in [
        "2026-12-07T06:00:00Z",
        "2026-12-07T09:00:00Z",
        "2026-12-07T12:00:00Z",
        "2026-12-08T07:00:00Z",
    ] {
        let out = run_at(&h, "notice", now);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&[now], &out));
    }
    server.wait_for(3);
    assert_eq!(
        subjects(&server),
        [
            "prices are stale",
            "Warning: no more e-mails with subject 'prices are stale' today",
            "prices are stale"
        ]
    );
    let states: Vec<String> = alerts(&h, true)
        .iter()
        .map(|a| a["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["sent", "suppressed", "suppressed", "sent"]);
    let first = &alerts(&h, true)[0];
    assert!(
        first["time"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-07T06:00:0"),
        "{first}"
    );
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn a_mail_server_down_keeps_alerts_until_the_next_send() {
    let port = free_port();
    let h = TestHome::new();
    configure(&h, port, "none", false, None);
    h.workflow("notice", NOTICE);
    // Nothing listens: the node still succeeds, the alert is kept with the error.
    let started = std::time::Instant::now();
    let out = h.run(&["run", "notice"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&[], &out));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // The report command succeeds too, its report kept.
    ok(&h, &["report", "roll", "--email"]);
    let list = alerts(&h, false);
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().all(|a| a["state"] == "kept"), "{list:?}");
    assert!(list[0]["send_error"]
        .as_str()
        .unwrap()
        .contains(&port.to_string()));
    assert_eq!(list[1]["kind"], "report_not_sent");
    let text = ok(&h, &["alerts"]);
    assert!(
        text.contains("2 alert(s) could not be e-mailed and are kept"),
        "{text}"
    );
    // The server comes up: the next send flushes what was kept, in one message.
    let server = SmtpServer::start(ServerOptions {
        port: Some(port),
        ..Default::default()
    });
    let v = json_of(&h, &["email", "test", "--json"]);
    assert_eq!(v["kept_alerts_sent"].as_array().unwrap().len(), 2, "{v}");
    let got = server.wait_for(2);
    assert_eq!(
        subjects(&server),
        ["systrade: test message", "systrade: 2 kept alert(s)"]
    );
    assert!(got[1].raw.contains("prices are stale"));
    assert!(alerts(&h, false).iter().all(|a| a["state"] == "sent"));
}

#[test]
fn the_email_password_is_masked_and_a_down_server_never_fails_the_node() {
    let h = TestHome::new();
    configure(&h, free_port(), "none", false, None);
    h.workflow("notice", NOTICE);
    let secret = "pw-from-the-env-1234";
    let run = |args: &[&str]| {
        h.cmd()
            .args(args)
            .env("SYSTRADE_EMAIL__USERNAME", "trader")
            .env("SYSTRADE_EMAIL__PASSWORD", secret)
            .output()
            .unwrap()
    };
    let out = run(&["run", "notice"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&[], &out));
    let shown = run(&["config", "show"]);
    let listed = run(&["alerts", "--all", "--json"]);
    for o in [&out, &shown, &listed] {
        assert!(!(stdout(o) + &stderr(o)).contains(secret));
    }
    assert!(
        stdout(&shown).contains("email.password"),
        "{}",
        stdout(&shown)
    );
    assert!(stdout(&listed).contains("\"kept\""), "{}", stdout(&listed));
}
