//! Rule files: the format (`file.rs`), Prometheus' checks (`validate.rs`), finding and
//! loading them (`load.rs`), and `osprey rules check` (`check.rs`).

pub mod check;
pub mod file;
pub mod load;
pub mod validate;
