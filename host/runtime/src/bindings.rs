//! Host-side bindings generated from `wit/engine`, for the `engine-with-host-hmac` world: the
//! `engine` world's exports plus the one import, `payhook:engine/crypto`. The plain `engine`
//! build has the same exports and imports nothing, so these bindings serve both.

wasmtime::component::bindgen!({
    path: "../../wit/engine",
    world: "engine-with-host-hmac",
});

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{ComponentExportIndex, Instance, InstancePre, TypedFunc};
use wasmtime::{AsContextMut, format_err};

use exports::payhook::engine::{machines, stripe, types, webhook};

/// Declares the exports the runtime calls, each with the Rust types it is called with, and
/// generates [`ExportIndices`] (each export found and type-checked once, when the runtime is
/// made) and [`Exports`] (one instance's exports, called by index).
///
/// This is what the generated `EngineWithHostHmacPre::instantiate` would do, less its work per
/// instance: it looks every export up again and type-checks it against the instance, comparing
/// every record's field names. That was 2 to 3 µs of each fresh instance, for types that are
/// the component's and cannot differ between two instances of it.
macro_rules! exports {
    ($($field:ident = $interface:literal . $name:literal ($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        /// Where each export the runtime calls is, in the component.
        pub(crate) struct ExportIndices {
            $($field: ComponentExportIndex,)*
        }

        impl ExportIndices {
            /// Finds every export and checks its type against the Rust types [`Exports`]
            /// calls it with; a component without one, or with another type, is refused.
            pub(crate) fn new<T>(pre: &InstancePre<T>) -> wasmtime::Result<Self> {
                let component = pre.component();
                let instance_type = pre.instance_type();
                Ok(Self {$(
                    $field: {
                        let interface = concat!("payhook:engine/", $interface, "@", wit_version!());
                        let (_, parent) = component
                            .get_export(None, interface)
                            .ok_or_else(|| format_err!("no export `{interface}`"))?;
                        let (item, index) = component
                            .get_export(Some(&parent), $name)
                            .ok_or_else(|| format_err!("no export `{interface}.{}`", $name))?;
                        match item {
                            ComponentItem::ComponentFunc(func) => func
                                .typecheck::<($($ty,)*), ($ret,)>(&instance_type)
                                .map_err(|e| e.context(format!("type-checking `{interface}.{}`", $name)))?,
                            _ => return Err(format_err!("`{interface}.{}` is not a function", $name)),
                        }
                        index
                    },
                )*})
            }
        }

        /// One instance's exports.
        pub(crate) struct Exports {
            instance: Instance,
            indices: std::sync::Arc<ExportIndices>,
        }

        impl Exports {
            /// The exports of `instance`, made from the `InstancePre` that `indices` was
            /// checked against.
            pub(crate) fn new(instance: Instance, indices: std::sync::Arc<ExportIndices>) -> Self {
                Self { instance, indices }
            }

            $(
            // As many parameters as the WIT function has, plus the store.
            #[allow(clippy::too_many_arguments)]
            pub(crate) fn $field(&self, mut store: impl AsContextMut, $($arg: $ty),*) -> wasmtime::Result<$ret> {
                let func = self
                    .instance
                    .get_func(&mut store, &self.indices.$field)
                    .ok_or_else(|| format_err!("no export `{}`", $name))?;
                // SAFETY: `ExportIndices::new` type-checked this export against exactly these
                // parameter and result types, on the component every instance is made from.
                let typed = unsafe { TypedFunc::<($($ty,)*), ($ret,)>::new_unchecked(func) };
                Ok(typed.call(store, ($($arg,)*))?.0)
            }
            )*
        }
    };
}

exports! {
    verify = "webhook" . "verify" (header: Option<&str>, body: &str, secrets: &[&str], now: i64, tolerance_secs: i64)
        -> Result<webhook::Verified, webhook::SignatureError>;
    receive = "webhook" . "receive" (header: Option<&str>, body: &str, secrets: &[&str], now: i64, tolerance_secs: i64)
        -> Result<webhook::Delivery, webhook::WebhookError>;
    decode_stored = "webhook" . "decode-stored" (body: &str) -> Result<webhook::Decoded, webhook::DecodeError>;
    sign = "webhook" . "sign" (body: &str, secret: &str, timestamp: i64) -> String;
    parse_amount = "amounts" . "parse-amount" (text: &str, currency: &str) -> Result<types::Money, types::MoneyError>;
    check_chargeable = "amounts" . "check-chargeable" (amount: &types::Money) -> Result<(), types::MoneyError>;
    new_invoice = "machines" . "new-invoice" (amount_due: &types::Money) -> Result<String, machines::MachineError>;
    new_appointment = "machines" . "new-appointment" (currency: &str) -> Result<String, machines::MachineError>;
    new_payment = "machines" . "new-payment" (id: &str, currency: &str) -> Result<String, machines::MachineError>;
    new_subscription = "machines" . "new-subscription" () -> String;
    apply = "machines" . "apply" (machine: machines::Machine, state: &str, fact: &webhook::Fact)
        -> Result<String, machines::MachineError>;
    stripe_build = "stripe" . "build" (operation: &str, idempotency_key: Option<&str>)
        -> Result<stripe::Request, stripe::RequestError>;
    stripe_parse = "stripe" . "parse" (status: u16, body: &str) -> Result<String, stripe::ApiError>;
    stripe_next_delay_ms = "stripe" . "next-delay-ms" (
        attempt: u32, max_retries: u32, status: Option<u16>, should_retry: Option<bool>,
        retry_after_secs: Option<f64>, jitter: f64
    ) -> Option<u64>;
}
