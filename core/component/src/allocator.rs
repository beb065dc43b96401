//! Memory for a `no_std` component: wasi-libc's `malloc`, linked statically, and the canonical
//! ABI's `cabi_realloc` on top of it. wasi-libc's allocator grows linear memory itself, so the
//! component imports nothing.

use core::alloc::{GlobalAlloc, Layout};

unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn aligned_alloc(align: usize, size: usize) -> *mut u8;
    fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// `malloc` in wasi-libc returns 16-byte aligned blocks on wasm32.
const MALLOC_ALIGN: usize = 16;

struct LibcAlloc;

#[global_allocator]
static ALLOCATOR: LibcAlloc = LibcAlloc;

unsafe impl GlobalAlloc for LibcAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if layout.align() <= MALLOC_ALIGN {
                malloc(layout.size())
            } else {
                aligned_alloc(layout.align(), layout.size())
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { free(ptr) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            if layout.align() <= MALLOC_ALIGN {
                return realloc(ptr, new_size);
            }
            let new = aligned_alloc(layout.align(), new_size);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                free(ptr);
            }
            new
        }
    }
}

/// The canonical ABI's allocation entry point, through which the host writes arguments into the
/// component's memory. A failed allocation traps: the host sees a typed error, never bad memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    if new_len == 0 {
        return align as *mut u8;
    }
    let ptr = unsafe {
        if old_len == 0 {
            if align <= MALLOC_ALIGN { malloc(new_len) } else { aligned_alloc(align, new_len) }
        } else if align <= MALLOC_ALIGN {
            realloc(old_ptr, new_len)
        } else {
            let new = aligned_alloc(align, new_len);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(old_ptr, new, old_len.min(new_len));
                free(old_ptr);
            }
            new
        }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable();
    }
    ptr
}
