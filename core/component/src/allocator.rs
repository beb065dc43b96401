//! Memory for a `no_std` component: a bump arena in front of wasi-libc's `malloc` (linked
//! statically), and the canonical ABI's `cabi_realloc` on top of both. wasi-libc's allocator
//! grows linear memory itself, so the component imports nothing.
//!
//! Every export call starts and ends with nothing allocated: the host's arguments, the engine's
//! work and the results all go once the host has called the export's post-return function.
//! So most blocks are served from one arena by moving a pointer, and the arena starts over
//! whenever its last live block is freed. A block that does not fit, or one asked for while the
//! arena is full, comes from `malloc`; so does everything if a block is ever kept across calls,
//! and memory then still stays bounded by the arena plus what `malloc` holds. Measured against
//! `malloc` alone, `dlmalloc` and `dlfree` were 6% of a reused instance's webhook call.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn aligned_alloc(align: usize, size: usize) -> *mut u8;
    fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// `malloc` in wasi-libc returns 16-byte aligned blocks on wasm32.
const MALLOC_ALIGN: usize = 16;

/// The arena's size. A 3 KB webhook's whole call (arguments, decode, facts, results) takes
/// about 20 KiB; a 1 MiB body and its decode spill over to `malloc`.
const ARENA_BYTES: usize = 64 << 10;

#[repr(align(16))]
struct Buf(UnsafeCell<[u8; ARENA_BYTES]>);
unsafe impl Sync for Buf {}
static BUF: Buf = Buf(UnsafeCell::new([0; ARENA_BYTES]));

/// The arena's bounds and state, as addresses in linear memory.
struct Arena {
    /// Start of the block taken from `malloc`; 0 until the first allocation.
    base: usize,
    /// First free byte.
    top: usize,
    /// End of the block.
    end: usize,
    /// Blocks handed out and not yet freed.
    live: usize,
}

/// The component runs on one thread, and nothing here is reentrant.
struct Cell(UnsafeCell<Arena>);

// SAFETY: wasm32-wasip2 components are single-threaded.
unsafe impl Sync for Cell {}

static ARENA: Cell = Cell(UnsafeCell::new(Arena { base: 0, top: 0, end: 0, live: 0 }));

impl Arena {
    fn contains(&self, ptr: *mut u8) -> bool {
        let p = ptr as usize;
        p >= self.base && p < self.end
    }

    /// A block from the arena, or null when it does not fit.
    fn bump(&mut self, layout: Layout) -> *mut u8 {
        if self.base == 0 {
            let block = BUF.0.get() as usize;
            self.base = block;
            self.top = self.base;
            self.end = self.base + ARENA_BYTES;
        }
        let start = (self.top + layout.align() - 1) & !(layout.align() - 1);
        match start.checked_add(layout.size()) {
            Some(stop) if stop <= self.end => {
                self.top = stop;
                self.live += 1;
                start as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    /// Frees an arena block: the space comes back at once if it was the last block handed out,
    /// and all of it once no block is live.
    fn release(&mut self, ptr: *mut u8, size: usize) {
        self.live -= 1;
        if self.live == 0 {
            self.top = self.base;
        } else if ptr as usize + size == self.top {
            self.top = ptr as usize;
        }
    }
}

fn arena() -> &'static mut Arena {
    // SAFETY: single-threaded, and no caller holds the reference across another call here.
    unsafe { &mut *ARENA.0.get() }
}

unsafe fn sys_alloc(layout: Layout) -> *mut u8 {
    unsafe {
        if layout.align() <= MALLOC_ALIGN {
            malloc(layout.size())
        } else {
            aligned_alloc(layout.align(), layout.size())
        }
    }
}

// Out of line: inlined at every allocation site, the arena made the component 300 KB larger.
#[inline(never)]
unsafe fn alloc(layout: Layout) -> *mut u8 {
    let ptr = arena().bump(layout);
    if ptr.is_null() { unsafe { sys_alloc(layout) } } else { ptr }
}

// Out of line: inlined at every allocation site, the arena made the component 300 KB larger.
#[inline(never)]
unsafe fn dealloc(ptr: *mut u8, layout: Layout) {
    let a = arena();
    if a.contains(ptr) {
        a.release(ptr, layout.size());
    } else {
        unsafe { free(ptr) }
    }
}

// Out of line: inlined at every allocation site, the arena made the component 300 KB larger.
#[inline(never)]
unsafe fn resize(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    let a = arena();
    if a.contains(ptr) {
        let p = ptr as usize;
        // The last block grows or shrinks where it is; any block shrinks where it is.
        if p + layout.size() == a.top && p.checked_add(new_size).is_some_and(|stop| stop <= a.end) {
            a.top = p + new_size;
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
    } else if layout.align() <= MALLOC_ALIGN {
        return unsafe { realloc(ptr, new_size) };
    }
    // SAFETY: the caller's layout was valid, and `new_size` rounded up to `align` does not
    // overflow (GlobalAlloc::realloc's contract).
    let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
    let new = unsafe { alloc(new_layout) };
    if !new.is_null() {
        unsafe {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            dealloc(ptr, layout);
        }
    }
    new
}

struct ArenaAlloc;

#[global_allocator]
static ALLOCATOR: ArenaAlloc = ArenaAlloc;

unsafe impl GlobalAlloc for ArenaAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { resize(ptr, layout, new_size) }
    }
}

/// The canonical ABI's allocation entry point, through which the host writes arguments into the
/// component's memory. A failed allocation traps: the host sees a typed error, never bad memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    if new_len == 0 {
        return align as *mut u8;
    }
    let ptr = match Layout::from_size_align(old_len.max(new_len), align) {
        Err(_) => core::ptr::null_mut(),
        Ok(_) if old_len == 0 => unsafe { alloc(Layout::from_size_align_unchecked(new_len, align)) },
        Ok(_) => unsafe { resize(old_ptr, Layout::from_size_align_unchecked(old_len, align), new_len) },
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable();
    }
    ptr
}
