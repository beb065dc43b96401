//! E-mail: the notification outbox's messages that name a recipient (plugins' `notify`
//! commands) are sent through an SMTP relay (`payhook serve --smtp-url smtps://HOST`, see
//! [`Mailer::new`]), each
//! retried with backoff and `dead` after [`MAX_ATTEMPTS`]. Messages without a recipient (the
//! engine's dunning notices) stay in the outbox for the platform to read.

use lettre::message::Mailbox;
use lettre::{Message, SmtpTransport, Transport};
use serde_json::Value as Json;

use crate::db::{Conn, DbError};

/// Attempts an e-mail gets before it is `dead`.
pub const MAX_ATTEMPTS: i64 = 10;

/// How long a node that took a message (an e-mail, a callback) to send holds it: another node
/// sends it only after this, if the first never said how it went.
pub const SEND_LEASE_SECS: i64 = 120;

/// At most this many e-mails of a round are with the relay at once: a slow relay then costs a
/// round of 20 messages five messages' time rather than twenty, without opening more
/// connections than relays commonly take from one client.
pub const SEND_CONCURRENCY: usize = 4;

/// Why e-mail cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The URL is not an SMTP relay payhook can use.
    #[error(
        "--smtp-url must be smtps://[USER:PASSWORD@]HOST[:PORT], smtp://[USER:PASSWORD@]HOST[:PORT]?tls=starttls or, for a relay on this machine, smtp://HOST[:PORT], with ca=FILE for a relay whose certificate comes from a private authority; {0}"
    )]
    Url(String),
    /// The sender address is not an address.
    #[error("--smtp-from {0:?} is not an e-mail address")]
    From(String),
}

/// Sends e-mail through one SMTP relay.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    relay: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: only the host is shown.
        f.debug_struct("Mailer")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `url` sending as `from`. The URL says how the relay is reached:
    /// `smtps://HOST[:465]` over TLS, `smtp://HOST[:587]?tls=starttls` upgraded with STARTTLS
    /// (required: a relay that does not offer it is refused), or `smtp://HOST[:25]` in plain
    /// text, for a relay on this machine or a trusted network. A password is never sent in plain
    /// text to a relay that is not on loopback. TLS certificates are checked against the
    /// system's roots, and also against the certificates of a PEM file given as `ca=FILE` (a
    /// relay with a certificate from a private authority:
    /// `smtps://relay.internal?ca=/etc/payhook/relay-ca.pem`).
    pub fn new(url: &str, from: &str) -> Result<Mailer, MailError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| MailError::Url(e.to_string()))?;
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| MailError::Url("it names no host".into()))?
            .to_owned();
        let mut tls = None;
        let mut ca = None;
        for (key, value) in parsed.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "starttls") => tls = Some("starttls"),
                ("ca", _) if ca.is_some() => {
                    return Err(MailError::Url("ca= is given twice".into()));
                }
                ("ca", path) => ca = Some(path.to_owned()),
                ("tls", other) => {
                    return Err(MailError::Url(format!(
                        "tls={other:?} is not known: use ?tls=starttls, or smtps:// for TLS from the start"
                    )));
                }
                (other, _) => {
                    return Err(MailError::Url(format!(
                        "the parameter {other:?} is not known"
                    )));
                }
            }
        }
        let (mut builder, port, encrypted) = match (parsed.scheme(), tls) {
            ("smtps", None) => (
                SmtpTransport::relay(&host).map_err(|e| MailError::Url(e.to_string()))?,
                parsed.port().unwrap_or(465),
                true,
            ),
            ("smtp", Some(_)) => (
                SmtpTransport::starttls_relay(&host).map_err(|e| MailError::Url(e.to_string()))?,
                parsed.port().unwrap_or(587),
                true,
            ),
            ("smtp", None) => (
                SmtpTransport::builder_dangerous(&host),
                parsed.port().unwrap_or(25),
                false,
            ),
            ("smtps", Some(_)) => {
                return Err(MailError::Url(
                    "smtps:// is TLS from the start; ?tls=starttls is for smtp://".into(),
                ));
            }
            (other, _) => {
                return Err(MailError::Url(format!(
                    "the scheme is {other:?}; only smtp:// and smtps:// are supported"
                )));
            }
        };
        if let Some(path) = &ca {
            if !encrypted {
                return Err(MailError::Url(
                    "ca= names the authority of a TLS relay: use it with smtps:// or ?tls=starttls"
                        .into(),
                ));
            }
            let params = tls_with_authority(&host, path)?;
            builder = builder.tls(if parsed.scheme() == "smtps" {
                lettre::transport::smtp::client::Tls::Wrapper(params)
            } else {
                lettre::transport::smtp::client::Tls::Required(params)
            });
        }
        builder = builder
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(10)));
        if !parsed.username().is_empty() {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = bare == "localhost"
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !encrypted && !loopback {
                return Err(MailError::Url(format!(
                    "the password would go to {host} unencrypted: use smtps://{host} (TLS, port 465) or smtp://{host}:587?tls=starttls"
                )));
            }
            let user = percent_decode(parsed.username());
            let password = percent_decode(parsed.password().unwrap_or(""));
            builder = builder.credentials(
                lettre::transport::smtp::authentication::Credentials::new(user, password),
            );
        }
        let transport = builder.build();
        let from: Mailbox = from.parse().map_err(|_| MailError::From(from.to_owned()))?;
        let relay = format!("{host}:{port}");
        Ok(Mailer {
            transport,
            from,
            relay,
        })
    }

    fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| format!("{to:?} is not an e-mail address"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(text.to_owned())
            .map_err(|e| format!("the message cannot be built: {e}"))?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| format!("the relay {} refused or failed: {e}", self.relay))
    }
}

/// TLS to `host`, trusting the system's roots and the certificates in the PEM file at `path`.
fn tls_with_authority(
    host: &str,
    path: &str,
) -> Result<lettre::transport::smtp::client::TlsParameters, MailError> {
    use lettre::transport::smtp::client::{Certificate, TlsParameters};
    let pem = std::fs::read(path)
        .map_err(|e| MailError::Url(format!("the ca= file {path:?} cannot be read: {e}")))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(MailError::Url(format!(
            "the ca= file {path:?} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    let authority = Certificate::from_pem(&pem).map_err(|e| {
        MailError::Url(format!(
            "the ca= file {path:?} is not a PEM certificate: {e}"
        ))
    })?;
    let domain = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    TlsParameters::builder(domain)
        .add_root_certificate(authority)
        .build_rustls()
        .map_err(|e| MailError::Url(format!("the ca= file {path:?}: {e}")))
}

fn percent_decode(text: &str) -> String {
    let bytes: Vec<u8> =
        form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// Sends the outbox's due e-mails, each through the notification filters of the tenant's
/// plugins when `filters` are given. Returns how many were attempted.
///
/// The due messages are claimed and filtered one by one, handed to the relay
/// [`SEND_CONCURRENCY`] at a time, and then each outcome is recorded.
pub fn deliver(
    conn: &mut dyn Conn,
    mailer: &Mailer,
    filters: Option<&crate::plugins::PluginFilters>,
    now: i64,
) -> Result<usize, DbError> {
    let due = conn.query(
        "SELECT seq, body, attempts, status, tenant_id, subject, next_attempt_at FROM notifications \
         WHERE status IN ('pending', 'failed') AND next_attempt_at <= $1 AND kind LIKE 'plugin:%' \
         ORDER BY next_attempt_at, seq LIMIT 20",
        &[now.into()],
    )?;
    // (seq, attempts, status, the message as its filters left it or why it cannot go)
    let mut claimed: Vec<(
        i64,
        i64,
        String,
        Result<payhook_plugins::Notification, String>,
    )> = Vec::new();
    for r in &due {
        let (seq, attempts, status) = (r.int(0), r.int(2) + 1, r.text(3));
        // Claimed before it is sent: another node that read it too finds it taken and leaves
        // it. A node that stops while sending leaves it to be sent again after the lease.
        let taken = conn.execute(
            "UPDATE notifications SET next_attempt_at = $1 WHERE seq = $2 AND status = $3 AND next_attempt_at = $4",
            &[(now.max(crate::ids::now_secs()) + SEND_LEASE_SECS).into(), seq.into(), status.as_str().into(), r.int(6).into()],
        )?;
        if taken != 1 {
            continue;
        }
        let body: Json = serde_json::from_str(&r.text(1)).unwrap_or(Json::Null);
        let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        let mail = payhook_plugins::Notification {
            to: field("to"),
            subject: field("title"),
            text: field("text"),
        };
        // Filters that could not run hold the e-mail back, as a relay that cannot take it does:
        // it is tried again later rather than sent without them.
        let filtered = match filters {
            Some(f) => {
                // The outbox's subject reads "kind id #n".
                let about = r.text(5);
                let mut words = about.split(' ');
                let record = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                f.notification(&r.text(4), record, mail)
                    .map_err(|e| e.to_string())
            }
            None => Ok(mail),
        };
        claimed.push((seq, attempts, status, filtered));
    }
    let mails: Vec<_> = claimed.iter().map(|(.., mail)| mail).collect();
    let sent = send_all(mailer, &mails);
    for ((seq, attempts, status, _), outcome) in claimed.iter().zip(sent) {
        match outcome {
            Ok(()) => {
                tracing::info!(notification = seq, relay = %mailer.relay, "e-mail sent");
                conn.execute(
                    "UPDATE notifications SET status = 'sent', attempts = $1, last_error = NULL WHERE seq = $2 AND status = $3",
                    &[(*attempts).into(), (*seq).into(), status.as_str().into()],
                )?;
            }
            Err(e) => {
                tracing::warn!(notification = seq, attempts, error = %e, "sending an e-mail failed");
                let next = if *attempts >= MAX_ATTEMPTS {
                    "dead"
                } else {
                    "failed"
                };
                let wait =
                    (crate::plugins::FIRST_RETRY_SECS << (attempts - 1).clamp(0, 11)).min(3600);
                conn.execute(
                    "UPDATE notifications SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4 WHERE seq = $5 AND status = $6",
                    &[next.into(), (*attempts).into(), (now + wait).into(), e.into(), (*seq).into(), status.as_str().into()],
                )?;
            }
        }
    }
    Ok(due.len())
}

/// Sends `mails` (those that may go) through `mailer`, [`SEND_CONCURRENCY`] at a time; returns
/// each one's outcome, in order.
fn send_all(
    mailer: &Mailer,
    mails: &[&Result<payhook_plugins::Notification, String>],
) -> Vec<Result<(), String>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let mut outcomes: Vec<Option<Result<(), String>>> = vec![None; mails.len()];
    std::thread::scope(|scope| {
        let senders: Vec<_> = (0..SEND_CONCURRENCY.min(mails.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(mail) = mails.get(i) else { break };
                        let outcome = match mail {
                            Ok(m) => mailer.send(&m.to, &m.subject, &m.text),
                            Err(e) => Err(e.clone()),
                        };
                        done.push((i, outcome));
                    }
                    done
                })
            })
            .collect();
        for sender in senders {
            for (i, outcome) in sender.join().unwrap_or_default() {
                outcomes[i] = Some(outcome);
            }
        }
    });
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err("the e-mail was not handed to the relay".to_owned())))
        .collect()
}
