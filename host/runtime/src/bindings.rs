//! Host-side bindings generated from `wit/engine`, for the `engine-with-host-hmac` world: the
//! `engine` world's exports plus the one import, `payhook:engine/crypto`. The plain `engine`
//! build has the same exports and imports nothing, so these bindings serve both.

wasmtime::component::bindgen!({
    path: "../../wit/engine",
    world: "engine-with-host-hmac",
});
