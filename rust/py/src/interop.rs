//! Zero-copy interop: CPU storages over foreign memory (numpy arrays, DLPack producers)
//! and DLPack export of ember's own CPU storages.
//!
//! The DLPack structs are written here from the DLPack 1.x specification (dlpack.h is not
//! vendored). Ownership follows the spec: a producer's capsule is named "dltensor" or
//! "dltensor_versioned"; the consumer renames it to "used_dltensor(_versioned)" and calls the
//! managed tensor's deleter exactly once, when it no longer needs the memory. Foreign memory
//! is kept alive by an owner handle stored in the CpuData (`ember_core::storage::Buf`): a
//! Python object (the numpy array, or a `_DLPackGuard` whose drop calls the deleter). Both
//! are `Py<..>` handles, so a storage that dies on a thread without the GIL hands the decref
//! to PyO3's reference pool instead of blocking on the GIL inside a Drop.

use crate::tensor::{PyDType, PyTensor, R};
use ember_core::layout::Layout;
use ember_core::storage::{CpuData, Storage, StorageCell};
use ember_core::{DType, Tensor};
use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use std::ffi::{c_void, CStr};
use std::sync::Arc;

// ------------------------------------------------------------------ DLPack ABI (spec 1.x)
const DL_CPU: i32 = 1;
const DL_INT: u8 = 0;
const DL_UINT: u8 = 1;
const DL_FLOAT: u8 = 2;
const DL_BFLOAT: u8 = 4;
const DL_BOOL: u8 = 6;
const FLAG_READ_ONLY: u64 = 1 << 0;
const FLAG_IS_COPIED: u64 = 1 << 1;

const NAME: &CStr = c"dltensor";
const NAME_USED: &CStr = c"used_dltensor";
const NAME_V: &CStr = c"dltensor_versioned";
const NAME_V_USED: &CStr = c"used_dltensor_versioned";

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
struct DLPackVersion {
    major: u32,
    minor: u32,
}

#[repr(C)]
struct DLManagedTensorVersioned {
    version: DLPackVersion,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    flags: u64,
    dl_tensor: DLTensor,
}

fn dl_dtype(d: DType) -> DLDataType {
    let (code, bits) = match d {
        DType::Bool => (DL_BOOL, 8),
        DType::U8 => (DL_UINT, 8),
        DType::I8 => (DL_INT, 8),
        DType::I16 => (DL_INT, 16),
        DType::I32 => (DL_INT, 32),
        DType::I64 => (DL_INT, 64),
        DType::F16 => (DL_FLOAT, 16),
        DType::BF16 => (DL_BFLOAT, 16),
        DType::F32 => (DL_FLOAT, 32),
        DType::F64 => (DL_FLOAT, 64),
        // kDLComplex
        DType::C64 => (5, 64),
        DType::C128 => (5, 128),
    };
    DLDataType {
        code,
        bits,
        lanes: 1,
    }
}

fn ember_dtype(d: DLDataType) -> PyResult<DType> {
    let t = match (d.code, d.bits, d.lanes) {
        (DL_BOOL, 8, 1) => DType::Bool,
        (DL_UINT, 8, 1) => DType::U8,
        (DL_INT, 8, 1) => DType::I8,
        (DL_INT, 16, 1) => DType::I16,
        (DL_INT, 32, 1) => DType::I32,
        (DL_INT, 64, 1) => DType::I64,
        (DL_FLOAT, 16, 1) => DType::F16,
        (DL_BFLOAT, 16, 1) => DType::BF16,
        (DL_FLOAT, 32, 1) => DType::F32,
        (DL_FLOAT, 64, 1) => DType::F64,
        (c, b, l) => {
            return Err(PyBufferError::new_err(format!(
                "from_dlpack: unsupported DLPack dtype (code {c}, bits {b}, lanes {l}); ember \
                 has bool, uint8, int8/16/32/64, float16, bfloat16, float32 and float64"
            )))
        }
    };
    Ok(t)
}

// ------------------------------------------------------------------ storages over foreign memory
/// A CPU tensor over `extent` elements at `ptr`, kept alive by `owner`.
///
/// Callers guarantee what `Buf::foreign` needs (aligned, initialised, writable memory that
/// `owner` keeps alive; bool bytes 0 or 1); this checks what it can (null, alignment, the
/// layout fitting in `extent`).
fn foreign_tensor(
    owner: Py<PyAny>,
    ptr: usize,
    extent: usize,
    layout: Layout,
    dtype: DType,
    what: &str,
) -> PyResult<Tensor> {
    if extent > 0 && (ptr == 0 || !ptr.is_multiple_of(dtype.size())) {
        return Err(PyValueError::new_err(format!(
            "{what}: data pointer {ptr:#x} is null or not aligned to {} bytes for {dtype}",
            dtype.size()
        )));
    }
    if layout.numel() > 0 && layout.extent() > extent {
        return Err(PyValueError::new_err(format!(
            "{what}: shape {:?} with strides {:?} and offset {} needs {} elements but the memory \
             holds {extent}",
            layout.shape,
            layout.strides,
            layout.offset,
            layout.extent()
        )));
    }
    if dtype == DType::Bool && layout.numel() > 0 {
        // Rust's bool must be 0 or 1: check the producer's bytes before viewing them as bool.
        let mut ok = true;
        // SAFETY: every offset of the layout is inside the `extent` bytes at `ptr` (checked).
        ember_core::layout::for_each_offset(&layout, |o| {
            ok &= unsafe { *((ptr + o) as *const u8) } <= 1
        });
        if !ok {
            return Err(PyValueError::new_err(format!(
                "{what}: the bool data holds bytes other than 0 and 1"
            )));
        }
    }
    // SAFETY: checked above (non-null, aligned, fits); validity, writability and lifetime are
    // the caller's contract, and `owner` travels with the storage until its last view dies.
    let data = unsafe { CpuData::from_foreign(dtype, ptr as *mut u8, extent, Box::new(owner)) };
    Ok(Tensor::from_parts(
        Arc::new(StorageCell::new_cpu(data)),
        layout,
        dtype,
    ))
}

/// A CPU tensor viewing `extent` elements of `dtype` at address `ptr` (shape and element
/// strides as given, offset 0), keeping `owner` alive. For `from_numpy`: the Python side has
/// checked that `owner` is a writable, aligned, native-byte-order ndarray whose buffer
/// starts at `ptr` (private and unchecked beyond that: a wrong pointer is a crash).
#[pyfunction]
fn _from_host_memory(
    owner: Py<PyAny>,
    ptr: usize,
    extent: usize,
    shape: Vec<usize>,
    strides: Vec<usize>,
    dtype: PyDType,
) -> R {
    if shape.len() != strides.len() {
        return Err(PyValueError::new_err(format!(
            "_from_host_memory: shape {shape:?} and strides {strides:?} differ in length"
        )));
    }
    let layout = Layout {
        shape,
        strides,
        offset: 0,
    };
    Ok(PyTensor::wrap(foreign_tensor(
        owner,
        ptr,
        extent,
        layout,
        dtype.0,
        "from_numpy",
    )?))
}

/// (address of the first storage element, storage length in elements, whether the storage
/// views foreign memory) of a CPU tensor; None for a GPU tensor.
#[pyfunction]
fn _storage_info(t: PyRef<'_, PyTensor>) -> Option<(usize, usize, bool)> {
    match &*t.t.storage().read() {
        Storage::Cpu(d) => Some((d.as_ptr() as usize, d.len(), d.is_foreign())),
        Storage::Gpu(_) => None,
    }
}

// ------------------------------------------------------------------ DLPack export
/// What a capsule's manager_ctx points at: the managed struct, the shape/strides it points
/// into, and a tensor handle that keeps the storage alive until the deleter runs.
#[repr(C)]
struct Export<M> {
    managed: M,
    shape: Vec<i64>,
    strides: Vec<i64>,
    _tensor: Tensor,
}

unsafe extern "C" fn delete_export(m: *mut DLManagedTensor) {
    if !m.is_null() {
        // SAFETY: manager_ctx is the Box<Export> made in `_to_dlpack`; the spec calls the
        // deleter once.
        drop(unsafe { Box::from_raw((*m).manager_ctx as *mut Export<DLManagedTensor>) });
    }
}

unsafe extern "C" fn delete_export_v(m: *mut DLManagedTensorVersioned) {
    if !m.is_null() {
        // SAFETY: as `delete_export`.
        drop(unsafe { Box::from_raw((*m).manager_ctx as *mut Export<DLManagedTensorVersioned>) });
    }
}

/// Capsule destructor: a capsule nobody consumed (still named "dltensor") owns its tensor.
unsafe extern "C" fn capsule_dtor(cap: *mut ffi::PyObject) {
    // SAFETY: `cap` is a live capsule; IsValid does not raise.
    unsafe {
        if ffi::PyCapsule_IsValid(cap, NAME.as_ptr()) == 1 {
            let m = ffi::PyCapsule_GetPointer(cap, NAME.as_ptr()) as *mut DLManagedTensor;
            if let Some(d) = (*m).deleter {
                d(m);
            }
        }
    }
}

unsafe extern "C" fn capsule_dtor_v(cap: *mut ffi::PyObject) {
    // SAFETY: as `capsule_dtor`.
    unsafe {
        if ffi::PyCapsule_IsValid(cap, NAME_V.as_ptr()) == 1 {
            let m =
                ffi::PyCapsule_GetPointer(cap, NAME_V.as_ptr()) as *mut DLManagedTensorVersioned;
            if let Some(d) = (*m).deleter {
                d(m);
            }
        }
    }
}

fn dl_tensor(t: &Tensor, shape: &mut [i64], strides: &mut [i64]) -> PyResult<DLTensor> {
    let base =
        match &*t.storage().read() {
            Storage::Cpu(d) => d.as_ptr() as usize,
            Storage::Gpu(_) => return Err(PyBufferError::new_err(
                "__dlpack__: ember's GPU buffers (wgpu) have no DLPack device; use tensor.cpu() \
                 first",
            )),
        };
    // Like PyTorch, `data` points at the first element and byte_offset is 0 (some consumers
    // ignore byte_offset).
    let data = base + t.layout().offset * t.dtype().size();
    Ok(DLTensor {
        data: data as *mut c_void,
        device: DLDevice {
            device_type: DL_CPU,
            device_id: 0,
        },
        ndim: shape.len() as i32,
        dtype: dl_dtype(t.dtype()),
        shape: shape.as_mut_ptr(),
        strides: strides.as_mut_ptr(),
        byte_offset: 0,
    })
}

/// A DLPack capsule viewing a CPU tensor's storage ("dltensor_versioned" when `versioned`,
/// else "dltensor"); `copied` sets the IS_COPIED flag (the tensor is a private copy).
#[pyfunction]
fn _to_dlpack(
    py: Python<'_>,
    t: PyRef<'_, PyTensor>,
    versioned: bool,
    copied: bool,
) -> PyResult<Py<PyAny>> {
    let t = t.t.clone();
    let to_i64 = |v: &[usize]| v.iter().map(|&x| x as i64).collect::<Vec<i64>>();
    let (mut shape, mut strides) = (to_i64(t.shape()), to_i64(t.strides()));
    let dl = dl_tensor(&t, &mut shape, &mut strides)?;
    // The Vecs' heap buffers do not move when the Vecs move into the Box.
    let cap = if versioned {
        let flags = if copied { FLAG_IS_COPIED } else { 0 };
        let ctx = Box::into_raw(Box::new(Export {
            managed: DLManagedTensorVersioned {
                version: DLPackVersion { major: 1, minor: 0 },
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(delete_export_v),
                flags,
                dl_tensor: dl,
            },
            shape,
            strides,
            _tensor: t,
        }));
        // SAFETY: ctx is a fresh, valid Box pointer; the capsule takes ownership of it.
        unsafe {
            (*ctx).managed.manager_ctx = ctx as *mut c_void;
            let m = &raw mut (*ctx).managed;
            ffi::PyCapsule_New(m as *mut c_void, NAME_V.as_ptr(), Some(capsule_dtor_v))
        }
    } else {
        let ctx = Box::into_raw(Box::new(Export {
            managed: DLManagedTensor {
                dl_tensor: dl,
                manager_ctx: std::ptr::null_mut(),
                deleter: Some(delete_export),
            },
            shape,
            strides,
            _tensor: t,
        }));
        // SAFETY: as above.
        unsafe {
            (*ctx).managed.manager_ctx = ctx as *mut c_void;
            let m = &raw mut (*ctx).managed;
            ffi::PyCapsule_New(m as *mut c_void, NAME.as_ptr(), Some(capsule_dtor))
        }
    };
    // SAFETY: PyCapsule_New returns a new reference or NULL with an exception set (then the
    // Box leaks: it only happens when Python is out of memory).
    unsafe { Bound::from_owned_ptr_or_err(py, cap) }.map(|b| b.unbind())
}

// ------------------------------------------------------------------ DLPack import
/// Owns a consumed DLPack managed tensor; dropping it (under the GIL, as a Python object)
/// calls the producer's deleter exactly once.
#[pyclass(frozen)]
struct _DLPackGuard {
    managed: usize,
    versioned: bool,
}

impl Drop for _DLPackGuard {
    fn drop(&mut self) {
        // SAFETY: `managed` is the pointer the consumed capsule held; the guard is its only
        // owner and is dropped once.
        unsafe {
            if self.versioned {
                let m = self.managed as *mut DLManagedTensorVersioned;
                if let Some(d) = (*m).deleter {
                    d(m);
                }
            } else {
                let m = self.managed as *mut DLManagedTensor;
                if let Some(d) = (*m).deleter {
                    d(m);
                }
            }
        }
    }
}

const INVALID_CAPSULE: &str = "from_dlpack received an invalid capsule. Note that DLTensor \
     capsules can be consumed only once, so you might have already constructed a tensor from it \
     once.";

/// Layout (element strides, offset 0) of a DLTensor, checked.
///
/// # Safety
/// `dl` must be a valid DLTensor from a live managed tensor.
unsafe fn dl_layout(dl: &DLTensor) -> PyResult<Layout> {
    if dl.ndim < 0 || (dl.ndim > 0 && dl.shape.is_null()) {
        return Err(PyBufferError::new_err(format!(
            "from_dlpack: invalid ndim {} or shape",
            dl.ndim
        )));
    }
    let nd = dl.ndim as usize;
    // SAFETY: the producer guarantees `ndim` entries in shape (and strides when not null).
    let shape_i: &[i64] = if nd == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(dl.shape, nd) }
    };
    let mut shape = Vec::with_capacity(nd);
    for &s in shape_i {
        if s < 0 {
            return Err(PyBufferError::new_err(format!(
                "from_dlpack: negative size in shape {shape_i:?}"
            )));
        }
        shape.push(s as usize);
    }
    let strides = if dl.strides.is_null() || nd == 0 {
        ember_core::layout::contiguous_strides(&shape)
    } else {
        let st: &[i64] = unsafe { std::slice::from_raw_parts(dl.strides, nd) };
        let mut v = Vec::with_capacity(nd);
        for (&s, &n) in st.iter().zip(&shape) {
            if s < 0 && n > 1 {
                return Err(PyBufferError::new_err(format!(
                    "from_dlpack: negative strides {st:?} are not supported by ember (as in \
                     PyTorch, tensors have non-negative strides); copy the tensor first"
                )));
            }
            v.push(if n > 1 { s as usize } else { s.max(0) as usize });
        }
        v
    };
    Ok(Layout {
        shape,
        strides,
        offset: 0,
    })
}

/// The tensor a consumed capsule describes: shares its memory (its deleter runs when the last
/// view dies), or copies it when the producer marked it read-only.
#[pyfunction]
fn _from_dlpack(py: Python<'_>, capsule: &Bound<'_, PyAny>) -> R {
    let cap = capsule.as_ptr();
    // SAFETY: IsValid accepts any object and does not raise.
    let versioned = unsafe {
        if ffi::PyCapsule_IsValid(cap, NAME_V.as_ptr()) == 1 {
            true
        } else if ffi::PyCapsule_IsValid(cap, NAME.as_ptr()) == 1 {
            false
        } else {
            return Err(PyRuntimeError::new_err(INVALID_CAPSULE));
        }
    };
    let name = if versioned { NAME_V } else { NAME };
    // SAFETY: the capsule is valid under `name`; its pointer is the producer's managed tensor.
    let managed = unsafe { ffi::PyCapsule_GetPointer(cap, name.as_ptr()) };
    if managed.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: the producer's struct, valid while the capsule is unconsumed.
    let (dl, flags) = unsafe {
        if versioned {
            let m = &*(managed as *const DLManagedTensorVersioned);
            if m.version.major != 1 {
                return Err(PyBufferError::new_err(format!(
                    "from_dlpack: DLPack version {}.{} is not supported (ember reads 1.x)",
                    m.version.major, m.version.minor
                )));
            }
            (&m.dl_tensor, m.flags)
        } else {
            (&(*(managed as *const DLManagedTensor)).dl_tensor, 0)
        }
    };
    if dl.device.device_type != DL_CPU {
        return Err(PyRuntimeError::new_err(format!(
            "from_dlpack: ember imports CPU tensors only; this one is on DLPack device type {} \
             (id {}). Move it to the cpu first.",
            dl.device.device_type, dl.device.device_id
        )));
    }
    let dtype = ember_dtype(dl.dtype)?;
    // SAFETY: `dl` is valid (see above).
    let layout = unsafe { dl_layout(dl)? };
    let extent = layout.extent();
    let ptr = (dl.data as usize).wrapping_add(dl.byte_offset as usize);
    // Consume the capsule now: from here the guard owns the managed tensor.
    let used = if versioned { NAME_V_USED } else { NAME_USED };
    // SAFETY: a valid capsule; SetName only stores the (static) name.
    if unsafe { ffi::PyCapsule_SetName(cap, used.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    let guard = Py::new(
        py,
        _DLPackGuard {
            managed: managed as usize,
            versioned,
        },
    )?
    .into_any();
    let read_only = flags & FLAG_READ_ONLY != 0;
    let t = foreign_tensor(guard, ptr, extent, layout, dtype, "from_dlpack")?;
    if read_only {
        // ember tensors are always writable; a read-only buffer (e.g. a non-writeable numpy
        // array or bytes) is copied rather than handed to in-place ops. Dropping `t` drops
        // the guard, which calls the producer's deleter.
        return crate::tensor::w(t.clone_data());
    }
    Ok(PyTensor::wrap(t))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<_DLPackGuard>()?;
    m.add_function(wrap_pyfunction!(_from_host_memory, m)?)?;
    m.add_function(wrap_pyfunction!(_storage_info, m)?)?;
    m.add_function(wrap_pyfunction!(_to_dlpack, m)?)?;
    m.add_function(wrap_pyfunction!(_from_dlpack, m)?)?;
    Ok(())
}
