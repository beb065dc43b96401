//! E-mail to a relay that speaks TLS (from the start, or after STARTTLS) with a certificate from
//! a private authority named by `ca=`: the password and the message arrive, the relay's
//! certificate is checked, and a relay the system's roots do not vouch for is refused and the
//! message kept to be tried again. The relay is a stand-in on loopback with the certificates of
//! `tests/fixtures/smtp-tls`.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use payhook_server::db::{Conn, Location};
use payhook_server::ids::now_secs;
use payhook_server::mail::{self, Mailer};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/smtp-tls");

/// What the relay received: the AUTH PLAIN credentials as decoded, the recipients and the data.
#[derive(Debug, Clone, Default)]
struct Received {
    auth: Option<String>,
    to: Vec<String>,
    data: String,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

#[derive(Clone, Copy)]
enum Tls {
    /// TLS from the first byte (smtps, port 465's way).
    Wrapper,
    /// Plain text until STARTTLS.
    StartTls,
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{FIXTURES}/relay.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/relay.key")).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// An SMTP relay on loopback that speaks TLS the `tls` way and keeps what it receives.
async fn tls_relay(tls: Tls) -> (u16, Inbox) {
    let inbox = Inbox::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (kept, acceptor) = (inbox.clone(), acceptor());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (kept, acceptor) = (kept.clone(), acceptor.clone());
            tokio::spawn(async move {
                match tls {
                    Tls::Wrapper => {
                        // A client that refuses the certificate ends the handshake here.
                        if let Ok(stream) = acceptor.accept(socket).await {
                            dialog(stream, true, kept).await;
                        }
                    }
                    Tls::StartTls => {
                        let (read, mut write) = tokio::io::split(socket);
                        let mut lines = BufReader::new(read).lines();
                        write.write_all(b"220 relay ESMTP\r\n").await.unwrap();
                        while let Ok(Some(line)) = lines.next_line().await {
                            let upper = line.to_ascii_uppercase();
                            if upper.starts_with("EHLO") {
                                write
                                    .write_all(b"250-relay\r\n250 STARTTLS\r\n")
                                    .await
                                    .unwrap();
                            } else if upper.starts_with("STARTTLS") {
                                write.write_all(b"220 go ahead\r\n").await.unwrap();
                                // The client says nothing more until the handshake, so the
                                // reader holds nothing back.
                                let socket = lines.into_inner().into_inner().unsplit(write);
                                if let Ok(stream) = acceptor.accept(socket).await {
                                    dialog(stream, false, kept).await;
                                }
                                return;
                            } else {
                                write.write_all(b"530 STARTTLS first\r\n").await.unwrap();
                            }
                        }
                    }
                }
            });
        }
    });
    (port, inbox)
}

/// The SMTP conversation once the stream is encrypted, AUTH PLAIN offered; what arrives is
/// kept.
async fn dialog<S: AsyncRead + AsyncWrite>(stream: S, greet: bool, kept: Inbox) {
    common::sinks::smtp_dialog(stream, greet, true, move |auth, to, data| {
        kept.lock().unwrap().push(Received { auth, to, data })
    })
    .await
}

/// Queues one e-mail for `tenant` and runs the outbox once; returns the row's status, attempts
/// and last error.
fn send_one(s: &TestServer, tenant: &str, mailer: &Mailer, n: usize) -> (String, i64, String) {
    s.with_conn(|c| {
        let body = json!({"to": "patient@example.com", "title": format!("Reminder {n}"), "text": "See you on Monday.", "plugin": "clinic"});
        c.execute(
            "INSERT INTO notifications (tenant_id, event_id, kind, subject, status, body, created_at) VALUES ($1, $2, 'plugin:clinic', $3, 'pending', $4, 0)",
            &[tenant.into(), format!("evt_{n}").into(), format!("appointment apt_{n} #0").into(), body.to_string().into()],
        )
        .unwrap();
        mail::deliver(c, mailer, None, now_secs()).unwrap();
        let r = c
            .query_opt(
                "SELECT status, attempts, last_error FROM notifications WHERE event_id = $1",
                &[format!("evt_{n}").into()],
            )
            .unwrap()
            .unwrap();
        (r.text(0), r.int(1), r.opt_text(2).unwrap_or_default())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_mail_reaches_a_tls_relay_of_a_private_authority_and_no_other() {
    let ca = format!("{FIXTURES}/ca.pem");
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(&Location::Sqlite(dir.path().join("payhook.db"))).await;
    let tenant = s.tenant();
    for (n, tls) in [(1, Tls::Wrapper), (2, Tls::StartTls)] {
        let (port, inbox) = tls_relay(tls).await;
        let url = match tls {
            Tls::Wrapper => format!("smtps://clinic:s3cret%21@127.0.0.1:{port}?ca={ca}"),
            Tls::StartTls => {
                format!("smtp://clinic:s3cret%21@127.0.0.1:{port}?tls=starttls&ca={ca}")
            }
        };
        let mailer = Mailer::new(&url, "Smile Dental <clinic@smile.example>").unwrap();
        assert!(!format!("{mailer:?}").contains("s3cret"));
        assert_eq!(
            send_one(&s, &tenant, &mailer, n),
            ("sent".into(), 1, String::new())
        );
        let got = inbox.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].auth.as_deref(), Some("\0clinic\0s3cret!"));
        assert_eq!(got[0].to, ["patient@example.com"]);
        assert!(
            got[0].data.contains(&format!("Subject: Reminder {n}")),
            "{}",
            got[0].data
        );
        assert!(
            got[0].data.contains("See you on Monday."),
            "{}",
            got[0].data
        );

        // Without the authority, the system's roots do not vouch for the relay: nothing is
        // sent (not even the password), and the e-mail waits to be tried again.
        let url = url.split('?').next().unwrap().to_owned()
            + if matches!(tls, Tls::StartTls) {
                "?tls=starttls"
            } else {
                ""
            };
        let mailer = Mailer::new(&url, "clinic@smile.example").unwrap();
        let (status, attempts, error) = send_one(&s, &tenant, &mailer, n + 10);
        assert_eq!((status.as_str(), attempts), ("failed", 1), "{error}");
        assert!(
            error.to_ascii_lowercase().contains("certificate"),
            "{error}"
        );
        assert_eq!(inbox.lock().unwrap().len(), 1, "nothing more arrived");
    }
    s.stop().await;
}

#[test]
fn a_ca_file_that_cannot_be_used_is_refused_when_the_mailer_is_made() {
    let err = |url: &str| {
        Mailer::new(url, "clinic@smile.example")
            .unwrap_err()
            .to_string()
    };
    let missing = format!("{FIXTURES}/no-such.pem");
    let e = err(&format!("smtps://relay.example?ca={missing}"));
    assert!(e.contains("cannot be read"), "{e}");
    assert!(e.contains("no-such.pem"), "{e}");
    // A key is not a certificate.
    let e = err(&format!("smtps://relay.example?ca={FIXTURES}/relay.key"));
    assert!(e.contains("holds no PEM certificate"), "{e}");
    // Two authorities where one is meant: which one would be a guess.
    let e = err(&format!(
        "smtps://relay.example?ca={FIXTURES}/ca.pem&ca={FIXTURES}/ca.pem"
    ));
    assert!(e.contains("ca= is given twice"), "{e}");
    // Plain text has no certificate to check.
    let e = err(&format!("smtp://127.0.0.1:25?ca={FIXTURES}/ca.pem"));
    assert!(e.contains("use it with smtps:// or ?tls=starttls"), "{e}");
}
