//! Embeds the project's fixtures (signature vectors and sample event envelopes) in the binary,
//! so `payhook conformance` and `payhook trigger` work from any directory.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let fixtures = root
        .join("tests/fixtures")
        .canonicalize()
        .expect("tests/fixtures exists");
    let events_dir = fixtures.join("stripe-events/events");
    println!("cargo:rerun-if-changed={}", fixtures.display());
    println!("cargo:rerun-if-changed={}", events_dir.display());
    let mut names: Vec<_> = std::fs::read_dir(&events_dir)
        .expect("tests/fixtures/stripe-events/events exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let mut out = String::from(
        "/// Sample event envelopes: (file name, contents).\npub const EVENTS: &[(&str, &str)] = &[\n",
    );
    for path in &names {
        let name = path.file_name().unwrap().to_string_lossy();
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let vectors = fixtures.join("stripe-vectors/vectors.json");
    writeln!(
        out,
        "/// The signature vectors file.\npub const VECTORS: &str = include_str!({:?});",
        vectors.display().to_string()
    )
    .unwrap();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::write(out_dir.join("fixtures.rs"), out).unwrap();
}
