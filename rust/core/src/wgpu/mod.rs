//! GPU backend on wgpu: one lazily created context per process (instance,
//! adapter, device with the adapter's own limits), a buffer pool, a pipeline
//! cache (in memory, and on disk where the backend supports it) and a
//! command batch: dispatches are recorded into one encoder and submitted in
//! batches; only reads to the host wait.
//!
//! Storage words: f32 for float32; i32 for int32/int64 (int64 values must
//! fit in 32 bits), int16 and int8; u32 for bool/uint8. float16 and bfloat16
//! are stored as real 16-bit values, two per u32 word (element i in word
//! i / 2, the low half for even i); the kernels compute on f32 words, so
//! `kernels::Bufs` widens such a storage into a temporary before a kernel and
//! packs written ones back after it (shaders/half.wgsl). WGSL has no 64-bit
//! types, so float64 on the GPU is an error, as on PyTorch's MPS.

pub mod backend;
pub mod kernels;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::CpuData;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Bytes of one dispatch's parameter block (64 u32 slots).
pub const PARAM_BYTES: u64 = 256;
/// Dispatches recorded before the batch is submitted without waiting; the
/// uniform ring has one parameter slot per pending dispatch.
const MAX_PENDING: usize = 256;
/// Threads per workgroup of the 1-d kernels.
pub const WG: u32 = 256;

pub type Params = [u32; 64];

/// Counters a test or benchmark can read (ember.gpu.stats()).
#[derive(Default)]
pub struct Stats {
    pub buffers_created: AtomicU64,
    pub buffers_reused: AtomicU64,
    pub bytes_created: AtomicU64,
    pub submits: AtomicU64,
    pub dispatches: AtomicU64,
    pub host_reads: AtomicU64,
    pub uploads: AtomicU64,
    pub pipelines_compiled: AtomicU64,
    /// Ops that ran on host copies (no GPU kernel for that case), by name.
    pub fallbacks: Mutex<std::collections::BTreeMap<String, u64>>,
}

/// Recorded, not yet submitted work. `pending` dispatches have used uniform
/// ring slots 0..pending, so the ring position is the pending count.
struct Batch {
    encoder: Option<::wgpu::CommandEncoder>,
    pending: usize,
}

/// A kernel instance: (shader, storage type T, source type S).
pub type KernelKey = (&'static str, &'static str, &'static str);

/// A compiled kernel and its bind group layout (fetched once).
struct Pipeline {
    pipeline: ::wgpu::ComputePipeline,
    layout: ::wgpu::BindGroupLayout,
}

pub struct Ctx {
    pub device: ::wgpu::Device,
    pub queue: ::wgpu::Queue,
    pub info: ::wgpu::AdapterInfo,
    pub limits: ::wgpu::Limits,
    pub features: ::wgpu::Features,
    pool: Mutex<HashMap<u64, Vec<::wgpu::Buffer>>>,
    pipelines: Mutex<HashMap<KernelKey, Arc<Pipeline>>>,
    batch: Mutex<Batch>,
    uniforms: ::wgpu::Buffer,
    cache: Option<(::wgpu::PipelineCache, std::path::PathBuf)>,
    errors: Arc<Mutex<Vec<String>>>,
    /// Device-side error record of the index kernels (ERR_WORDS atomic u32;
    /// layout in shaders/README.md), and whether a kernel that may write it
    /// ran since the last read to the host.
    err_record: ::wgpu::Buffer,
    err_armed: AtomicBool,
    pub stats: Stats,
}

/// Words of the device error record.
const ERR_WORDS: usize = 8;

static CTX: OnceLock<std::result::Result<Ctx, String>> = OnceLock::new();

fn gpu_err(msg: impl Into<String>) -> Error {
    Error::Runtime(msg.into())
}

/// The process's GPU context, created on first use.
pub fn ctx() -> Result<&'static Ctx> {
    match CTX.get_or_init(init) {
        Ok(c) => Ok(c),
        Err(e) => Err(gpu_err(format!("no GPU is available: {e}"))),
    }
}

/// Whether an adapter was found (creates the context).
pub fn available() -> bool {
    ctx().is_ok()
}

/// Why the GPU is unavailable, if it is.
pub fn unavailable_reason() -> Option<String> {
    match CTX.get_or_init(init) {
        Ok(_) => None,
        Err(e) => Some(e.clone()),
    }
}

fn adapter_rank(a: &::wgpu::Adapter) -> u32 {
    use ::wgpu::DeviceType::*;
    match a.get_info().device_type {
        DiscreteGpu => 0,
        IntegratedGpu => 1,
        VirtualGpu => 2,
        Other => 3,
        Cpu => 4,
    }
}

fn init() -> std::result::Result<Ctx, String> {
    let backends = ::wgpu::Backends::VULKAN | ::wgpu::Backends::METAL | ::wgpu::Backends::DX12;
    let instance = ::wgpu::Instance::new(::wgpu::InstanceDescriptor {
        backends,
        flags: ::wgpu::InstanceFlags::empty(),
        ..::wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
    if adapters.is_empty() {
        return Err("no Vulkan, Metal or DirectX 12 adapter found (on Linux without a GPU, install Mesa's software Vulkan driver: mesa-vulkan-drivers)".into());
    }
    if let Ok(want) = std::env::var("EMBER_GPU_ADAPTER") {
        let w = want.to_lowercase();
        adapters.retain(|a| a.get_info().name.to_lowercase().contains(&w));
        if adapters.is_empty() {
            return Err(format!("EMBER_GPU_ADAPTER={want} matches no adapter"));
        }
    }
    adapters.sort_by_key(adapter_rank);
    let adapter = adapters.remove(0);
    let info = adapter.get_info();
    let limits = adapter.limits();
    let mut features = ::wgpu::Features::empty();
    let have = adapter.features();
    if have.contains(::wgpu::Features::PIPELINE_CACHE) {
        features |= ::wgpu::Features::PIPELINE_CACHE;
    }
    let (device, queue) = pollster::block_on(adapter.request_device(&::wgpu::DeviceDescriptor {
        label: Some("ember"),
        required_features: features,
        required_limits: limits.clone(),
        memory_hints: ::wgpu::MemoryHints::Performance,
        ..Default::default()
    }))
    .map_err(|e| {
        format!(
            "requesting the device of adapter '{}' failed: {e}",
            info.name
        )
    })?;
    // Validation and out-of-memory errors are collected and raised as Python
    // RuntimeErrors at the next check instead of aborting the process.
    let errors: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    device.on_uncaptured_error(Arc::new(move |e: ::wgpu::Error| {
        if let Ok(mut v) = sink.lock() {
            v.push(e.to_string());
        }
    }));
    let uniforms = device.create_buffer(&::wgpu::BufferDescriptor {
        label: Some("ember params"),
        size: MAX_PENDING as u64
            * PARAM_BYTES.max(limits.min_uniform_buffer_offset_alignment as u64),
        usage: ::wgpu::BufferUsages::UNIFORM | ::wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let err_record = device.create_buffer(&::wgpu::BufferDescriptor {
        label: Some("ember device errors"),
        size: ERR_WORDS as u64 * 4,
        usage: ::wgpu::BufferUsages::STORAGE
            | ::wgpu::BufferUsages::COPY_SRC
            | ::wgpu::BufferUsages::COPY_DST,
        // wgpu zero-initialises new buffers.
        mapped_at_creation: false,
    });
    let cache = if features.contains(::wgpu::Features::PIPELINE_CACHE) {
        cache_path(&info).map(|path| {
            let data = std::fs::read(&path).ok();
            // SAFETY: the data is either None or bytes this same adapter and
            // driver produced (the key includes both); wgpu validates the
            // header and falls back to an empty cache on mismatch.
            let c = unsafe {
                device.create_pipeline_cache(&::wgpu::PipelineCacheDescriptor {
                    label: Some("ember pipelines"),
                    data: data.as_deref(),
                    fallback: true,
                })
            };
            (c, path)
        })
    } else {
        None
    };
    Ok(Ctx {
        device,
        queue,
        info,
        limits,
        features,
        pool: Mutex::new(HashMap::new()),
        pipelines: Mutex::new(HashMap::new()),
        batch: Mutex::new(Batch {
            encoder: None,
            pending: 0,
        }),
        uniforms,
        cache,
        errors,
        err_record,
        err_armed: AtomicBool::new(false),
        stats: Stats::default(),
    })
}

fn cache_path(info: &::wgpu::AdapterInfo) -> Option<std::path::PathBuf> {
    let base = std::env::var_os("EMBER_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|d| std::path::PathBuf::from(d).join("ember"))
        })
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|d| std::path::PathBuf::from(d).join(".cache").join("ember"))
        })?;
    let key: String = format!("{}-{}-{}", info.name, info.driver, info.driver_info)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(base.join(format!("pipelines-{key}.bin")))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pool size class: 4 steps per octave above 1 KiB, so reuse wastes < 25%.
fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256);
    if b <= 1024 {
        return b.div_ceil(256) * 256;
    }
    let k = 63 - b.leading_zeros() as u64; // 2^k <= b
    let step = 1u64 << (k - 2);
    b.div_ceil(step) * step
}

/// A pooled storage buffer: returned to the pool when dropped.
pub struct GpuBuffer {
    buf: Option<::wgpu::Buffer>,
    class: u64,
}

impl GpuBuffer {
    pub fn raw(&self) -> &::wgpu::Buffer {
        self.buf.as_ref().expect("live GPU buffer")
    }
    pub fn bytes(&self) -> u64 {
        self.class
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let (Some(b), Some(Ok(c))) = (self.buf.take(), CTX.get()) {
            // Commands recorded but not yet submitted may still use `b`;
            // later work that reuses it is recorded after them, so the queue
            // order keeps it safe. Uploads flush the batch first.
            lock(&c.pool).entry(self.class).or_default().push(b);
        }
    }
}

/// The data of a GPU storage: `len` elements of `dtype` in
/// `words(len, dtype)` words.
pub struct GpuData {
    pub buf: GpuBuffer,
    pub len: usize,
    pub dtype: DType,
}

/// Whether a dtype is stored as packed 16-bit halves of u32 words.
pub fn is_half(dt: DType) -> bool {
    matches!(dt, DType::F16 | DType::BF16)
}

/// Words of a GPU storage of `len` elements of `dt` (the one place that
/// knows the packing: two float16/bfloat16 per word, else one element each).
pub fn words(len: usize, dt: DType) -> usize {
    if is_half(dt) {
        len.div_ceil(2)
    } else {
        len
    }
}

/// Dtypes the GPU stores, and the word each uses.
pub fn check_dtype(dt: DType, what: &str) -> Result<()> {
    match dt {
        DType::F32
        | DType::F16
        | DType::BF16
        | DType::I32
        | DType::I64
        | DType::I16
        | DType::I8
        | DType::Bool
        | DType::U8 => Ok(()),
        DType::F64 => Err(gpu_err(format!(
            "{what}: float64 is not supported on the gpu device (WGSL has no 64-bit floats); use float32"
        ))),
        other => Err(gpu_err(format!(
            "{what}: dtype {other} is not supported on the gpu device (supported: float32, float16, bfloat16, int64, int32, int16, int8, uint8, bool)"
        ))),
    }
}

/// WGSL storage type of a dtype.
pub fn wgsl_type(dt: DType) -> &'static str {
    match dt {
        DType::F32 | DType::F16 | DType::BF16 | DType::F64 => "f32",
        DType::Bool | DType::U8 => "u32",
        _ => "i32",
    }
}

impl Ctx {
    /// Raise the first collected wgpu error, if any.
    pub fn check_errors(&self) -> Result<()> {
        let mut v = lock(&self.errors);
        if v.is_empty() {
            return Ok(());
        }
        let msg = v.join("; ");
        v.clear();
        let lower = msg.to_lowercase();
        if lower.contains("out of memory") || lower.contains("outofmemory") {
            return Err(gpu_err(format!("GPU out of memory: {msg}")));
        }
        Err(gpu_err(format!("GPU error: {msg}")))
    }

    /// A buffer of at least `len` words from the pool (or a new one).
    pub fn alloc(&self, len: usize) -> Result<GpuBuffer> {
        let bytes = (len as u64).saturating_mul(4);
        let class = size_class(bytes);
        if let Some(b) = lock(&self.pool).get_mut(&class).and_then(|v| v.pop()) {
            self.stats.buffers_reused.fetch_add(1, Ordering::Relaxed);
            return Ok(GpuBuffer {
                buf: Some(b),
                class,
            });
        }
        let max = self
            .limits
            .max_buffer_size
            .min(self.limits.max_storage_buffer_binding_size as u64);
        if class > max {
            return Err(gpu_err(format!(
                "GPU out of memory: a tensor of {len} elements ({bytes} bytes) exceeds the adapter's largest storage buffer ({max} bytes)"
            )));
        }
        let create = || {
            let scope = self
                .device
                .push_error_scope(::wgpu::ErrorFilter::OutOfMemory);
            let b = self.device.create_buffer(&::wgpu::BufferDescriptor {
                label: None,
                size: class,
                usage: ::wgpu::BufferUsages::STORAGE
                    | ::wgpu::BufferUsages::COPY_SRC
                    | ::wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            match pollster::block_on(scope.pop()) {
                Some(e) => Err(e),
                None => Ok(b),
            }
        };
        let b = match create() {
            Ok(b) => b,
            Err(_) => {
                // Release the pooled buffers of other sizes and try once more.
                lock(&self.pool).clear();
                create().map_err(|e| {
                    gpu_err(format!("GPU out of memory allocating {bytes} bytes: {e}"))
                })?
            }
        };
        self.stats.buffers_created.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes_created.fetch_add(class, Ordering::Relaxed);
        Ok(GpuBuffer {
            buf: Some(b),
            class,
        })
    }

    /// Drop every pooled (unused) buffer.
    pub fn empty_cache(&self) {
        lock(&self.pool).clear();
    }

    pub fn pooled_bytes(&self) -> u64 {
        lock(&self.pool)
            .iter()
            .map(|(k, v)| k * v.len() as u64)
            .sum()
    }

    fn pipeline(&self, key: KernelKey, make_src: impl FnOnce() -> String) -> Result<Arc<Pipeline>> {
        if let Some(p) = lock(&self.pipelines).get(&key) {
            return Ok(p.clone());
        }
        let src = make_src();
        let label = format!("{}:{}:{}", key.0, key.1, key.2);
        let key_s = &label;
        let scope = self
            .device
            .push_error_scope(::wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(::wgpu::ShaderModuleDescriptor {
                label: Some(key_s),
                source: ::wgpu::ShaderSource::Wgsl(src.into()),
            });
        let p = self
            .device
            .create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
                label: Some(key_s),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: self.cache.as_ref().map(|(c, _)| c),
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(gpu_err(format!(
                "GPU kernel '{key_s}' failed to compile: {e}"
            )));
        }
        self.stats
            .pipelines_compiled
            .fetch_add(1, Ordering::Relaxed);
        let p = Arc::new(Pipeline {
            layout: p.get_bind_group_layout(0),
            pipeline: p,
        });
        lock(&self.pipelines).insert(key, p.clone());
        self.save_cache();
        Ok(p)
    }

    fn save_cache(&self) {
        if let Some((c, path)) = &self.cache {
            if let Some(data) = c.get_data() {
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                if std::fs::write(&tmp, &data).is_ok() {
                    let _ = std::fs::rename(&tmp, path);
                }
            }
        }
    }

    /// Record one dispatch. `bufs` are bound at 1, 2, ... in order.
    pub fn dispatch(
        &self,
        key: KernelKey,
        make_src: impl FnOnce() -> String,
        params: &Params,
        bufs: &[&::wgpu::Buffer],
        groups: (u32, u32, u32),
    ) -> Result<()> {
        if groups.0 == 0 || groups.1 == 0 || groups.2 == 0 {
            return Ok(());
        }
        let pipeline = self.pipeline(key, make_src)?;
        let mut batch = lock(&self.batch);
        // Submitting at MAX_PENDING keeps `pending` below the ring size.
        let slot = batch.pending as u64;
        let stride = PARAM_BYTES.max(self.limits.min_uniform_buffer_offset_alignment as u64);
        self.queue
            .write_buffer(&self.uniforms, slot * stride, bytemuck::cast_slice(params));
        let mut entries = vec![::wgpu::BindGroupEntry {
            binding: 0,
            resource: ::wgpu::BindingResource::Buffer(::wgpu::BufferBinding {
                buffer: &self.uniforms,
                offset: slot * stride,
                size: std::num::NonZeroU64::new(PARAM_BYTES),
            }),
        }];
        for (i, b) in bufs.iter().enumerate() {
            entries.push(::wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            });
        }
        let bg = self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.layout,
            entries: &entries,
        });
        let enc = batch
            .encoder
            .get_or_insert_with(|| self.device.create_command_encoder(&Default::default()));
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        }
        batch.pending += 1;
        self.stats.dispatches.fetch_add(1, Ordering::Relaxed);
        if batch.pending >= MAX_PENDING {
            self.submit_locked(&mut batch);
        }
        Ok(())
    }

    fn submit_locked(&self, batch: &mut Batch) {
        if let Some(enc) = batch.encoder.take() {
            self.queue.submit(Some(enc.finish()));
            self.stats.submits.fetch_add(1, Ordering::Relaxed);
        }
        batch.pending = 0;
    }

    /// Submit recorded work without waiting for it.
    pub fn flush(&self) {
        let mut b = lock(&self.batch);
        self.submit_locked(&mut b);
    }

    /// Submit and wait until the GPU is idle.
    pub fn synchronize(&self) -> Result<()> {
        if self.err_armed.load(Ordering::Relaxed) {
            // Reads (and so checks) the device error record.
            return self.read_raw(None, 0).map(|_| ());
        }
        self.flush();
        let _ = self.device.poll(::wgpu::PollType::wait_indefinitely());
        self.check_errors()
    }

    /// The device error record, to bind to a kernel that checks its inputs;
    /// when `arm`, the next read to the host checks it (a kernel that binds it
    /// but cannot report this time leaves reads as they are).
    pub fn error_record(&self, arm: bool) -> &::wgpu::Buffer {
        if arm {
            self.err_armed.store(true, Ordering::Relaxed);
        }
        &self.err_record
    }

    /// Copy host words into a new buffer.
    pub fn upload_words(&self, words: &[u32]) -> Result<GpuBuffer> {
        let buf = self.alloc(words.len())?;
        if !words.is_empty() {
            // Pending commands may still read a pooled buffer's old contents;
            // write_buffer lands before the next submit, so submit them first.
            self.flush();
            self.queue
                .write_buffer(buf.raw(), 0, bytemuck::cast_slice(words));
            self.stats.uploads.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf)
    }

    /// Overwrite the start of an existing buffer with host words.
    pub fn write_words(&self, buf: &GpuBuffer, words: &[u32]) -> Result<()> {
        if !words.is_empty() {
            self.flush();
            self.queue
                .write_buffer(buf.raw(), 0, bytemuck::cast_slice(words));
            self.stats.uploads.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Read `len` words from the start of a buffer (waits for the GPU).
    pub fn read_words(&self, buf: &GpuBuffer, len: usize) -> Result<Vec<u32>> {
        self.stats.host_reads.fetch_add(1, Ordering::Relaxed);
        if len == 0 && !self.err_armed.load(Ordering::Relaxed) {
            return Ok(Vec::new());
        }
        self.read_raw(Some(buf.raw()), len)
    }

    /// Copy `len` words of `buf` (and the device error record, when an index
    /// kernel ran since the last read) to the host in one submit and wait.
    /// A reported index error is cleared and raised as IndexError.
    fn read_raw(&self, buf: Option<&::wgpu::Buffer>, len: usize) -> Result<Vec<u32>> {
        let bytes = len as u64 * 4;
        let staging;
        {
            let mut batch = lock(&self.batch);
            let check = self.err_armed.swap(false, Ordering::Relaxed);
            let total = bytes + if check { ERR_WORDS as u64 * 4 } else { 0 };
            staging = self.device.create_buffer(&::wgpu::BufferDescriptor {
                label: Some("ember readback"),
                size: total.max(4),
                usage: ::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let enc = batch
                .encoder
                .get_or_insert_with(|| self.device.create_command_encoder(&Default::default()));
            if let (Some(b), true) = (buf, bytes > 0) {
                enc.copy_buffer_to_buffer(b, 0, &staging, 0, bytes);
            }
            if check {
                enc.copy_buffer_to_buffer(
                    &self.err_record,
                    0,
                    &staging,
                    bytes,
                    ERR_WORDS as u64 * 4,
                );
                enc.clear_buffer(&self.err_record, 0, None);
            }
            self.submit_locked(&mut batch);
        }
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(::wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        let _ = self.device.poll(::wgpu::PollType::wait_indefinitely());
        self.check_errors()?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(gpu_err(format!("reading GPU memory failed: {e}"))),
            Err(_) => return Err(gpu_err("reading GPU memory failed: the device was lost")),
        }
        let mut out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| gpu_err(format!("reading GPU memory failed: {e}")))?;
            bytemuck::cast_slice::<u8, u32>(&view).to_vec()
        };
        staging.unmap();
        if out.len() >= len + ERR_WORDS && out[len] != 0 {
            return Err(index_error(&out[len..len + ERR_WORDS]));
        }
        out.truncate(len);
        Ok(out)
    }
}

/// Op codes of the device error record (slot 3 of gather/scatter_add).
pub const ERR_GATHER: u32 = 1;
pub const ERR_INDEX_SELECT: u32 = 2;
pub const ERR_SCATTER_ADD: u32 = 3;
pub const ERR_INDEX_ADD: u32 = 4;
pub const ERR_NLL_TARGET: u32 = 5;
/// Integer floor_divide/remainder/fmod by zero (binary_int.wgsl).
pub const ERR_ZERO_DIVISION: u32 = 6;
pub const ERR_SCATTER: u32 = 7;
pub const ERR_INDEX_PUT: u32 = 8;
/// x[i, j, ...] with several index tensors (a flattened index_select).
pub const ERR_ADV_INDEX: u32 = 9;
/// x[..., idx, ...] with one index tensor (an index_select of the wrapped index).
pub const ERR_GETITEM: u32 = 10;

/// The error of a device error record [count, op, index, size, dim, ..]:
/// IndexError, or RuntimeError for a division by zero.
fn index_error(rec: &[u32]) -> Error {
    let (op, k, size, dim) = (rec[1], rec[2] as i32, rec[3], rec[4]);
    let later = "(found by a GPU kernel and raised at the next read to the host, \
                 like CUDA's device-side asserts; the result of that op is invalid)";
    let what = match op {
        ERR_NLL_TARGET => return Error::Index(format!("Target {k} is out of bounds. {later}")),
        ERR_ADV_INDEX => {
            return Error::Index(format!(
                "index(): an index tensor holds a value out of bounds for the indexed dims from dimension {dim} on (flattened size {size}) {later}"
            ))
        }
        ERR_GETITEM => {
            return Error::Index(format!(
                "index {k} is out of bounds for dimension {dim} with size {size} {later}"
            ))
        }
        ERR_ZERO_DIVISION => {
            return Error::Runtime(format!(
                "ZeroDivisionError: integer division by zero {later}"
            ))
        }
        ERR_GATHER => "gather",
        ERR_INDEX_SELECT => "index_select",
        ERR_SCATTER_ADD => "scatter_add",
        ERR_INDEX_ADD => "index_add",
        ERR_SCATTER => "scatter",
        ERR_INDEX_PUT => "index_put",
        _ => "an index kernel",
    };
    let msg = format!(
        "{what}(): index {k} is out of bounds for dimension {dim} with size {size} {later}"
    );
    // PyTorch raises RuntimeError for these ops' bad indices, IndexError for index_put's.
    if op == ERR_INDEX_PUT {
        Error::Index(msg)
    } else {
        Error::Runtime(msg)
    }
}

/// Host data -> GPU words (the element conversions of the storage table).
pub fn to_words(d: &CpuData, what: &str) -> Result<Vec<u32>> {
    Ok(match d {
        CpuData::F32(v) => v.iter().map(|x| x.to_bits()).collect(),
        // Bits copied as they are (no rounding): element i in half i % 2 of word i / 2.
        CpuData::F16(v) => pack_halves(v.iter().map(|x| x.to_bits())),
        CpuData::BF16(v) => pack_halves(v.iter().map(|x| x.to_bits())),
        CpuData::I32(v) => v.iter().map(|&x| x as u32).collect(),
        CpuData::I64(v) => {
            let mut out = Vec::with_capacity(v.len());
            for &x in v {
                if x < i32::MIN as i64 || x > i32::MAX as i64 {
                    return Err(gpu_err(format!(
                        "{what}: int64 value {x} does not fit the gpu device's 32-bit integer storage (range -2147483648..2147483647)"
                    )));
                }
                out.push(x as i32 as u32);
            }
            out
        }
        CpuData::U8(v) => v.iter().map(|&x| x as u32).collect(),
        // int8/int16: one sign-extended i32 word each, like int32.
        CpuData::I8(v) => v.iter().map(|&x| x as i32 as u32).collect(),
        CpuData::I16(v) => v.iter().map(|&x| x as i32 as u32).collect(),
        CpuData::Bool(v) => v.iter().map(|&x| x as u32).collect(),
        other => {
            check_dtype(other.dtype(), what)?;
            unreachable!()
        }
    })
}

/// 16-bit patterns packed two per word, the first in the low half.
fn pack_halves(h: impl Iterator<Item = u16>) -> Vec<u32> {
    let h: Vec<u16> = h.collect();
    h.chunks(2)
        .map(|c| c[0] as u32 | (c.get(1).copied().unwrap_or(0) as u32) << 16)
        .collect()
}

/// The first `len` 16-bit patterns of packed words.
fn unpack_halves(w: &[u32], len: usize) -> impl Iterator<Item = u16> + '_ {
    (0..len.min(2 * w.len())).map(move |i| (w[i / 2] >> (16 * (i % 2))) as u16)
}

/// GPU words -> `len` elements of host data of `dtype`.
pub fn from_words(w: &[u32], dtype: DType, len: usize) -> CpuData {
    match dtype {
        DType::F32 => CpuData::F32(w.iter().map(|&x| f32::from_bits(x)).collect()),
        DType::F16 => CpuData::F16(unpack_halves(w, len).map(half::f16::from_bits).collect()),
        DType::BF16 => CpuData::BF16(unpack_halves(w, len).map(half::bf16::from_bits).collect()),
        DType::I32 => CpuData::I32(w.iter().map(|&x| x as i32).collect()),
        DType::I64 => CpuData::I64(w.iter().map(|&x| x as i32 as i64).collect()),
        DType::U8 => CpuData::U8(w.iter().map(|&x| x as u8).collect()),
        DType::I8 => CpuData::I8(w.iter().map(|&x| x as i32 as i8).collect()),
        DType::I16 => CpuData::I16(w.iter().map(|&x| x as i32 as i16).collect()),
        DType::Bool => CpuData::Bool(w.iter().map(|&x| x != 0).collect()),
        _ => unreachable!("dtype {dtype} is never stored on the GPU"),
    }
}

/// Upload host data as GPU storage.
pub fn upload(d: &CpuData, what: &str) -> Result<GpuData> {
    check_dtype(d.dtype(), what)?;
    let c = ctx()?;
    let words = to_words(d, what)?;
    let buf = c.upload_words(&words)?;
    Ok(GpuData {
        buf,
        len: d.len(),
        dtype: d.dtype(),
    })
}

/// Download GPU storage to host data.
pub fn download(g: &GpuData) -> Result<CpuData> {
    let c = ctx()?;
    let w = c.read_words(&g.buf, words(g.len, g.dtype))?;
    Ok(from_words(&w, g.dtype, g.len))
}

/// Adapter description for ember.gpu.info().
pub fn info() -> Result<Vec<(String, String)>> {
    let c = ctx()?;
    let i = &c.info;
    let l = &c.limits;
    Ok(vec![
        ("name".into(), i.name.clone()),
        ("backend".into(), format!("{:?}", i.backend)),
        ("device_type".into(), format!("{:?}", i.device_type)),
        (
            "driver".into(),
            format!("{} {}", i.driver, i.driver_info).trim().to_string(),
        ),
        ("max_buffer_size".into(), l.max_buffer_size.to_string()),
        (
            "max_storage_buffer_binding_size".into(),
            l.max_storage_buffer_binding_size.to_string(),
        ),
        (
            "max_compute_workgroup_storage_size".into(),
            l.max_compute_workgroup_storage_size.to_string(),
        ),
        (
            "max_compute_invocations_per_workgroup".into(),
            l.max_compute_invocations_per_workgroup.to_string(),
        ),
        (
            "max_compute_workgroups_per_dimension".into(),
            l.max_compute_workgroups_per_dimension.to_string(),
        ),
        (
            "pipeline_cache_on_disk".into(),
            c.cache.is_some().to_string(),
        ),
    ])
}

/// Counters for ember.gpu.stats().
pub fn stats() -> Result<Vec<(&'static str, u64)>> {
    let c = ctx()?;
    let s = &c.stats;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(vec![
        ("buffers_created", g(&s.buffers_created)),
        ("buffers_reused", g(&s.buffers_reused)),
        ("bytes_created", g(&s.bytes_created)),
        ("pooled_bytes", c.pooled_bytes()),
        ("submits", g(&s.submits)),
        ("dispatches", g(&s.dispatches)),
        ("host_reads", g(&s.host_reads)),
        ("uploads", g(&s.uploads)),
        ("pipelines_compiled", g(&s.pipelines_compiled)),
        ("host_fallbacks", lock(&s.fallbacks).values().sum()),
    ])
}

/// How often each op ran through the host fallback (ember.gpu.fallbacks()).
pub fn fallbacks() -> Result<Vec<(String, u64)>> {
    let c = ctx()?;
    let m = lock(&c.stats.fallbacks);
    Ok(m.iter().map(|(k, v)| (k.clone(), *v)).collect())
}

/// Count one host fallback of `op`.
pub fn note_fallback(op: &str) {
    if let Ok(c) = ctx() {
        *lock(&c.stats.fallbacks).entry(op.to_string()).or_insert(0) += 1;
    }
}
/// Compile-time check: GPU storage keeps tensors and graph nodes Send + Sync
/// (the bindings release the GIL around ops, and optimizers use rayon).
#[allow(dead_code)]
fn _send_sync_check() {
    fn is<T: Send + Sync>() {}
    is::<::wgpu::Buffer>();
    is::<GpuData>();
    is::<crate::tensor::Tensor>();
    is::<crate::autograd::Node>();
}
