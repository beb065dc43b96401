//! Builds the engine component (`core/component`) for wasm32-wasip2 with a nested cargo, into
//! its own target directory under OUT_DIR, so that `cargo build` and `cargo test` from the
//! workspace root need nothing else. Two builds are embedded with `include_bytes!`: the `engine`
//! world, which imports nothing, and the `engine-with-host-hmac` world (feature `host-hmac`),
//! which imports HMAC-SHA256 from the host. Each has its own target directory, so that neither
//! build's output is ever taken for the other's. What is embedded is the component without its
//! top-level custom sections (names for tools, not for running it).

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
        write_stripped(&wasm, &embedded);
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
        // initial linear memory at 128 KiB. LLVM's inliner held back, at thresholds of 60, and
        // 200 for functions marked `#[inline]` (opt-level 3's are 250 and 325), made the
        // component 62 KB smaller for 0.6% more instructions per webhook when first measured
        // (at 75); at 60 both builds fit in 300 KB with no more instructions than at 75.
        // BENCHMARKS.md has the measurements (eighth and twelfth runs), and the thresholds
        // around them.
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            "-Clink-arg=-lc\x1f-Clink-arg=-zstack-size=65536\x1f\
             -Cllvm-args=-inline-threshold=60\x1f-Cllvm-args=-inlinehint-threshold=200",
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

/// Writes the component at `from` to `to` without its top-level custom sections: the
/// `component-name` section (names of the component's own items, for tools that print it) and
/// `producers`, about 3 KB that nothing running the engine reads. `strip = true` in the guest's
/// profile already leaves the core module inside without its names; wit-component adds these
/// after it.
fn write_stripped(from: &Path, to: &Path) {
    let wasm = std::fs::read(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    let stripped = without_custom_sections(&wasm)
        .unwrap_or_else(|e| panic!("{} is not a WebAssembly component as expected: {e}", from.display()));
    std::fs::write(to, stripped).unwrap_or_else(|e| panic!("writing {}: {e}", to.display()));
}

/// `wasm`'s preamble and every top-level section but the custom ones (id 0), in order. Each
/// section is an id byte, its size as an unsigned LEB128 number, then that many bytes.
fn without_custom_sections(wasm: &[u8]) -> Result<Vec<u8>, String> {
    // `\0asm`, then the version and layer: 0x0d 0x00, 0x01 0x00 for a component.
    const PREAMBLE: &[u8] = b"\0asm\x0d\x00\x01\x00";
    if !wasm.starts_with(PREAMBLE) {
        return Err("its preamble is not a component's".into());
    }
    let mut out = PREAMBLE.to_vec();
    let mut at = PREAMBLE.len();
    while at < wasm.len() {
        let id = wasm[at];
        let (size, size_len) = leb128(&wasm[at + 1..])
            .ok_or_else(|| format!("the section at byte {at} has no valid size"))?;
        let end = (at + 1 + size_len)
            .checked_add(size)
            .filter(|&end| end <= wasm.len())
            .ok_or_else(|| format!("the section at byte {at} runs past the end"))?;
        if id != 0 {
            out.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    Ok(out)
}

/// An unsigned LEB128 number of at most 32 bits at the start of `bytes`, and its length.
fn leb128(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, &byte) in bytes.iter().take(5).enumerate() {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
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
