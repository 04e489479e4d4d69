//! The `[email]` section: where alerts and reports are e-mailed (`adapters::smtp`). An empty
//! `server` means no e-mail. Owns the section's struct and its validation; the loader in
//! `config.rs` reports the problems found here like every other key's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::Source;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailSecurity {
    /// A plain connection upgraded with STARTTLS (the server must offer it).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// Plain text.
    None,
}

impl EmailSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailSecurity::StartTls => "starttls",
            EmailSecurity::Implicit => "implicit",
            EmailSecurity::None => "none",
        }
    }
}

/// The validated `[email]` section (present only when `email.server` is set).
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub server: String,
    pub port: u16,
    pub from: String,
    pub to: Vec<String>,
    /// `None`: no SMTP AUTH.
    pub username: Option<String>,
    /// From `email.password` or the first line of `email.password_file`; a registered secret.
    pub password: Option<String>,
    pub security: EmailSecurity,
    /// A PEM certificate trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

type Entries = BTreeMap<String, (toml::Value, Source)>;

fn text(entries: &Entries, key: &str) -> String {
    entries
        .get(key)
        .and_then(|(v, _)| v.as_str())
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn mailbox_ok(address: &str) -> Result<(), String> {
    address
        .parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("`{address}` is not an e-mail address ({e})"))
}

/// The `[email]` section from the merged entries: `Ok(None)` when `email.server` is empty,
/// else the config, or each problem as (key, message).
pub fn from_entries(entries: &Entries) -> Result<Option<EmailConfig>, Vec<(String, String)>> {
    let server = text(entries, "email.server");
    if server.is_empty() {
        return Ok(None);
    }
    let mut errs: Vec<(String, String)> = Vec::new();
    let mut bad = |key: &str, msg: String| errs.push((key.to_string(), msg));
    let port = entries
        .get("email.port")
        .and_then(|(v, _)| v.as_integer())
        .unwrap_or_default();
    if !(1..=65_535).contains(&port) {
        bad(
            "email.port",
            format!("must be a TCP port (1 to 65535), got {port}"),
        );
    }
    let from = text(entries, "email.from");
    if from.is_empty() {
        bad(
            "email.from",
            "the sender address is required when email.server is set".into(),
        );
    } else if let Err(e) = mailbox_ok(&from) {
        bad("email.from", e);
    }
    let to: Vec<String> = match entries.get("email.to").map(|(v, _)| v) {
        Some(toml::Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i.as_str() {
                Some(s) => Some(s.trim().to_string()),
                None => {
                    bad(
                        "email.to",
                        format!("expected addresses as strings, found {i}"),
                    );
                    None
                }
            })
            .collect(),
        // From the environment: "a@example.com, b@example.com".
        Some(toml::Value::String(s)) => s
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect(),
        _ => {
            bad("email.to", "expected an array of addresses".into());
            Vec::new()
        }
    };
    if to.is_empty() {
        bad(
            "email.to",
            "at least one recipient is required when email.server is set".into(),
        );
    }
    for address in &to {
        if let Err(e) = mailbox_ok(address) {
            bad("email.to", e);
        }
    }
    let security = match text(entries, "email.tls").as_str() {
        "starttls" => EmailSecurity::StartTls,
        "implicit" => EmailSecurity::Implicit,
        "none" => EmailSecurity::None,
        other => {
            bad(
                "email.tls",
                format!("`{other}` is not one of: starttls, implicit, none"),
            );
            EmailSecurity::StartTls
        }
    };
    let username = Some(text(entries, "email.username")).filter(|u| !u.is_empty());
    let mut password = entries
        .get("email.password")
        .and_then(|(v, _)| v.as_str())
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let password_file = text(entries, "email.password_file");
    if !password_file.is_empty() {
        if password.is_some() {
            bad(
                "email.password_file",
                "give email.password or email.password_file, not both".into(),
            );
        }
        match std::fs::read_to_string(&password_file) {
            Ok(content) => {
                password = content
                    .lines()
                    .next()
                    .map(|l| l.trim_end_matches('\r').to_string())
                    .filter(|p| !p.is_empty());
                if password.is_none() {
                    bad("email.password_file", "the password file is empty".into());
                }
            }
            // The path is not shown: the key is secret, so it would be masked anyway.
            Err(e) => bad(
                "email.password_file",
                format!("cannot read the password file: {e}"),
            ),
        }
    }
    if password.is_some() && username.is_none() {
        bad(
            "email.username",
            "a password is set but no username to log in with".into(),
        );
    }
    if username.is_some() && password.is_none() {
        bad(
            "email.username",
            "a username is set but no password (SYSTRADE_EMAIL__PASSWORD or email.password_file)"
                .into(),
        );
    }
    let ca = text(entries, "email.ca_file");
    let ca_file = (!ca.is_empty()).then(|| PathBuf::from(&ca));
    if let Some(path) = &ca_file {
        match std::fs::read_to_string(path) {
            Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => {}
            Ok(_) => bad(
                "email.ca_file",
                format!("{ca} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
            ),
            Err(e) => bad("email.ca_file", format!("cannot read {ca}: {e}")),
        }
    }
    let timeout = entries
        .get("email.timeout_seconds")
        .and_then(|(v, _)| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        .unwrap_or(f64::NAN);
    if !(timeout > 0.0 && timeout <= 600.0) {
        bad(
            "email.timeout_seconds",
            format!("must be a number of seconds above 0 and at most 600, got {timeout}"),
        );
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Some(EmailConfig {
        server,
        port: u16::try_from(port).unwrap_or(587),
        from,
        to,
        username,
        password,
        security,
        ca_file,
        timeout: Duration::from_secs_f64(if timeout.is_finite() { timeout } else { 10.0 }),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    #[test]
    fn absent_server_means_no_email() {
        assert!(load(None, &[]).unwrap().email.is_none());
    }

    #[test]
    fn a_full_section_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret-pw\n").unwrap();
        let file = format!(
            "[email]\nserver = \"127.0.0.1\"\nport = 2525\nfrom = \"systrade <st@example.com>\"\n\
             to = [\"a@example.com\", \"b@example.com\"]\nusername = \"st\"\n\
             password_file = \"{}\"\ntls = \"implicit\"\ntimeout_seconds = 3\n",
            pw.display()
        );
        let c = load(Some(&file), &[]).unwrap().email.unwrap();
        assert_eq!(c.port, 2525);
        assert_eq!(c.to.len(), 2);
        assert_eq!(c.password.as_deref(), Some("s3cret-pw"));
        assert_eq!(c.security, super::EmailSecurity::Implicit);
        assert_eq!(c.timeout.as_secs_f64(), 3.0);
        let env = load(
            None,
            &[
                ("SYSTRADE_EMAIL__SERVER", "mail"),
                ("SYSTRADE_EMAIL__FROM", "st@example.com"),
                ("SYSTRADE_EMAIL__TO", "a@example.com, b@example.com"),
            ],
        )
        .unwrap()
        .email
        .unwrap();
        assert_eq!(env.to, ["a@example.com", "b@example.com"]);
        assert_eq!(env.security, super::EmailSecurity::StartTls);
        assert!(env.username.is_none() && env.password.is_none());
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let e = load(
            Some("[email]\nserver = \"m\"\nfrom = \"nobody\"\nto = []\ntls = \"ssl\"\nport = 0\nusername = \"u\"\nsmtp = 1\n"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown key `smtp` in [email]"), "{e}");
        let e = load(
            Some("[email]\nserver = \"m\"\nfrom = \"nobody\"\nto = []\ntls = \"ssl\"\nport = 0\nusername = \"u\"\n"),
            &[],
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "`nobody` is not an e-mail address",
            "at least one recipient",
            "`ssl` is not one of: starttls, implicit, none",
            "must be a TCP port",
            "no password",
            "config.toml:3: `email.from`",
        ] {
            assert!(e.contains(needle), "{needle} in {e}");
        }
    }
}
