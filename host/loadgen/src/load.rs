//! The two ways of sending: a closed loop (N senders, each sending its next delivery when the
//! previous one is answered) and an open loop (deliveries launched on a fixed schedule whatever
//! the answers, latency counted from the scheduled time, so a stalled server cannot hide its
//! stall by slowing the sender down: no coordinated omission).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::delivery::{Ids, Template, now_secs, signature_header};
use crate::report::Stats;

/// Where and how deliveries are sent.
pub struct Target {
    /// The HTTP client (keep-alive, no proxy).
    pub client: reqwest::Client,
    /// `{base}/webhooks/stripe/{tenant}/{mode}`.
    pub url: String,
    /// The endpoint's `whsec_…` signing secret.
    pub secret: String,
    /// The envelope.
    pub template: Template,
    /// Unique ids for every delivery.
    pub ids: Ids,
}

/// What one delivery got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer: stored and acknowledged.
    Ack,
    /// Any other status.
    Status(u16),
    /// No answer: the kind (`connect`, `timeout`, `request`, `body`) and the message.
    Error(&'static str, String),
}

impl Target {
    /// Builds, signs and sends one delivery and reads the whole answer.
    pub async fn send(&self) -> Outcome {
        let unique = self.ids.next();
        let now = now_secs();
        let body = self.template.body(&unique, now);
        let header = signature_header(&self.secret, now, &body);
        let sent = self
            .client
            .post(&self.url)
            .header("Stripe-Signature", header)
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .header(USER_AGENT, "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                // Read the answer to the end so the connection can be reused.
                match response.bytes().await {
                    Err(e) => Outcome::Error("body", describe(&e)),
                    Ok(_) if status.is_success() => Outcome::Ack,
                    Ok(_) => Outcome::Status(status.as_u16()),
                }
            }
            Err(e) if e.is_timeout() => Outcome::Error("timeout", describe(&e)),
            Err(e) if e.is_connect() => Outcome::Error("connect", describe(&e)),
            Err(e) => Outcome::Error("request", describe(&e)),
        }
    }
}

/// An error with its causes, which is where reqwest puts the useful part.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// When to stop: at the deadline, or after this many deliveries, whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// How long to send for.
    pub duration: Duration,
    /// At most this many deliveries.
    pub requests: Option<u64>,
}

/// Runs `concurrency` senders until `limit`; returns what they saw and how long the run took
/// (until the last answer).
pub async fn closed_loop(
    target: Arc<Target>,
    concurrency: usize,
    limit: Limit,
) -> (Stats, Duration) {
    let started = Instant::now();
    let deadline = started + limit.duration;
    let claimed = Arc::new(AtomicU64::new(0));
    let mut senders = JoinSet::new();
    for _ in 0..concurrency {
        let (target, claimed) = (target.clone(), claimed.clone());
        senders.spawn(async move {
            let mut stats = Stats::new();
            while Instant::now() < deadline {
                if limit
                    .requests
                    .is_some_and(|max| claimed.fetch_add(1, Ordering::Relaxed) >= max)
                {
                    break;
                }
                let sent = Instant::now();
                let outcome = target.send().await;
                stats.record(&outcome, sent.elapsed(), None);
            }
            stats
        });
    }
    let mut total = Stats::new();
    while let Some(joined) = senders.join_next().await {
        if let Ok(stats) = joined {
            total.merge(&stats);
        }
    }
    (total, started.elapsed())
}

/// How many deliveries an open loop at `rate` per second schedules within `limit`.
pub fn scheduled_count(rate: f64, limit: Limit) -> u64 {
    let by_time = (limit.duration.as_secs_f64() * rate).ceil() as u64;
    limit.requests.map_or(by_time, |max| max.min(by_time))
}

/// When delivery `i` (from 0) of an open loop at `rate` per second is due, after the start.
pub fn scheduled_offset(i: u64, rate: f64) -> Duration {
    Duration::from_nanos((i as f64 * 1e9 / rate).round() as u64)
}

/// Launches deliveries at `rate` per second until `limit`, with at most `max_in_flight`
/// awaiting an answer (more wait their turn, and the wait counts in their latency); returns
/// what they saw and how long the run took (until the last answer).
///
/// The schedule is kept by a thread of its own with the operating system's sleep (tens of
/// microseconds late), not by the async runtime's timer, which rounds every wake-up to the
/// next millisecond and would add up to a millisecond to every latency.
pub async fn open_loop(
    target: Arc<Target>,
    rate: f64,
    limit: Limit,
    max_in_flight: usize,
) -> Result<(Stats, Duration), String> {
    let count = scheduled_count(rate, limit);
    let (done, mut answers) = mpsc::unbounded_channel::<(Outcome, Duration, Duration)>();
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let runtime = Handle::current();
    let started = Instant::now();
    std::thread::Builder::new()
        .name("payhook-load-schedule".into())
        .spawn(move || {
            for i in 0..count {
                let due = started + scheduled_offset(i, rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let (target, slots, done) = (target.clone(), slots.clone(), done.clone());
                runtime.spawn(async move {
                    let Ok(_slot) = slots.acquire_owned().await else {
                        return;
                    };
                    let lag = due.elapsed();
                    let outcome = target.send().await;
                    let _ = done.send((outcome, due.elapsed(), lag));
                });
            }
        })
        .map_err(|e| format!("cannot start the scheduling thread: {e}"))?;
    // The channel closes when the schedule is done and every delivery has its answer.
    let mut stats = Stats::new();
    while let Some((outcome, latency, lag)) = answers.recv().await {
        stats.record(&outcome, latency, Some(lag));
    }
    Ok((stats, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_loop_schedule_is_even_and_bounded() {
        let twenty_s = Limit {
            duration: Duration::from_secs(20),
            requests: None,
        };
        assert_eq!(scheduled_count(1000.0, twenty_s), 20_000);
        assert_eq!(scheduled_offset(0, 1000.0), Duration::ZERO);
        assert_eq!(scheduled_offset(1, 1000.0), Duration::from_millis(1));
        assert_eq!(
            scheduled_offset(19_999, 1000.0),
            Duration::from_micros(19_999_000)
        );
        // A fraction of a request still goes out: 2.5 s at 1/s is 3, at 0, 1 and 2 s.
        let short = Limit {
            duration: Duration::from_millis(2500),
            requests: None,
        };
        assert_eq!(scheduled_count(1.0, short), 3);
        assert_eq!(scheduled_offset(2, 1.0), Duration::from_secs(2));
        // Rates that do not divide a second are rounded to the nanosecond, never drift.
        assert_eq!(scheduled_offset(1, 3.0), Duration::from_nanos(333_333_333));
        assert_eq!(
            scheduled_offset(3_000_000, 3.0),
            Duration::from_secs(1_000_000)
        );
        // --requests caps the schedule.
        assert_eq!(
            scheduled_count(
                1000.0,
                Limit {
                    requests: Some(500),
                    ..twenty_s
                }
            ),
            500
        );
        assert_eq!(
            scheduled_count(
                10.0,
                Limit {
                    requests: Some(500),
                    ..twenty_s
                }
            ),
            200
        );
    }
}
