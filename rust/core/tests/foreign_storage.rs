//! Engine tests of CPU storages over foreign memory (`Buf::Foreign`): kernels read and write it
//! in place, clones are owned copies, and the owner is released exactly once, when the last
//! tensor or view over the storage is dropped.

use ember_core::layout::Layout;
use ember_core::storage::{CpuData, StorageCell};
use ember_core::{DType, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Stands in for a numpy array / DLPack producer: owns the memory, counts its releases.
struct Owner {
    _mem: Box<[f32]>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn foreign(vals: &[f32], drops: &Arc<AtomicUsize>) -> (Tensor, *mut f32) {
    let mut mem: Box<[f32]> = vals.into();
    let ptr = mem.as_mut_ptr();
    let owner = Owner {
        _mem: mem,
        drops: drops.clone(),
    };
    // SAFETY: `ptr` points at vals.len() initialised f32s owned by `owner` (a Box does not
    // move its heap allocation when the Box moves).
    let data =
        unsafe { CpuData::from_foreign(DType::F32, ptr as *mut u8, vals.len(), Box::new(owner)) };
    assert!(data.is_foreign() && data.as_ptr() == ptr as *const u8);
    let t = Tensor::from_parts(
        Arc::new(StorageCell::new_cpu(data)),
        Layout::contiguous(&[vals.len()]),
        DType::F32,
    );
    (t, ptr)
}

fn f32s(x: &Tensor) -> Vec<f32> {
    x.contiguous().unwrap().to_vec::<f32>().unwrap()
}

#[test]
fn kernels_read_and_write_foreign_memory_in_place() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (t, ptr) = foreign(&[1.0, 2.0, 3.0, 4.0], &drops);
    let y = t.add(&t).unwrap(); // a fresh, owned result
    assert_eq!(f32s(&y), vec![2.0, 4.0, 6.0, 8.0]);
    t.add_inplace_raw(&Tensor::from_vec(vec![10.0f32; 4], &[4]))
        .unwrap();
    // SAFETY: the owner is alive (t holds it); reading what the in-place op wrote.
    let seen = unsafe { std::slice::from_raw_parts(ptr, 4) }.to_vec();
    assert_eq!(seen, vec![11.0, 12.0, 13.0, 14.0]);
    assert_eq!(t.version(), 1);
    let c = t.clone_t().unwrap(); // a clone is new, owned memory
    t.add_inplace_raw(&Tensor::from_vec(vec![1.0f32; 4], &[4]))
        .unwrap();
    assert_eq!(f32s(&c), vec![11.0, 12.0, 13.0, 14.0]);
    assert!(!c.storage().read().cpu().is_foreign());
    drop((t, y, c));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn owner_released_once_after_the_last_view() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (t, _) = foreign(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &drops);
    let v = t.as_strided(&[2, 2], &[3, 1], 1).unwrap(); // a view sharing the storage
    drop(t);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    assert_eq!(f32s(&v), vec![1.0, 2.0, 4.0, 5.0]);
    let moved = std::thread::spawn(move || {
        // the last view may die on another thread: the owner is Send + Sync
        let s = f32s(&v);
        drop(v);
        s
    })
    .join()
    .unwrap();
    assert_eq!(moved.len(), 4);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
