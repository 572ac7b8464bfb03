//! A caching layer over the system allocator for large blocks.
//!
//! A training step allocates the same large buffers (activations, gradients,
//! im2col columns) every step. Freed to the OS and allocated again, each one
//! costs a page fault per 4 KiB page on its first write, which dominated
//! backward passes (a 9 MB max-pool gradient took 20 ms instead of 4).
//! Blocks of 256 KiB and more are rounded up to a size class (four per power
//! of two) and kept on a per-class free list when freed, up to a total cap
//! (`EMBER_CPU_CACHE_MB`, default 1024 MiB); smaller blocks go straight to
//! the system allocator, whose own free lists already serve them well.
//! `empty_cache()` returns the cached blocks to the OS.
//!
//! Registered as the `#[global_allocator]` of the Python extension. It never
//! panics or allocates itself: each class is a fixed array of slots behind a
//! spin lock held for a few instructions.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const MIN_SHIFT: u32 = 18; // 256 KiB
const MIN: usize = 1 << MIN_SHIFT;
const CLASSES: usize = 4 * (48 - MIN_SHIFT as usize);
const SLOTS: usize = 8;
const ALIGN: usize = 64;

struct Class {
    lock: AtomicBool,
    slots: UnsafeCell<[usize; SLOTS]>,
    len: UnsafeCell<usize>,
}

// SAFETY: the cells are only touched while `lock` is held.
unsafe impl Sync for Class {}

impl Class {
    const fn new() -> Class {
        Class {
            lock: AtomicBool::new(false),
            slots: UnsafeCell::new([0; SLOTS]),
            len: UnsafeCell::new(0),
        }
    }
    fn with<R>(&self, f: impl FnOnce(&mut [usize; SLOTS], &mut usize) -> R) -> R {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held, so no other thread touches the cells.
        let r = unsafe { f(&mut *self.slots.get(), &mut *self.len.get()) };
        self.lock.store(false, Ordering::Release);
        r
    }
}

/// The caching allocator (see the module docs).
pub struct CachingAlloc {
    classes: [Class; CLASSES],
    cached: AtomicUsize,
    cap: AtomicUsize,
    hits: AtomicUsize,
    misses: AtomicUsize,
}

const UNSET: usize = usize::MAX;

impl CachingAlloc {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> CachingAlloc {
        #[allow(clippy::declare_interior_mutable_const)]
        const C: Class = Class::new();
        CachingAlloc {
            classes: [C; CLASSES],
            cached: AtomicUsize::new(0),
            cap: AtomicUsize::new(UNSET),
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
        }
    }

    fn cap(&self) -> usize {
        let c = self.cap.load(Ordering::Relaxed);
        if c != UNSET {
            return c;
        }
        // Read the environment without allocating: std::env::var allocates,
        // so the default applies until `set_cap` is called at module load.
        1024 << 20
    }

    /// Set the cache limit in bytes (0 disables caching).
    pub fn set_cap(&self, bytes: usize) {
        self.cap.store(bytes, Ordering::Relaxed);
        if bytes == 0 {
            self.empty_cache();
        }
    }

    /// (bytes cached now, allocations served from the cache, from the OS).
    pub fn stats(&self) -> (usize, usize, usize) {
        (
            self.cached.load(Ordering::Relaxed),
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// A cached block of class `i`, or 0 (counted as a hit or a miss).
    fn pop(&self, i: usize) -> usize {
        let p = self.classes[i].with(|s, n| {
            if *n == 0 {
                0
            } else {
                *n -= 1;
                s[*n]
            }
        });
        if p != 0 {
            self.cached.fetch_sub(class_size(i), Ordering::Relaxed);
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    /// Free every cached block.
    pub fn empty_cache(&self) {
        for (i, c) in self.classes.iter().enumerate() {
            let size = class_size(i);
            loop {
                let p = c.with(|s, n| {
                    if *n == 0 {
                        0
                    } else {
                        *n -= 1;
                        s[*n]
                    }
                });
                if p == 0 {
                    break;
                }
                self.cached.fetch_sub(size, Ordering::Relaxed);
                // SAFETY: p was allocated by System with this exact layout.
                unsafe {
                    System.dealloc(p as *mut u8, Layout::from_size_align_unchecked(size, ALIGN))
                };
            }
        }
    }
}

/// Class index of a size >= MIN: four classes per power of two.
fn class_of(size: usize) -> Option<usize> {
    let k = usize::BITS - 1 - size.leading_zeros(); // floor(log2(size))
    let base = 1usize << k;
    let step = base >> 2;
    let sub = (size - base).div_ceil(step); // 0..=4
    let idx = (k - MIN_SHIFT) as usize * 4 + sub;
    (idx < CLASSES).then_some(idx)
}

fn class_size(idx: usize) -> usize {
    let k = MIN_SHIFT as usize + idx / 4;
    let sub = idx % 4;
    (1usize << k) + sub * (1usize << (k - 2))
}

fn cacheable(l: &Layout) -> Option<usize> {
    if l.size() >= MIN && l.align() <= ALIGN {
        class_of(l.size())
    } else {
        None
    }
}

unsafe impl GlobalAlloc for CachingAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        match cacheable(&l) {
            None => System.alloc(l),
            Some(i) => {
                let p = self.pop(i);
                if p != 0 {
                    return p as *mut u8;
                }
                System.alloc(Layout::from_size_align_unchecked(class_size(i), ALIGN))
            }
        }
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        match cacheable(&l) {
            None => System.alloc_zeroed(l),
            Some(i) => {
                let p = self.pop(i);
                if p != 0 {
                    // A reused block holds old data.
                    std::ptr::write_bytes(p as *mut u8, 0, l.size());
                    return p as *mut u8;
                }
                // Fresh pages from the OS are already zero (calloc).
                System.alloc_zeroed(Layout::from_size_align_unchecked(class_size(i), ALIGN))
            }
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        match cacheable(&l) {
            None => System.dealloc(p, l),
            Some(i) => {
                let size = class_size(i);
                let fits = self.cached.load(Ordering::Relaxed) + size <= self.cap();
                let kept = fits
                    && self.classes[i].with(|s, n| {
                        if *n < SLOTS {
                            s[*n] = p as usize;
                            *n += 1;
                            true
                        } else {
                            false
                        }
                    });
                if kept {
                    self.cached.fetch_add(size, Ordering::Relaxed);
                } else {
                    System.dealloc(p, Layout::from_size_align_unchecked(size, ALIGN));
                }
            }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let new_l = Layout::from_size_align_unchecked(new_size, l.align());
        match (cacheable(&l), cacheable(&new_l)) {
            (None, None) => System.realloc(p, l, new_size),
            (Some(a), Some(b)) if a == b => p,
            _ => {
                let q = self.alloc(new_l);
                if !q.is_null() {
                    std::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
                    self.dealloc(p, l);
                }
                q
            }
        }
    }
}
