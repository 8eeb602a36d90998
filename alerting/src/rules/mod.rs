//! Rule files: the format (`file.rs`), Prometheus' checks (`validate.rs`), finding and
//! loading them (`load.rs`), `osprey rules check` (`check.rs`), and groups written
//! through the API into the tenant's rules directory (`write.rs`).

pub mod check;
pub mod file;
pub mod load;
pub mod validate;
pub mod write;
