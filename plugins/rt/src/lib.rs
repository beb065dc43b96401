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
