//! Loopback stand-ins for what plugins talk to: an SMTP relay and a platform taking callbacks.

/// A platform on loopback that answers 500 to its first `failures` callbacks and 200 after,
/// and keeps what it received.
pub async fn platform(
    failures: usize,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>,
) {
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let mut list = kept.lock().unwrap();
                list.push((headers, body));
                if list.len() <= failures {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// The messages an SMTP sink received: (recipients, data).
pub type Mailbox = std::sync::Arc<std::sync::Mutex<Vec<(Vec<String>, String)>>>;

/// An SMTP sink on loopback: accepts every message and keeps it.
pub async fn smtp_sink() -> (u16, Mailbox) {
    let got: Mailbox = Mailbox::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let kept = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let kept = kept.clone();
            tokio::spawn(smtp_dialog(socket, true, false, move |_, to, data| {
                kept.lock().unwrap().push((to, data))
            }));
        }
    });
    (port, got)
}

/// Speaks the relay's side of SMTP on `stream`, after a `220` greeting when `greet`, offering
/// AUTH PLAIN when `auth`; every message goes to `keep` with the credentials as decoded (when
/// the client logged in), the recipients and the data.
#[allow(dead_code)]
pub async fn smtp_dialog<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    stream: S,
    greet: bool,
    auth: bool,
    keep: impl Fn(Option<String>, Vec<String>, String),
) {
    use base64::Engine;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read).lines();
    if greet {
        write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
    }
    let decode = |b64: &str| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap();
        String::from_utf8(bytes).unwrap()
    };
    let (mut login, mut to, mut data) = (None, Vec::new(), String::new());
    let (mut in_data, mut auth_next) = (false, false);
    while let Ok(Some(line)) = lines.next_line().await {
        if in_data {
            if line == "." {
                in_data = false;
                keep(
                    login.clone(),
                    std::mem::take(&mut to),
                    std::mem::take(&mut data),
                );
                write.write_all(b"250 queued\r\n").await.unwrap();
            } else {
                data.push_str(&line);
                data.push('\n');
            }
            continue;
        }
        if auth_next {
            auth_next = false;
            login = Some(decode(&line));
            write.write_all(b"235 ok\r\n").await.unwrap();
            continue;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") && auth {
            b"250-sink\r\n250 AUTH PLAIN\r\n"
        } else if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            if rest.trim().is_empty() {
                auth_next = true;
                b"334 \r\n"
            } else {
                login = Some(decode(&line["AUTH PLAIN".len()..]));
                b"235 ok\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            in_data = true;
            b"354 go on\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await.ok();
            return;
        } else {
            b"250 ok\r\n"
        };
        write.write_all(reply).await.unwrap();
    }
}

/// A Stripe for the seed flows: localstripe at `upstream` has no Prices and no Payment Links, so
/// those two are answered here (`price_seed…`, and a link at `https://buy.stripe.com/test_…`,
/// as Stripe's test mode gives) and every other request is passed on to localstripe unchanged.
#[allow(dead_code)]
pub async fn with_payment_links(upstream: String) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let made = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (made, client, upstream) = (made.clone(), client.clone(), upstream.clone());
            async move {
                let n = made.fetch_add(1, Ordering::SeqCst);
                match (method.as_str(), uri.path()) {
                    ("POST", "/v1/prices") => {
                        let form = String::from_utf8_lossy(&body);
                        let amount = form
                            .split('&')
                            .find_map(|p| p.strip_prefix("unit_amount="))
                            .unwrap_or("0")
                            .to_owned();
                        let price = serde_json::json!({"object": "price", "id": format!("price_seed{n}"), "unit_amount": amount.parse::<i64>().unwrap_or(0), "currency": "eur", "active": true});
                        return (StatusCode::OK, price.to_string());
                    }
                    ("POST", "/v1/payment_links") => {
                        let link = serde_json::json!({"object": "payment_link", "id": format!("plink_seed{n}"), "url": format!("https://buy.stripe.com/test_seed{n}"), "active": true});
                        return (StatusCode::OK, link.to_string());
                    }
                    _ => {}
                }
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                let mut request = client.request(method, format!("{upstream}{path}"));
                for (name, value) in &headers {
                    if name != "host" && name != "content-length" {
                        request = request.header(name, value);
                    }
                }
                match request.body(body).send().await {
                    Ok(answer) => (
                        StatusCode::from_u16(answer.status().as_u16()).unwrap(),
                        answer.text().await.unwrap_or_default(),
                    ),
                    Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()),
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}
