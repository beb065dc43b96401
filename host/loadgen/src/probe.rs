//! The server's side of a run: its commit batches from `GET /metrics` and, on Linux, the CPU
//! time of a process from `/proc`.

use serde_json::{Value, json};

/// The server's counters at one moment (from its Prometheus metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerCounters {
    /// Commits of the inbox (`payhook_inbox_batch_size_count`).
    pub commits: f64,
    /// Deliveries in those commits (`payhook_inbox_batch_size_sum`).
    pub delivered: f64,
    /// Seconds spent committing (`payhook_inbox_commit_seconds_sum`).
    pub commit_seconds: f64,
    /// Events processed, any outcome (`payhook_events_processed_total`).
    pub processed: f64,
}

/// What the server did between two readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerDelta {
    /// The difference of the counters.
    pub counters: ServerCounters,
    /// CPU seconds the server process used, when it is ours and `/proc` is there.
    pub cpu_seconds: Option<f64>,
}

/// Reads the counters from the metrics text; `None` when it has none of them.
pub fn parse_counters(text: &str) -> Option<ServerCounters> {
    let mut c = ServerCounters::default();
    let mut found = false;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let slot = match name.split('{').next().unwrap_or(name) {
            "payhook_inbox_batch_size_count" => &mut c.commits,
            "payhook_inbox_batch_size_sum" => &mut c.delivered,
            "payhook_inbox_commit_seconds_sum" => &mut c.commit_seconds,
            "payhook_events_processed_total" => &mut c.processed,
            _ => continue,
        };
        *slot += value;
        found = true;
    }
    found.then_some(c)
}

/// The server's counters, from `{base}/metrics`; `None` when they cannot be had.
pub async fn server_counters(client: &reqwest::Client, base: &str) -> Option<ServerCounters> {
    let response = client.get(format!("{base}/metrics")).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    parse_counters(&response.text().await.ok()?)
}

impl ServerDelta {
    /// `after - before`.
    pub fn between(
        before: ServerCounters,
        after: ServerCounters,
        cpu_seconds: Option<f64>,
    ) -> ServerDelta {
        let counters = ServerCounters {
            commits: after.commits - before.commits,
            delivered: after.delivered - before.delivered,
            commit_seconds: after.commit_seconds - before.commit_seconds,
            processed: after.processed - before.processed,
        };
        ServerDelta {
            counters,
            cpu_seconds,
        }
    }

    fn mean_batch(&self) -> f64 {
        self.counters.delivered / self.counters.commits.max(1.0)
    }

    fn mean_commit_ms(&self) -> f64 {
        self.counters.commit_seconds * 1000.0 / self.counters.commits.max(1.0)
    }

    /// One line for people; `secs` is the run's length.
    pub fn text(&self, secs: f64) -> String {
        let c = &self.counters;
        let mut out = format!(
            "{:.0} commits, mean batch {:.1} deliveries, mean commit {:.2} ms, writer busy committing {:.0}% of the run; {:.0} events processed",
            c.commits,
            self.mean_batch(),
            self.mean_commit_ms(),
            c.commit_seconds / secs.max(1e-9) * 100.0,
            c.processed,
        );
        if let Some(cpu) = self.cpu_seconds {
            out.push_str(&format!("; {:.2} CPU cores", cpu / secs.max(1e-9)));
        }
        out
    }

    /// The same as JSON; `secs` is the run's length.
    pub fn json(&self, secs: f64) -> Value {
        let c = &self.counters;
        let round = |v: f64, places: i32| (v * 10f64.powi(places)).round() / 10f64.powi(places);
        let mut out = json!({
            "commits": c.commits,
            "stored": c.delivered,
            "mean_batch": round(self.mean_batch(), 1),
            "mean_commit_ms": round(self.mean_commit_ms(), 3),
            "commit_busy_fraction": round(c.commit_seconds / secs.max(1e-9), 3),
            "processed": c.processed,
        });
        if let Some(cpu) = self.cpu_seconds {
            out["cpu_cores"] = json!(round(cpu / secs.max(1e-9), 2));
        }
        out
    }
}

/// CPU seconds (user + system) a process has used: `None` for this process, or another's pid.
/// Linux only (`/proc/PID/stat`, in the kernel's fixed 100 ticks a second); `None` elsewhere.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).ok()?;
    parse_stat_cpu(&stat)
}

/// utime + stime of a `/proc/PID/stat` line, in seconds.
fn parse_stat_cpu(stat: &str) -> Option<f64> {
    // The command name is in parentheses and may hold spaces; fields are counted after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the line; the first after ')' is field 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    const USER_HZ: f64 = 100.0;
    Some((utime + stime) / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_from_the_metrics_text() {
        let text = "# HELP payhook_inbox_batch_size Deliveries stored per commit.\n\
            payhook_inbox_batch_size_sum 300.0\npayhook_inbox_batch_size_count 10\n\
            payhook_inbox_batch_size_bucket{le=\"1.0\"} 2\n\
            payhook_inbox_commit_seconds_sum 0.05\n\
            payhook_events_processed_total{outcome=\"ignored\"} 250\npayhook_events_processed_total{outcome=\"processed\"} 5\n# EOF\n";
        let c = parse_counters(text).unwrap();
        assert_eq!(
            c,
            ServerCounters {
                commits: 10.0,
                delivered: 300.0,
                commit_seconds: 0.05,
                processed: 255.0
            }
        );
        assert_eq!(parse_counters("# EOF\n"), None);
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat =
            "1234 (payhook serve) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat_cpu(stat), Some(3.0));
    }
}
