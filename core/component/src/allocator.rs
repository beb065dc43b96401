//! Memory for a `no_std` component: a bump arena, in front of a heap of power-of-two size
//! classes that grows linear memory itself, and the canonical ABI's `cabi_realloc` on top of
//! both. The component imports nothing for memory.
//!
//! Every export call starts and ends with nothing allocated: the host's arguments, the engine's
//! work and the results all go once the host has called the export's post-return function.
//! So most blocks are served from one arena by moving a pointer, and the arena starts over
//! whenever its last live block is freed. A block that does not fit, or one asked for while the
//! arena is full, comes from the [`Heap`]; so does everything if a block is ever kept across
//! calls, and memory then still stays bounded by the arena plus what the heap holds. Measured
//! against a general-purpose `malloc` alone, `malloc` and `free` were 6% of a reused instance's
//! webhook call.
//!
//! The heap replaced wasi-libc's `malloc` (`dlmalloc`), 12 KB of the component, for the few
//! large blocks a call needs (a body or a text past 64 KiB): each block is a power of two of
//! at least 16 bytes, a freed block waits on its class's list for the next block of that class,
//! and new blocks are cut from the end of linear memory, which grows by whole pages as needed.
//! At most half of a block goes unused, and memory holds each class's largest count of live
//! blocks so far.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// The arena's size. A 3 KB webhook's whole call (arguments, decode, facts, results) takes
/// about 20 KiB; a 1 MiB body and its decode spill over to the heap.
const ARENA_BYTES: usize = 64 << 10;

#[repr(align(16))]
struct Buf(UnsafeCell<[u8; ARENA_BYTES]>);
unsafe impl Sync for Buf {}
static BUF: Buf = Buf(UnsafeCell::new([0; ARENA_BYTES]));

/// The arena's bounds and state, as addresses in linear memory.
struct Arena {
    /// Start of the arena's block (`BUF`); 0 until the first allocation.
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

/// Blocks beyond the arena: a free list per power-of-two class (class `c` holds blocks of
/// `16 << c` bytes, each free block holding the address of the next), and the unused end of
/// linear memory that new blocks are cut from.
struct Heap {
    free: [usize; CLASSES],
    /// First unused byte at the end of linear memory; 0 until the heap first grows it.
    top: usize,
    /// The end of linear memory as the heap last grew it.
    end: usize,
}

/// Classes from 16 bytes to 2 GiB, all of wasm32's memory.
const CLASSES: usize = 28;

/// A block's address is a multiple of its size up to a page (so of any alignment its layout
/// asks, which is at most its size), then of a page.
const PAGE: usize = 65536;

struct HeapCell(UnsafeCell<Heap>);

// SAFETY: wasm32-wasip2 components are single-threaded.
unsafe impl Sync for HeapCell {}

static HEAP: HeapCell = HeapCell(UnsafeCell::new(Heap { free: [0; CLASSES], top: 0, end: 0 }));

fn heap() -> &'static mut Heap {
    // SAFETY: single-threaded, and no caller holds the reference across another call here.
    unsafe { &mut *HEAP.0.get() }
}

/// The class of a block for `layout`, if any: the smallest power of two of at least 16 bytes
/// that holds its size and is a multiple of its alignment (at most a page).
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > PAGE {
        return None;
    }
    let bytes = layout.size().max(layout.align()).max(16).checked_next_power_of_two()?;
    let class = bytes.trailing_zeros() as usize - 4;
    (class < CLASSES).then_some(class)
}

impl Heap {
    /// A block of `class`: a freed one, else one cut from the end of memory; null when memory
    /// cannot grow.
    fn take(&mut self, class: usize) -> *mut u8 {
        let head = self.free[class];
        if head != 0 {
            // SAFETY: a free block of this class holds the address of the next free one.
            self.free[class] = unsafe { (head as *const usize).read() };
            return head as *mut u8;
        }
        let bytes = 16usize << class;
        match self.cut(bytes, bytes.min(PAGE)) {
            Some(start) => start as *mut u8,
            None => core::ptr::null_mut(),
        }
    }

    /// `bytes` bytes aligned to `align` from the unused end of memory, growing linear memory by
    /// whole pages as needed; `None` if it cannot grow so far.
    fn cut(&mut self, bytes: usize, align: usize) -> Option<usize> {
        let mut start = self.top.checked_add(align - 1)? & !(align - 1);
        if start.checked_add(bytes)? > self.end {
            let current = core::arch::wasm32::memory_size(0).checked_mul(PAGE)?;
            if current != self.end {
                // Memory the heap did not grow (all of it, the first time): start past it.
                (self.top, self.end) = (current, current);
                start = current.checked_add(align - 1)? & !(align - 1);
            }
            let pages = (start.checked_add(bytes)? - self.end).div_ceil(PAGE);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return None;
            }
            self.end += pages * PAGE;
        }
        self.top = start + bytes;
        Some(start)
    }

    /// Puts a block of `class` on its free list.
    fn give(&mut self, ptr: *mut u8, class: usize) {
        // SAFETY: the block is at least 16 bytes and aligned to its size (at least 16).
        unsafe { (ptr as *mut usize).write(self.free[class]) };
        self.free[class] = ptr as usize;
    }
}

unsafe fn sys_alloc(layout: Layout) -> *mut u8 {
    match class(layout) {
        Some(class) => heap().take(class),
        None => core::ptr::null_mut(),
    }
}

unsafe fn sys_free(ptr: *mut u8, layout: Layout) {
    // Every block the heap handed out had a class for its layout.
    if let Some(class) = class(layout) {
        heap().give(ptr, class);
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
        unsafe { sys_free(ptr, layout) }
    }
}

// Out of line: inlined at every allocation site, the arena made the component 300 KB larger.
#[inline(never)]
unsafe fn resize(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    // SAFETY: the caller's layout was valid, and `new_size` rounded up to `align` does not
    // overflow (GlobalAlloc::realloc's contract).
    let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
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
    } else if class(layout).is_some_and(|class| self::class(new_layout) == Some(class)) {
        // A heap block keeps its place while the new size is of its class.
        return ptr;
    }
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
