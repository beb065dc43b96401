//! Precompiled code on disk, keyed by the wasm's SHA-256 and wasmtime's configuration.
//!
//! Loading precompiled code skips Cranelift entirely (about 0.1 ms instead of tens of ms).
//! The file is written by this process, atomically, with mode 0600 in a directory it owns;
//! a file that fails to load (truncated, or from another wasmtime) is recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::{LoadSource, RuntimeError};

/// The cache file for `wasm` under `engine`'s configuration.
pub(crate) fn cache_path(engine: &Engine, wasm: &[u8], dir: &Path) -> PathBuf {
    let digest = Sha256::digest(wasm);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    dir.join(format!(
        "payhook_engine-{hex}-{:016x}.cwasm",
        hasher.finish()
    ))
}

pub(crate) fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    dir: &Path,
) -> Result<(Component, LoadSource), RuntimeError> {
    let path = cache_path(engine, wasm, dir);
    // Read into memory rather than mapping the file: a mapping would fault if the file were
    // truncated underneath a running process.
    if let Ok(bytes) = std::fs::read(&path) {
        // SAFETY: the file was written by `store` below from `Engine::precompile_component`, in
        // a directory only this user can write, and is keyed by the exact wasm and configuration.
        // wasmtime checks its header and configuration; a file it rejects is recompiled.
        if let Ok(component) = unsafe { Component::deserialize(engine, &bytes) } {
            return Ok((component, LoadSource::Cache));
        }
    }
    let bytes = engine
        .precompile_component(wasm)
        .map_err(RuntimeError::compile)?;
    store(dir, &path, &bytes)?;
    // SAFETY: these bytes were produced by `precompile_component` on this very engine.
    let component =
        unsafe { Component::deserialize(engine, &bytes) }.map_err(RuntimeError::compile)?;
    Ok((component, LoadSource::Compiled))
}

fn store(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let err = |p: &Path, e: std::io::Error| RuntimeError::Cache {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    create_private_dir(dir).map_err(|e| err(dir, e))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = open_private(&tmp).map_err(|e| err(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| err(path, e))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}
