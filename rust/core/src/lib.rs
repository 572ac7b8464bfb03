//! ember-core: strided tensors, CPU kernels and define-by-run autograd.
//! No Python here; rust/py binds it.

// Kernels are generic over every element type through `dispatch!`; for the
// bool/u8 instantiations clippy flags comparisons and casts that are
// meaningful for the other types.
#![allow(
    clippy::bool_comparison,
    clippy::unnecessary_cast,
    clippy::too_many_arguments,
    clippy::redundant_closure
)]

pub mod autograd;
pub mod backend;
pub mod cpu;
pub mod dtype;
pub mod error;
pub mod layout;
pub mod ops;
pub mod random;
pub mod storage;
pub mod tensor;
pub mod wgpu;

pub use dtype::{DType, Scalar};
pub use error::{Error, Result};
pub use storage::Device;
pub use tensor::Tensor;
