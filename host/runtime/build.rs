//! Builds the engine component (`core/component`) for wasm32-wasip2 with a nested cargo, into
//! its own target directory under OUT_DIR, so that `cargo build` and `cargo test` from the
//! workspace root need nothing else. Two builds are embedded with `include_bytes!`: the `engine`
//! world, which imports nothing, and the `engine-with-host-hmac` world (feature `host-hmac`),
//! which imports HMAC-SHA256 from the host. Each has its own target directory, so that neither
//! build's output is ever taken for the other's.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    let guest = root.join("core/component");
    for watched in [
        "core/src",
        "core/Cargo.toml",
        "core/component/src",
        "core/component/Cargo.toml",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (features, target, file, var) in [
        (
            None,
            "guest-target",
            "payhook_engine.wasm",
            "PAYHOOK_ENGINE_WASM",
        ),
        (
            Some("host-hmac"),
            "guest-target-host-hmac",
            "payhook_engine_host_hmac.wasm",
            "PAYHOOK_ENGINE_HOST_HMAC_WASM",
        ),
    ] {
        let target_dir = out_dir.join(target);
        build_guest(&guest, &target_dir, features);
        let wasm = target_dir.join(TARGET).join("release/payhook_engine.wasm");
        let embedded = out_dir.join(file);
        copy(&wasm, &embedded);
        println!("cargo:rustc-env={var}={}", embedded.display());
    }
}

fn build_guest(guest: &Path, target_dir: &Path, features: Option<&str>) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(guest)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(target_dir)
        // The outer build's flags are for the host, not for the guest.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        // wasi-libc's memcpy & co. for the no_std guest; a 64 KiB stack keeps the
        // initial linear memory at 128 KiB. LLVM's inliner at thresholds of 75, and 200 for
        // functions marked `#[inline]` (opt-level 3's are 250 and 325), makes the component
        // 62 KB smaller for 0.6% more instructions per webhook; BENCHMARKS.md has the
        // measurements, and the thresholds around them that did worse.
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            "-Clink-arg=-lc\x1f-Clink-arg=-zstack-size=65536\x1f\
             -Cllvm-args=-inline-threshold=75\x1f-Cllvm-args=-inlinehint-threshold=200",
        );
    if let Some(features) = features {
        cmd.args(["--features", features]);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo for the engine component: {e}"));
    if !status.success() {
        if !target_installed() {
            panic!(
                "the {TARGET} target is not installed. rust-toolchain.toml names it, so rustup normally \
                 adds it; run `rustup target add {TARGET}` and build again"
            );
        }
        panic!(
            "building the engine component (core/component) for {TARGET} failed; see the errors above"
        );
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
}

fn target_installed() -> bool {
    Command::new("rustc")
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .map(|o| {
            o.status.success() && Path::new(String::from_utf8_lossy(&o.stdout).trim()).exists()
        })
        .unwrap_or(false)
}
