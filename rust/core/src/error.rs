//! One error type for the engine. Each variant maps to one Python exception
//! type in the bindings; messages name the op and the shapes/dtypes involved.

use thiserror::Error;

#[derive(Debug, Error, Clone)]
pub enum Error {
    /// Shape mismatch, bad layout, unsupported dtype for an op: RuntimeError.
    #[error("{0}")]
    Runtime(String),
    /// Index out of range: IndexError.
    #[error("{0}")]
    Index(String),
    /// Bad argument value: ValueError.
    #[error("{0}")]
    Value(String),
    /// Bad argument type: TypeError.
    #[error("{0}")]
    Type(String),
    /// Not implemented for this dtype/device combination: NotImplementedError.
    #[error("{0}")]
    NotImplemented(String),
}

pub type Result<T> = std::result::Result<T, Error>;

#[macro_export]
macro_rules! rt_err {
    ($($arg:tt)*) => { $crate::error::Error::Runtime(format!($($arg)*)) };
}
#[macro_export]
macro_rules! idx_err {
    ($($arg:tt)*) => { $crate::error::Error::Index(format!($($arg)*)) };
}
#[macro_export]
macro_rules! val_err {
    ($($arg:tt)*) => { $crate::error::Error::Value(format!($($arg)*)) };
}
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::Runtime(format!($($arg)*))) };
}
