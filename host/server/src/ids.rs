//! Record ids and the clock: the only places the server reads randomness and time for records.

use std::time::{SystemTime, UNIX_EPOCH};

/// A new record id: `prefix` and 16 random hex digits (64 bits), e.g. `ten_9f86d081884c7d65`.
/// Tenant ids appear in webhook URLs, so they must not be guessable.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    // The operating system's generator failing is not something a server can work around.
    getrandom::fill(&mut bytes)
        .expect("the operating system's random number generator is unavailable");
    format!("{prefix}_{}", hex::encode(bytes))
}

/// Now, in unix seconds.
pub fn now_secs() -> i64 {
    now_millis() / 1000
}

/// Now, in unix milliseconds.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// True when `id` looks like one of ours with `prefix`: ASCII letters, digits and `_`, at most
/// 64 characters. Checked before an id from a URL or a metadata field goes near the database.
pub fn is_plausible(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_prefixed_unique_and_plausible() {
        let a = super::new_id("ten");
        let b = super::new_id("ten");
        assert!(a.starts_with("ten_") && a.len() == 20, "{a}");
        assert_ne!(a, b);
        assert!(super::is_plausible(&a));
        assert!(!super::is_plausible("ten_x'; DROP TABLE"));
        assert!(!super::is_plausible(""));
    }
}
