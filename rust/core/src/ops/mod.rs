//! Tensor operations with their autograd rules.

pub mod advindex;
pub mod complex;
pub mod complex_index;
pub mod complex_math;
pub mod create;
pub mod device;
pub mod elementwise;
pub mod extra;
pub mod fft;
pub mod fft_real;
pub mod index;
pub mod inplace;
pub mod linalg;
pub mod linalg_decomp;
pub mod nn;
pub mod optim;
pub mod reduce;
pub mod scan;
pub mod shape;
pub mod sort;
pub mod special;
pub mod unique;

pub use elementwise::{Binary, Unary};
