//! Builds the plugins in `plugins/` (and the test plugins in `plugins/testing/`) for
//! wasm32-wasip2 with a nested cargo, into one target directory under OUT_DIR, so `cargo test`
//! needs nothing else. Each `.wasm` path is given to the crate as `PAYHOOK_PLUGIN_<NAME>`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// (directory under the repository root, crate's library name).
const PLUGINS: &[(&str, &str)] = &[
    ("plugins/template", "payhook_plugin_template"),
    ("plugins/clinic", "payhook_plugin_clinic"),
    ("plugins/salon", "payhook_plugin_salon"),
    ("plugins/invoicing", "payhook_plugin_invoicing"),
    ("plugins/testing/hostile", "payhook_plugin_hostile"),
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("wit/plugin").display()
    );
    // The runtime every plugin links.
    for watched in ["src", "Cargo.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            root.join("plugins/rt").join(watched).display()
        );
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = out_dir.join("plugins-target");
    for (dir, lib) in PLUGINS {
        let guest = root.join(dir);
        for watched in ["src", "Cargo.toml", "Cargo.lock"] {
            println!("cargo:rerun-if-changed={}", guest.join(watched).display());
        }
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&guest)
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                TARGET,
                "--target-dir",
            ])
            .arg(&target_dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .status()
            .unwrap_or_else(|e| panic!("could not run cargo for the plugin {dir}: {e}"));
        assert!(
            status.success(),
            "building the plugin {dir} for {TARGET} failed; see the errors above (is the {TARGET} target installed? `rustup target add {TARGET}`)"
        );
        let wasm = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{lib}.wasm"));
        let name = lib
            .trim_start_matches("payhook_plugin_")
            .to_ascii_uppercase();
        let copied = out_dir.join(format!("{lib}.wasm"));
        copy(&wasm, &copied);
        println!("cargo:rustc-env=PAYHOOK_PLUGIN_{name}={}", copied.display());
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
}
