//! [`Mailer`] over SMTP with `lettre` (tokio, rustls): builds the MIME message (text; text and
//! HTML as multipart/alternative; attachments in multipart/mixed), connects with the configured
//! security (STARTTLS required, implicit TLS, or none), trusts `email.ca_file` besides the
//! system's roots, logs in with PLAIN or LOGIN, and sends within `email.timeout_seconds`
//! (every network step and the whole send are bounded). Failures say which step failed.

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{EmailConfig, EmailSecurity};
use crate::domain::alerts::{MailError, MailFailure, Mailer, Message};

/// Sends to `email.to` through `email.server`.
pub struct SmtpMailer {
    config: EmailConfig,
}

fn failure(failure: MailFailure, detail: impl Into<String>) -> MailError {
    MailError {
        failure,
        detail: detail.into(),
    }
}

/// The error and its causes, one after the other.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Which step a lettre error comes from.
fn classify(e: &lettre::transport::smtp::Error) -> MailFailure {
    if e.is_timeout() {
        return MailFailure::Timeout;
    }
    if e.is_tls() {
        return MailFailure::Tls;
    }
    if let Some(code) = e.status() {
        let code = code.to_string();
        return match code.as_str() {
            "530" | "534" | "535" | "538" | "454" => MailFailure::Auth,
            "550" | "551" | "552" | "553" | "554" | "501" | "450" | "451" | "452" => {
                MailFailure::Refused
            }
            _ => MailFailure::Server,
        };
    }
    let text = chain(e).to_ascii_lowercase();
    if text.contains("authentication") || text.contains("auth") {
        MailFailure::Auth
    } else if e.is_response() || e.is_permanent() || e.is_transient() {
        MailFailure::Server
    } else if text.contains("tls") || text.contains("certificate") {
        MailFailure::Tls
    } else if text.contains("lookup")
        || text.contains("resolve")
        || text.contains("name or service not known")
    {
        MailFailure::Dns
    } else {
        MailFailure::Connect
    }
}

impl SmtpMailer {
    pub fn new(config: EmailConfig) -> Self {
        Self { config }
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let c = &self.config;
        let tls = if c.security == EmailSecurity::None {
            Tls::None
        } else {
            let mut builder = TlsParameters::builder(c.server.clone());
            if let Some(path) = &c.ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    failure(
                        MailFailure::Tls,
                        format!("cannot read email.ca_file {}: {e}", path.display()),
                    )
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    failure(
                        MailFailure::Tls,
                        format!("email.ca_file {}: {}", path.display(), chain(&e)),
                    )
                })?;
                builder = builder.add_root_certificate(cert);
            }
            let params = builder
                .build_rustls()
                .map_err(|e| failure(MailFailure::Tls, chain(&e)))?;
            match c.security {
                EmailSecurity::Implicit => Tls::Wrapper(params),
                _ => Tls::Required(params),
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.server)
            .port(c.port)
            .tls(tls)
            .timeout(Some(c.timeout));
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            builder = builder
                .credentials(Credentials::new(user.clone(), password.clone()))
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        Ok(builder.build())
    }

    /// The MIME message for `m`.
    fn build(&self, m: &Message) -> Result<lettre::Message, MailError> {
        let bad = |e: String| failure(MailFailure::Message, e);
        let from: Mailbox = self
            .config
            .from
            .parse()
            .map_err(|e| bad(format!("email.from: {e}")))?;
        let mut builder = lettre::Message::builder().from(from).subject(&m.subject);
        for to in &self.config.to {
            let to: Mailbox = to
                .parse()
                .map_err(|e| bad(format!("email.to `{to}`: {e}")))?;
            builder = builder.to(to);
        }
        let text = m.text.clone();
        let message = match (&m.html, m.attachments.is_empty()) {
            (None, true) => builder.singlepart(SinglePart::plain(text)),
            (Some(html), true) => {
                builder.multipart(MultiPart::alternative_plain_html(text, html.clone()))
            }
            (html, false) => {
                let mut mixed = match html {
                    Some(html) => MultiPart::mixed()
                        .multipart(MultiPart::alternative_plain_html(text, html.clone())),
                    None => MultiPart::mixed().singlepart(SinglePart::plain(text)),
                };
                for a in &m.attachments {
                    let ct = ContentType::parse(&a.content_type).map_err(|e| {
                        bad(format!(
                            "attachment {}: content type `{}`: {e}",
                            a.filename, a.content_type
                        ))
                    })?;
                    mixed = mixed.singlepart(
                        MimeAttachment::new(a.filename.clone()).body(a.bytes.clone(), ct),
                    );
                }
                builder.multipart(mixed)
            }
        };
        message.map_err(|e| bad(chain(&e)))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn describe(&self) -> String {
        let c = &self.config;
        let login = c
            .username
            .as_ref()
            .map(|u| format!(" as {u}"))
            .unwrap_or_default();
        format!(
            "smtp://{}:{} ({}){login}, from {} to {}",
            c.server,
            c.port,
            c.security.as_str(),
            c.from,
            c.to.join(", ")
        )
    }

    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let email = self.build(message)?;
        let transport = self.transport()?;
        let limit = self.config.timeout;
        let sent = tokio::time::timeout(limit, transport.send(email)).await;
        let detail = |e: &lettre::transport::smtp::Error| {
            crate::engine::secrets::mask_owned(format!(
                "{}:{}: {}",
                self.config.server,
                self.config.port,
                chain(e)
            ))
        };
        match sent {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(failure(classify(&e), detail(&e))),
            Err(_) => Err(failure(
                MailFailure::Timeout,
                format!(
                    "{}:{}: no answer within {} s (email.timeout_seconds)",
                    self.config.server,
                    self.config.port,
                    limit.as_secs_f64()
                ),
            )),
        }
    }
}
