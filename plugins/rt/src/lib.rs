//! The runtime every payhook plugin links: a plugin is `#![no_std]` so that it imports nothing
//! but payhook's host interface, and so it brings what the standard library would have given
//! it. Add the dependency and link it with one line:
//!
//! ```ignore
//! extern crate payhook_plugin_rt as _;
//! ```
//!
//! - an allocator (`dlmalloc`) for `alloc`'s `Vec` and `String`;
//! - a panic handler that traps, which payhook reports as the plugin's failure (the call's
//!   effects are dropped, the payment is untouched);
//! - `cabi_realloc`, through which payhook writes a call's arguments into the plugin's memory;
//! - `memcmp`, which the compiler calls to compare byte strings (e.g. ordering `serde_json`'s
//!   map keys) and which no C library provides here.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
pub use serde_json::Value;

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// The canonical ABI's allocator: how payhook writes arguments into the plugin's memory.
///
/// # Safety
/// Called by the component model's glue with a pointer it got from this function (or null with
/// `old_len` 0), the layout it was allocated with, and a power-of-two `align`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, realloc};
    if new_len == 0 {
        return align as *mut u8;
    }
    let ptr = unsafe {
        if old_len == 0 {
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(
                old,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable()
    }
    ptr
}

/// Compares `len` bytes at `a` and `b`, as C's `memcmp`.
///
/// # Safety
/// `a` and `b` must be valid for reads of `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, len: usize) -> i32 {
    for i in 0..len {
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// The value of `key` among an action's metadata pairs, when it is set and not blank (trimmed).
pub fn metadata<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, v)| k == key && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

/// An amount as people read it: `45.00 EUR`, `4500 JPY`, `1.250 KWD` (Stripe's zero- and
/// three-decimal currencies; two decimals otherwise).
pub fn format_amount(minor: i64, currency: &str) -> String {
    let exponent = match currency {
        "bif" | "clp" | "djf" | "gnf" | "jpy" | "kmf" | "krw" | "mga" | "pyg" | "rwf" | "vnd"
        | "vuv" | "xaf" | "xof" | "xpf" => 0,
        "bhd" | "jod" | "kwd" | "omr" | "tnd" => 3,
        _ => 2,
    };
    let sign = if minor < 0 { "-" } else { "" };
    let units = minor.unsigned_abs();
    let code = currency.to_ascii_uppercase();
    if exponent == 0 {
        return format!("{sign}{units} {code}");
    }
    let scale = 10u64.pow(exponent);
    format!(
        "{sign}{}.{:0width$} {code}",
        units / scale,
        units % scale,
        width = exponent as usize
    )
}

/// `{"minor": …, "currency": …}` (how the engine writes money) as minor units and a currency.
pub fn money(value: &Value) -> Option<(i64, String)> {
    Some((
        value.get("minor")?.as_i64()?,
        value.get("currency")?.as_str()?.to_string(),
    ))
}

/// The engine's decision for the record, as payhook passes it in an action: `{"fact": …,
/// "record": …, "decision": {"applied": {"next": <state>, "effects": [{"effect": …}, …]}}}`
/// (the bare decision is read too). Anything unreadable reads as a decision that says nothing.
pub struct Decision {
    /// The applied decision (`next` and `effects`), or null.
    pub applied: Value,
}

impl Decision {
    /// Reads an action's `decision` text.
    pub fn read(text: &str) -> Decision {
        let mut value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if value.get("decision").is_some() {
            value = value["decision"].take();
        }
        Decision {
            applied: value
                .get_mut("applied")
                .map(Value::take)
                .unwrap_or(Value::Null),
        }
    }

    /// The record's state after the fact.
    pub fn next(&self) -> Option<&Value> {
        self.applied.get("next")
    }

    /// The record's status after the fact.
    pub fn status(&self) -> Option<&str> {
        self.next()?.get("status")?.as_str()
    }

    /// The effects the engine asked for.
    pub fn effects(&self) -> impl Iterator<Item = &Value> {
        self.applied
            .get("effects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    }

    /// The effect named `name`, if the engine asked for it.
    pub fn effect(&self, name: &str) -> Option<&Value> {
        self.effects()
            .find(|e| e.get("effect").and_then(Value::as_str) == Some(name))
    }

    /// Whether the engine asked for the effect named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.effect(name).is_some()
    }
}

/// Defines, in a plugin, `metadata(&Action, key)`, `format_amount(&Amount)` and
/// `money(&Value) -> Option<Amount>` over the plugin's own generated `Action` and `Amount` types
/// (which must be in scope), by the functions above.
#[macro_export]
macro_rules! helpers {
    () => {
        #[allow(dead_code)]
        fn metadata<'a>(action: &'a Action, key: &str) -> Option<&'a str> {
            $crate::metadata(&action.metadata, key)
        }

        #[allow(dead_code)]
        fn format_amount(amount: &Amount) -> alloc::string::String {
            $crate::format_amount(amount.minor, &amount.currency)
        }

        #[allow(dead_code)]
        fn money(value: &$crate::Value) -> Option<Amount> {
            $crate::money(value).map(|(minor, currency)| Amount { minor, currency })
        }
    };
}
