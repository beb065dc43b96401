//! Prometheus metrics: deliveries, processing outcomes and commit batches.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::inbox::Stored;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

/// The server's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    deliveries: Family<Outcome, Counter>,
    rejected: Family<Outcome, Counter>,
    processed: Family<Outcome, Counter>,
    batch_size: Histogram,
    commit_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every payhook metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("payhook");
        let deliveries = Family::<Outcome, Counter>::default();
        let rejected = Family::<Outcome, Counter>::default();
        let processed = Family::<Outcome, Counter>::default();
        let batch_size =
            Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]);
        let commit_seconds = Histogram::new([
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 2.0,
        ]);
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries stored (new), duplicates and storage failures",
            deliveries.clone(),
        );
        registry.register(
            "webhook_rejected",
            "Webhook deliveries refused before storage, by reason",
            rejected.clone(),
        );
        registry.register(
            "events_processed",
            "Events processed, by resulting status",
            processed.clone(),
        );
        registry.register(
            "inbox_batch_size",
            "Deliveries stored per commit",
            batch_size.clone(),
        );
        registry.register(
            "inbox_commit_seconds",
            "Time to store one batch of deliveries",
            commit_seconds.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            deliveries,
            rejected,
            processed,
            batch_size,
            commit_seconds,
        }))
    }

    pub(crate) fn count_delivery<E>(&self, result: &Result<Stored, E>) {
        let outcome = match result {
            Ok(Stored::New) => "stored",
            Ok(Stored::Duplicate) => "duplicate",
            Err(_) => "failed",
        };
        self.0
            .deliveries
            .get_or_create(&Outcome {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub(crate) fn count_rejected(&self, reason: &str) {
        self.0
            .rejected
            .get_or_create(&Outcome {
                outcome: reason.into(),
            })
            .inc();
    }

    pub(crate) fn count_processed(&self, status: &str) {
        self.0
            .processed
            .get_or_create(&Outcome {
                outcome: status.into(),
            })
            .inc();
    }

    pub(crate) fn observe_batch(&self, size: usize, took: Duration) {
        self.0.batch_size.observe(size as f64);
        self.0.commit_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.0.registry);
        out
    }
}
