//! `memcmp` and `bcmp` for the component, eight bytes at a time.
//!
//! wasi-libc's versions compare one byte per step. The serde-derived decoders call them to match
//! each object key against field names, and the event-type lookup at each step of its search.
//! Wasm has no instruction for either (unlike `memcpy` and `memset`, which are `memory.copy`
//! and `memory.fill`), so these definitions replace libc's: 1.8k fewer instructions in a reused
//! instance's webhook call (about 156k, hashing left out).

/// Reads eight bytes at `p` as they lie in memory (little-endian on wasm): enough to tell two
/// ranges equal or not, with no byte swap.
#[inline(always)]
unsafe fn word(p: *const u8) -> u64 {
    // SAFETY: the caller's ranges cover eight bytes from `p`.
    unsafe { p.cast::<u64>().read_unaligned() }
}

/// Compares `n` bytes: negative, zero or positive as `a`'s bytes order before, equal to or after
/// `b`'s.
// Out of line, like libc's: inlined at every call site, it made the component 50 KB larger.
#[inline(never)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i + 8 <= n {
        let (x, y) = unsafe { (word(a.add(i)), word(b.add(i))) };
        if x != y {
            // Byte-swapped, the first byte in memory is the most significant: the words then
            // order as their bytes do. Only the differing pair is swapped.
            return if x.swap_bytes() < y.swap_bytes() { -1 } else { 1 };
        }
        i += 8;
    }
    while i < n {
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// Zero when the two ranges are equal; nonzero otherwise (no order, unlike [`memcmp`]).
#[inline(never)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i + 8 <= n {
        if unsafe { word(a.add(i)) != word(b.add(i)) } {
            return 1;
        }
        i += 8;
    }
    while i < n {
        if unsafe { *a.add(i) != *b.add(i) } {
            return 1;
        }
        i += 1;
    }
    0
}
