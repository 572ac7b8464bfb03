//! ember-core: strided tensors, CPU kernels and define-by-run autograd.
//! No Python here; rust/py binds it.

pub mod autograd;
pub mod cpu;
pub mod dtype;
pub mod error;
pub mod layout;
pub mod ops;
pub mod random;
pub mod storage;
pub mod tensor;

pub use dtype::{DType, Scalar};
pub use error::{Error, Result};
pub use storage::Device;
pub use tensor::Tensor;
