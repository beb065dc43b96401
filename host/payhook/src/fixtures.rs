//! The project's own fixtures, embedded at build time (see `build.rs`).

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
