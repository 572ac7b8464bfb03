//! Storage: the bytes behind one or more tensors (views share a StorageCell).

use crate::dtype::{DType, Element};
use half::{bf16, f16};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Gpu(usize),
}

impl Device {
    pub fn is_gpu(&self) -> bool {
        matches!(self, Device::Gpu(_))
    }
    /// Host memory, where every kernel exists (other devices fall back to it).
    pub fn is_host(&self) -> bool {
        matches!(self, Device::Cpu)
    }
    pub fn name(&self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Gpu(0) => "gpu".into(),
            Device::Gpu(i) => format!("gpu:{i}"),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())
    }
}

/// Typed host memory.
///
/// Each variant holds a [`Buf`]: the tensor's own `Vec`, or a view of memory another
/// library owns (a numpy array, a DLPack producer's buffer). Both deref to `[T]`, so
/// kernels read and write either without knowing which.
#[derive(Clone, Debug)]
pub enum CpuData {
    Bool(Buf<bool>),
    U8(Buf<u8>),
    I8(Buf<i8>),
    I16(Buf<i16>),
    I32(Buf<i32>),
    I64(Buf<i64>),
    F16(Buf<f16>),
    BF16(Buf<bf16>),
    F32(Buf<f32>),
    F64(Buf<f64>),
}

/// Keeps foreign memory alive; dropping it releases the memory (e.g. drops the
/// numpy array, or calls the DLPack deleter). `Send + Sync` because the last
/// tensor over a storage may die on any thread.
pub type ForeignOwner = Box<dyn std::any::Any + Send + Sync>;

/// Host elements: owned, or borrowed from a foreign owner for as long as it lives.
pub enum Buf<T> {
    Owned(Vec<T>),
    Foreign(Foreign<T>),
}

/// `len` initialised, aligned, writable elements at `ptr`, valid while `owner` lives.
pub struct Foreign<T> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
    owner: ForeignOwner,
}

// SAFETY: `Foreign` is a (pointer, length) into memory kept alive by `owner`, which is
// itself Send + Sync; the elements are plain data. Access from Rust goes through the
// StorageCell's RwLock like owned data. (Writes made by the foreign side itself, e.g.
// numpy on another thread while a kernel runs, race exactly as they do in PyTorch.)
unsafe impl<T: Send> Send for Foreign<T> {}
unsafe impl<T: Sync> Sync for Foreign<T> {}

impl<T> Buf<T> {
    /// View `len` elements at `ptr`, kept alive by `owner`.
    ///
    /// # Safety
    /// `ptr` must be non-null and aligned for `T` (or `len == 0`), the `len` elements must
    /// be initialised, valid values of `T`, writable, and stay valid until `owner` is
    /// dropped; nothing else may free them while `owner` lives.
    pub unsafe fn foreign(ptr: *mut T, len: usize, owner: ForeignOwner) -> Buf<T> {
        let ptr = match std::ptr::NonNull::new(ptr) {
            Some(p) if len > 0 => p,
            _ => std::ptr::NonNull::dangling(),
        };
        Buf::Foreign(Foreign { ptr, len, owner })
    }
    pub fn is_foreign(&self) -> bool {
        matches!(self, Buf::Foreign(_))
    }
    /// The foreign owner, if this buffer views foreign memory.
    pub fn owner(&self) -> Option<&ForeignOwner> {
        match self {
            Buf::Owned(_) => None,
            Buf::Foreign(f) => Some(&f.owner),
        }
    }
}

impl<T: Clone> Buf<T> {
    /// The elements as a Vec (copies foreign memory; moves an owned Vec).
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Buf::Owned(v) => v,
            Buf::Foreign(f) => f.as_slice().to_vec(),
        }
    }
}

impl<T> Foreign<T> {
    fn as_slice(&self) -> &[T] {
        // SAFETY: the contract of `Buf::foreign` (valid, aligned, initialised, alive).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as above, and `&mut self` is the only Rust path to these elements.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> std::ops::Deref for Buf<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Buf::Owned(v) => v,
            Buf::Foreign(f) => f.as_slice(),
        }
    }
}

impl<T> std::ops::DerefMut for Buf<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Buf::Owned(v) => v,
            Buf::Foreign(f) => f.as_mut_slice(),
        }
    }
}

/// Cloning copies the elements into an owned Vec: a clone is new memory, as `clone()` is.
impl<T: Clone> Clone for Buf<T> {
    fn clone(&self) -> Buf<T> {
        Buf::Owned(self.to_vec())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Buf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_foreign() {
            write!(f, "Foreign")?;
        }
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> From<Vec<T>> for Buf<T> {
    fn from(v: Vec<T>) -> Buf<T> {
        Buf::Owned(v)
    }
}

impl<T> FromIterator<T> for Buf<T> {
    fn from_iter<I: IntoIterator<Item = T>>(it: I) -> Buf<T> {
        Buf::Owned(it.into_iter().collect())
    }
}

impl<T: Clone> IntoIterator for Buf<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Buf<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Run `$body` with `$T` bound to the Rust element type of `$dt`.
#[macro_export]
macro_rules! dispatch {
    ($dt:expr, $T:ident => $body:expr) => {{
        use $crate::dtype::DType as __D;
        match $dt {
            __D::Bool => {
                type $T = bool;
                $body
            }
            __D::U8 => {
                type $T = u8;
                $body
            }
            __D::I8 => {
                type $T = i8;
                $body
            }
            __D::I16 => {
                type $T = i16;
                $body
            }
            __D::I32 => {
                type $T = i32;
                $body
            }
            __D::I64 => {
                type $T = i64;
                $body
            }
            __D::F16 => {
                type $T = half::f16;
                $body
            }
            __D::BF16 => {
                type $T = half::bf16;
                $body
            }
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
            // Complex tensors never reach a typed kernel: ops route them to
            // ops::complex (real views) or refuse them before (see complex::guard).
            __D::C64 | __D::C128 => {
                panic!("internal: complex dtype reached a real kernel")
            }
        }
    }};
}

/// Like `dispatch!` but only for float dtypes; other dtypes run `$other`.
#[macro_export]
macro_rules! dispatch_float {
    ($dt:expr, $T:ident => $body:expr, $other:expr) => {{
        use $crate::dtype::DType as __D;
        match $dt {
            __D::F16 => {
                type $T = half::f16;
                $body
            }
            __D::BF16 => {
                type $T = half::bf16;
                $body
            }
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
            _ => $other,
        }
    }};
}

/// Element types that know their CpuData variant.
pub trait CpuElement: Element {
    fn slice(d: &CpuData) -> &[Self];
    fn slice_mut(d: &mut CpuData) -> &mut [Self];
    fn wrap(v: Vec<Self>) -> CpuData;
    /// A CpuData viewing foreign memory.
    ///
    /// # Safety
    /// As [`Buf::foreign`].
    unsafe fn wrap_foreign(ptr: *mut Self, len: usize, owner: ForeignOwner) -> CpuData;
}

macro_rules! cpu_element {
    ($t:ty, $v:ident) => {
        impl CpuElement for $t {
            #[inline]
            fn slice(d: &CpuData) -> &[Self] {
                match d {
                    CpuData::$v(v) => &v[..],
                    other => panic!(
                        "internal dtype mismatch: expected {} storage, found {}",
                        stringify!($v),
                        other.dtype()
                    ),
                }
            }
            #[inline]
            fn slice_mut(d: &mut CpuData) -> &mut [Self] {
                match d {
                    CpuData::$v(v) => &mut v[..],
                    other => panic!(
                        "internal dtype mismatch: expected {} storage, found {}",
                        stringify!($v),
                        other.dtype()
                    ),
                }
            }
            #[inline]
            fn wrap(v: Vec<Self>) -> CpuData {
                CpuData::$v(Buf::Owned(v))
            }
            #[inline]
            unsafe fn wrap_foreign(ptr: *mut Self, len: usize, owner: ForeignOwner) -> CpuData {
                // SAFETY: forwarded to the caller (see `Buf::foreign`).
                CpuData::$v(unsafe { Buf::foreign(ptr, len, owner) })
            }
        }
    };
}
cpu_element!(bool, Bool);
cpu_element!(u8, U8);
cpu_element!(i8, I8);
cpu_element!(i16, I16);
cpu_element!(i32, I32);
cpu_element!(i64, I64);
cpu_element!(f16, F16);
cpu_element!(bf16, BF16);
cpu_element!(f32, F32);
cpu_element!(f64, F64);

impl CpuData {
    pub fn dtype(&self) -> DType {
        match self {
            CpuData::Bool(_) => DType::Bool,
            CpuData::U8(_) => DType::U8,
            CpuData::I8(_) => DType::I8,
            CpuData::I16(_) => DType::I16,
            CpuData::I32(_) => DType::I32,
            CpuData::I64(_) => DType::I64,
            CpuData::F16(_) => DType::F16,
            CpuData::BF16(_) => DType::BF16,
            CpuData::F32(_) => DType::F32,
            CpuData::F64(_) => DType::F64,
        }
    }
    pub fn len(&self) -> usize {
        crate::dispatch!(self.dtype(), T => T::slice(self).len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether the elements live in memory another library owns (numpy, DLPack).
    /// Such a storage cannot grow: PyTorch's "storage that is not resizable".
    pub fn is_foreign(&self) -> bool {
        match self {
            CpuData::Bool(b) => b.is_foreign(),
            CpuData::U8(b) => b.is_foreign(),
            CpuData::I8(b) => b.is_foreign(),
            CpuData::I16(b) => b.is_foreign(),
            CpuData::I32(b) => b.is_foreign(),
            CpuData::I64(b) => b.is_foreign(),
            CpuData::F16(b) => b.is_foreign(),
            CpuData::BF16(b) => b.is_foreign(),
            CpuData::F32(b) => b.is_foreign(),
            CpuData::F64(b) => b.is_foreign(),
        }
    }
    /// Address of the first element (stable: storages never reallocate).
    pub fn as_ptr(&self) -> *const u8 {
        crate::dispatch!(self.dtype(), T => T::slice(self).as_ptr() as *const u8)
    }
    /// View `len` elements of `dtype` at `ptr` (bytes) owned by `owner`, without copying.
    ///
    /// # Safety
    /// As [`Buf::foreign`], for the element type of `dtype`; for bool every byte must be 0 or 1.
    pub unsafe fn from_foreign(
        dtype: DType,
        ptr: *mut u8,
        len: usize,
        owner: ForeignOwner,
    ) -> CpuData {
        // SAFETY: forwarded to the caller.
        crate::dispatch!(dtype, T => unsafe { T::wrap_foreign(ptr as *mut T, len, owner) })
    }
    pub fn zeros(dtype: DType, n: usize) -> CpuData {
        crate::dispatch!(dtype, T => T::wrap(vec![T::zero_v(); n]))
    }
    pub fn filled(dtype: DType, n: usize, v: crate::dtype::Scalar) -> CpuData {
        crate::dispatch!(dtype, T => T::wrap(vec![T::from_scalar(v); n]))
    }
    /// Raw little-endian bytes (for numpy and serialisation).
    pub fn as_bytes(&self) -> &[u8] {
        crate::dispatch!(self.dtype(), T => {
            let s = T::slice(self);
            // SAFETY: every element type is plain old data without padding.
            unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, std::mem::size_of_val(s)) }
        })
    }
    pub fn from_bytes(dtype: DType, bytes: &[u8]) -> CpuData {
        crate::dispatch!(dtype, T => {
            let n = bytes.len() / std::mem::size_of::<T>();
            let mut v: Vec<T> = vec![T::zero_v(); n];
            // SAFETY: destination has room for n elements; bool bytes are validated below.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr() as *mut u8, n * std::mem::size_of::<T>());
            }
            T::wrap(v)
        })
    }
}

/// An owned Vec as CpuData (the element type picks the variant).
impl<T: CpuElement> From<Vec<T>> for CpuData {
    fn from(v: Vec<T>) -> CpuData {
        T::wrap(v)
    }
}

pub enum Storage {
    Cpu(CpuData),
    Gpu(crate::wgpu::GpuData),
}

impl Storage {
    /// Host data. Ops move GPU operands to the host (or run a GPU kernel)
    /// before they get here, so reaching this with GPU data is a bug.
    pub fn cpu(&self) -> &CpuData {
        match self {
            Storage::Cpu(d) => d,
            Storage::Gpu(_) => panic!("internal: a gpu storage reached a cpu kernel"),
        }
    }
    pub fn cpu_mut(&mut self) -> &mut CpuData {
        match self {
            Storage::Cpu(d) => d,
            Storage::Gpu(_) => panic!("internal: a gpu storage reached a cpu kernel"),
        }
    }
}

/// Shared, versioned storage. The version counter is bumped by every in-place
/// write so autograd can detect modified saved tensors.
pub struct StorageCell {
    data: RwLock<Storage>,
    version: AtomicU64,
    pub device: Device,
}

impl StorageCell {
    pub fn new_cpu(d: CpuData) -> StorageCell {
        StorageCell {
            data: RwLock::new(Storage::Cpu(d)),
            version: AtomicU64::new(0),
            device: Device::Cpu,
        }
    }
    pub fn new_gpu(d: crate::wgpu::GpuData) -> StorageCell {
        StorageCell {
            data: RwLock::new(Storage::Gpu(d)),
            version: AtomicU64::new(0),
            device: Device::Gpu(0),
        }
    }
    pub fn read(&self) -> RwLockReadGuard<'_, Storage> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn write(&self) -> RwLockWriteGuard<'_, Storage> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
}
