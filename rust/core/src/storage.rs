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
#[derive(Clone, Debug)]
pub enum CpuData {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
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
}

macro_rules! cpu_element {
    ($t:ty, $v:ident) => {
        impl CpuElement for $t {
            #[inline]
            fn slice(d: &CpuData) -> &[Self] {
                match d {
                    CpuData::$v(v) => v,
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
                    CpuData::$v(v) => v,
                    other => panic!(
                        "internal dtype mismatch: expected {} storage, found {}",
                        stringify!($v),
                        other.dtype()
                    ),
                }
            }
            #[inline]
            fn wrap(v: Vec<Self>) -> CpuData {
                CpuData::$v(v)
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
