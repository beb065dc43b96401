//! Host-side bindings for the `payhook:engine` world, generated from `wit/engine`.

wasmtime::component::bindgen!({
    path: "../../wit/engine",
    world: "engine",
});
