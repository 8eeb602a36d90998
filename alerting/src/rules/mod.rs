//! Rule files: the format and Prometheus' checks.

pub mod file;
pub mod load;
pub mod validate;
