//! What a run saw, and how it is shown: as text for people, as one JSON object with `--json`.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::load::Outcome;
use crate::probe::ServerDelta;

/// Counts and latencies of one run (or one sender, merged later).
#[derive(Clone)]
pub struct Stats {
    /// Deliveries sent.
    pub sent: u64,
    /// 2xx answers.
    pub acks: u64,
    /// Other answers, by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Deliveries with no answer, by kind, with the first message of each kind.
    pub errors: BTreeMap<&'static str, (u64, String)>,
    /// Latency of acknowledged deliveries, in microseconds.
    pub latency: Histogram<u64>,
    /// Open loop only: how late each delivery left against its schedule, in microseconds.
    pub lag: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min at 3 significant digits; larger values are clamped, never dropped.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("the bounds are valid")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Nothing seen yet.
    pub fn new() -> Stats {
        Stats {
            sent: 0,
            acks: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            latency: histogram(),
            lag: histogram(),
        }
    }

    /// Counts one delivery; `latency` counts only for acknowledged ones.
    pub fn record(&mut self, outcome: &Outcome, latency: Duration, lag: Option<Duration>) {
        self.sent += 1;
        match outcome {
            Outcome::Ack => {
                self.acks += 1;
                self.latency.saturating_record(micros(latency));
            }
            Outcome::Status(s) => *self.statuses.entry(*s).or_default() += 1,
            Outcome::Error(kind, message) => {
                self.errors
                    .entry(kind)
                    .or_insert_with(|| (0, message.clone()))
                    .0 += 1;
            }
        }
        if let Some(lag) = lag {
            self.lag.saturating_record(micros(lag));
        }
    }

    /// Adds another sender's counts.
    pub fn merge(&mut self, other: &Stats) {
        self.sent += other.sent;
        self.acks += other.acks;
        for (s, n) in &other.statuses {
            *self.statuses.entry(*s).or_default() += n;
        }
        for (kind, (n, message)) in &other.errors {
            self.errors
                .entry(kind)
                .or_insert_with(|| (0, message.clone()))
                .0 += n;
        }
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.lag.add(&other.lag);
    }
}

/// A finished run, ready to show.
pub struct Report {
    /// `closed` or `open`.
    pub mode: &'static str,
    /// Closed loop: the number of senders.
    pub concurrency: Option<usize>,
    /// Open loop: the schedule, per second.
    pub rate: Option<f64>,
    /// Where deliveries went.
    pub url: String,
    /// What the senders saw.
    pub stats: Stats,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// The server's side of the run, when its metrics could be read.
    pub server: Option<ServerDelta>,
    /// CPU seconds the generator used during the run, when known.
    pub generator_cpu: Option<f64>,
}

const PERCENTILES: [(&str, f64); 4] =
    [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9)];

fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}

impl Report {
    /// Acknowledged deliveries per second over the whole run.
    pub fn acks_per_sec(&self) -> f64 {
        self.stats.acks as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentiles(h: &Histogram<u64>) -> Value {
        let mut out = serde_json::Map::new();
        for (name, q) in PERCENTILES {
            out.insert(name.into(), json!(ms(h.value_at_quantile(q / 100.0))));
        }
        out.insert("max".into(), json!(ms(h.max())));
        Value::Object(out)
    }

    /// One JSON object; latencies in milliseconds.
    pub fn json(&self) -> Value {
        let s = &self.stats;
        let secs = self.elapsed.as_secs_f64();
        let mut out = json!({
            "mode": self.mode,
            "url": self.url,
            "elapsed_s": (secs * 1000.0).round() / 1000.0,
            "sent": s.sent,
            "acks": s.acks,
            "acks_per_s": (self.acks_per_sec() * 10.0).round() / 10.0,
            "non_2xx": s.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "errors": s.errors.iter().map(|(k, (n, m))| (k.to_string(), json!({"count": n, "first": m}))).collect::<serde_json::Map<_, _>>(),
            "latency_ms": if s.acks > 0 { Self::percentiles(&s.latency) } else { Value::Null },
        });
        if let Some(c) = self.concurrency {
            out["concurrency"] = json!(c);
        }
        if let Some(r) = self.rate {
            out["rate"] = json!(r);
            out["launch_lag_ms"] = Self::percentiles(&s.lag);
        }
        if let Some(server) = &self.server {
            out["server"] = server.json(secs);
        }
        if let Some(cpu) = self.generator_cpu {
            out["generator_cpu_cores"] = json!((cpu / secs * 100.0).round() / 100.0);
        }
        out
    }

    /// Lines for people.
    pub fn text(&self) -> String {
        let s = &self.stats;
        let secs = self.elapsed.as_secs_f64();
        let how = match (self.concurrency, self.rate) {
            (Some(c), _) => format!("closed loop, {c} concurrent senders"),
            (_, Some(r)) => format!("open loop, {r}/s scheduled"),
            _ => self.mode.to_owned(),
        };
        let mut out = format!("payhook-load: {how}, {secs:.1} s → {}\n", self.url);
        out.push_str(&format!("  sent          {}\n", s.sent));
        out.push_str(&format!(
            "  acked (2xx)   {}  = {:.1} acks/s\n",
            s.acks,
            self.acks_per_sec()
        ));
        if !s.statuses.is_empty() {
            let list: Vec<String> = s
                .statuses
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            out.push_str(&format!("  non-2xx       {}\n", list.join(", ")));
        }
        for (kind, (n, message)) in &s.errors {
            out.push_str(&format!("  errors        {kind}: {n} (first: {message})\n"));
        }
        if s.acks > 0 {
            out.push_str(&format!("  latency (ms)  {}\n", Self::line(&s.latency)));
        }
        if self.rate.is_some() {
            out.push_str(&format!(
                "  launch lag    {}  (behind schedule; counted in latency)\n",
                Self::line(&s.lag)
            ));
        }
        if let Some(server) = &self.server {
            out.push_str(&format!("  server        {}\n", server.text(secs)));
        }
        if let Some(cpu) = self.generator_cpu {
            out.push_str(&format!("  generator     {:.2} CPU cores\n", cpu / secs));
        }
        out.trim_end().to_owned()
    }

    fn line(h: &Histogram<u64>) -> String {
        let mut parts: Vec<String> = PERCENTILES
            .iter()
            .map(|(name, q)| {
                format!(
                    "{} {:.2}",
                    name.replace('_', "."),
                    ms(h.value_at_quantile(q / 100.0))
                )
            })
            .collect();
        parts.push(format!("max {:.2}", ms(h.max())));
        parts.join("  ")
    }
}
