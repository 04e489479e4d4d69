//! E-mail against a real SMTP server on 127.0.0.1: aiosmtpd through scripts/smtp-server.py
//! (installed by scripts/install-aiosmtpd.sh), with a certificate each test generates (the
//! `openssl` command) and trusts through `email.ca_file`. Shared helpers for `alerts.rs` too.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::support::*;

pub const USER: &str = "trader";
pub const PASSWORD: &str = "smtp-pass-5ecret";

fn python() -> PathBuf {
    std::env::var_os("SYSTRADE_AIOSMTPD_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/systrade-aiosmtpd-venv")
        })
        .join("bin/python")
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`: (ca.pem, cert, key).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let mut ca = vec!["req", "-x509", "-nodes", "-days", "2"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=systrade test CA",
    ]);
    run(&ca);
    let mut csr = vec!["req", "-nodes"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// How the test server runs.
#[derive(Clone, Default)]
pub struct ServerOptions {
    /// "none", "starttls" or "implicit".
    pub tls: &'static str,
    pub auth: bool,
    pub refuse: Option<&'static str>,
    pub port: Option<u16>,
}

/// A running test SMTP server; killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The CA certificate that signed the server's certificate.
    pub ca: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A received message: its raw text and the envelope the server saw.
pub struct Received {
    pub raw: String,
    pub meta: Value,
}

impl SmtpServer {
    pub fn start(o: ServerOptions) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = certificates(dir.path());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp-server.py");
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .arg("--dir")
            .arg(dir.path().join("mail"))
            .arg("--tls")
            .arg(if o.tls.is_empty() { "none" } else { o.tls })
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg("--port")
            .arg(o.port.unwrap_or(0).to_string());
        if o.auth {
            cmd.args(["--user", USER, "--password", PASSWORD]);
        }
        if let Some(r) = o.refuse {
            cmd.args(["--refuse-rcpt", r]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scripts/smtp-server.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server did not start: {line:?}"));
        SmtpServer {
            child,
            port,
            dir,
            ca,
        }
    }

    /// The messages received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let mail = self.dir.path().join("mail");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&mail)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .filter_map(|p| {
                let meta = std::fs::read_to_string(p.with_extension("json")).ok()?;
                Some(Received {
                    raw: std::fs::read_to_string(p).unwrap(),
                    meta: serde_json::from_str(&meta).unwrap(),
                })
            })
            .collect()
    }

    /// The messages once there are `n` (waits up to 10 s; the server writes them after it
    /// answered).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Writes the home's config.toml with an `[email]` section for `port` (password in
/// `<home>/smtp-password` when `auth`).
pub fn configure(h: &TestHome, port: u16, tls: &str, auth: bool, ca: Option<&Path>) {
    let mut text = format!(
        "[email]\nserver = \"127.0.0.1\"\nport = {port}\nfrom = \"systrade <systrade@example.com>\"\n\
         to = [\"ops@example.com\", \"Desk <desk@example.com>\"]\ntls = \"{tls}\"\ntimeout_seconds = 5\n"
    );
    if auth {
        let pw = h.path().join("smtp-password");
        std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
        text.push_str(&format!(
            "username = \"{USER}\"\npassword_file = \"{}\"\n",
            pw.display()
        ));
    }
    if let Some(ca) = ca {
        text.push_str(&format!("ca_file = \"{}\"\n", ca.display()));
    }
    std::fs::create_dir_all(h.path()).unwrap();
    std::fs::write(h.path().join("config.toml"), text).unwrap();
}

/// The value of header `name` in a raw message (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let mut lines = raw.lines().peekable();
    let prefix = format!("{}:", name.to_ascii_lowercase());
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        if line.to_ascii_lowercase().starts_with(&prefix) {
            let mut v = line[prefix.len()..].trim().to_string();
            while lines.peek().is_some_and(|l| l.starts_with([' ', '\t'])) {
                v.push(' ');
                v.push_str(lines.next().unwrap().trim());
            }
            return Some(v);
        }
    }
    None
}

fn email_test(h: &TestHome) -> (Option<i32>, Value, String) {
    let out = h.run(&["email", "test", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(&["email", "test"], &out)));
    (out.status.code(), v, stderr(&out))
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn a_test_message_goes_over_starttls_with_auth() {
    let server = SmtpServer::start(ServerOptions {
        tls: "starttls",
        auth: true,
        ..Default::default()
    });
    let h = TestHome::new();
    configure(&h, server.port, "starttls", true, Some(&server.ca));
    let (code, v, err) = email_test(&h);
    assert_eq!(code, Some(0), "{v} {err}");
    assert_eq!(v["sent"], true);
    assert!(v["to"].as_str().unwrap().contains("ops@example.com"), "{v}");
    let got = server.wait_for(1);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.meta["login"], USER);
    assert_eq!(m.meta["tls"], true);
    assert_eq!(m.meta["mail_from"], "systrade@example.com");
    assert_eq!(
        m.meta["rcpt_tos"],
        serde_json::json!(["ops@example.com", "desk@example.com"])
    );
    assert_eq!(
        header(&m.raw, "Subject").as_deref(),
        Some("systrade: test message")
    );
    assert!(header(&m.raw, "From")
        .unwrap()
        .contains("systrade@example.com"));
    let to = header(&m.raw, "To").unwrap();
    assert!(
        to.contains("ops@example.com") && to.contains("desk@example.com"),
        "{to}"
    );
    let date = header(&m.raw, "Date").unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc2822(&date).is_ok(),
        "{date}"
    );
    assert!(m.raw.contains("This is a test message from systrade"));
    // The password is nowhere in what the command printed.
    assert!(!err.contains(PASSWORD) && !v.to_string().contains(PASSWORD));
    let shown = ok(&h, &["config", "show"]);
    assert!(!shown.contains(PASSWORD), "{shown}");
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn implicit_tls_and_a_password_from_the_environment() {
    let server = SmtpServer::start(ServerOptions {
        tls: "implicit",
        auth: true,
        ..Default::default()
    });
    let h = TestHome::new();
    configure(&h, server.port, "implicit", false, Some(&server.ca));
    let out = h
        .cmd()
        .args(["email", "test", "--json"])
        .env("SYSTRADE_EMAIL__USERNAME", USER)
        .env("SYSTRADE_EMAIL__PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&[], &out));
    let got = server.wait_for(1);
    assert_eq!((got.len(), &got[0].meta["tls"]), (1, &Value::Bool(true)));
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn failures_say_which_step_failed() {
    let server = SmtpServer::start(ServerOptions {
        tls: "starttls",
        auth: true,
        refuse: Some("desk@example.com"),
        ..Default::default()
    });
    // A recipient refused.
    let h = TestHome::new();
    configure(&h, server.port, "starttls", true, Some(&server.ca));
    let (code, v, _) = email_test(&h);
    assert_eq!(
        (code, &v["failure"]),
        (Some(1), &Value::from("refused")),
        "{v}"
    );
    assert!(
        v["error"].as_str().unwrap().contains("recipient refused"),
        "{v}"
    );
    // The server's certificate not trusted (no ca_file).
    let h = TestHome::new();
    configure(&h, server.port, "starttls", true, None);
    let (code, v, _) = email_test(&h);
    assert_eq!((code, &v["failure"]), (Some(1), &Value::from("tls")), "{v}");
    // A wrong password.
    let h = TestHome::new();
    configure(&h, server.port, "starttls", true, Some(&server.ca));
    std::fs::write(h.path().join("smtp-password"), "wrong-password\n").unwrap();
    let (code, v, _) = email_test(&h);
    assert_eq!(
        (code, &v["failure"]),
        (Some(1), &Value::from("auth")),
        "{v}"
    );
    // Nothing listening.
    let h = TestHome::new();
    configure(&h, free_port(), "none", false, None);
    let (code, v, _) = email_test(&h);
    assert_eq!(
        (code, &v["failure"]),
        (Some(1), &Value::from("connect")),
        "{v}"
    );
    assert!(server.received().is_empty());
    // No [email] at all: bad usage.
    let h = TestHome::new();
    let out = h.run(&["email", "test"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&[], &out));
    assert!(stderr(&out).contains("e-mail is not configured"));
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn a_report_goes_as_html_with_its_text_and_an_attachment() {
    let server = SmtpServer::start(ServerOptions {
        tls: "starttls",
        ..Default::default()
    });
    let h = TestHome::new();
    configure(&h, server.port, "starttls", false, Some(&server.ca));
    ok(&h, &["init"]);
    let text = ok(&h, &["report", "roll", "--email"]);
    let got = server.wait_for(1);
    assert_eq!(got.len(), 1);
    let raw = &got[0].raw;
    assert!(header(raw, "Content-Type")
        .unwrap()
        .starts_with("multipart/mixed"));
    let alt = raw
        .find("multipart/alternative")
        .expect("an alternative part");
    let plain = raw[alt..]
        .find("Content-Type: text/plain")
        .expect("text part");
    let html = raw[alt..]
        .find("Content-Type: text/html")
        .expect("html part");
    assert!(plain < html, "text first, then HTML");
    assert!(raw.contains("Content-Disposition: attachment; filename=\"roll_"));
    assert!(header(raw, "Subject").unwrap().contains("oll"), "{raw}");
    // The terminal output is still the report.
    assert!(!text.is_empty());
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn a_report_node_with_email_sends_its_report() {
    let server = SmtpServer::start(ServerOptions::default());
    let h = TestHome::new();
    configure(&h, server.port, "none", false, None);
    h.workflow(
        "evening",
        "[workflow]\nname = \"evening\"\n[[node]]\nid = \"roll_report\"\ntask = \"report\"\n\
         params = { report = \"roll\", email = true }\n",
    );
    let v = json_of(&h, &["run", "evening", "--json"]);
    assert_eq!(v["status"], "succeeded", "{v}");
    let got = server.wait_for(1);
    assert_eq!(got.len(), 1);
    assert!(got[0].raw.contains("Content-Type: text/html"));
    let show = json_of(&h, &["show", "1", "--json"]);
    let node = &show["nodes"][0];
    assert_eq!(node["output"]["emailed"]["sent"], true, "{show}");
    assert!(std::path::Path::new(node["output"]["path"].as_str().unwrap()).exists());
}

#[test]
#[cfg_attr(
    not(aiosmtpd),
    ignore = "needs aiosmtpd: run scripts/install-aiosmtpd.sh"
)]
fn reports_go_where_the_reports_config_says() {
    let server = SmtpServer::start(ServerOptions::default());
    let h = TestHome::new();
    configure(&h, server.port, "none", false, None);
    let mut config = std::fs::read_to_string(h.path().join("config.toml")).unwrap();
    config.push_str("\n[reports]\noutput = \"file\"\noutputs = { roll = \"email\", costs = \"both\", min_capital = \"none\" }\n");
    std::fs::write(h.path().join("config.toml"), config).unwrap();
    let mut wf = String::from("[workflow]\nname = \"evening\"\n");
    for r in ["roll", "costs", "min_capital", "instrument_risk"] {
        wf.push_str(&format!(
            "[[node]]\nid = \"{r}\"\ntask = \"report\"\nparams = {{ report = \"{r}\" }}\n"
        ));
    }
    h.workflow("evening", &wf);
    let v = json_of(&h, &["run", "evening", "--json"]);
    assert_eq!(v["status"], "succeeded", "{v}");
    let got = server.wait_for(2);
    let subjects: Vec<String> = got
        .iter()
        .filter_map(|m| header(&m.raw, "Subject"))
        .collect();
    assert_eq!(got.len(), 2, "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.starts_with("Roll report")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.starts_with("Costs report")),
        "{subjects:?}"
    );
    let show = json_of(&h, &["show", "1", "--json"]);
    let output = |id: &str| {
        show["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node_id"] == id)
            .unwrap_or_else(|| panic!("no node {id} in {show}"))["output"]
            .clone()
    };
    assert_eq!(output("roll")["output"], "email");
    assert!(output("roll").get("path").is_none(), "e-mail only: no file");
    assert_eq!(output("costs")["emailed"]["sent"], true);
    assert!(std::path::Path::new(output("costs")["path"].as_str().unwrap()).exists());
    assert_eq!(output("min_capital")["output"], "none");
    assert!(output("instrument_risk")["path"].as_str().is_some());
    let files: Vec<String> = std::fs::read_dir(h.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("roll_") || f.starts_with("min_capital_")),
        "{files:?}"
    );
}
