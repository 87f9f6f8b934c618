//! The whole-system benchmarks behind BENCHMARKS.md and the fault soak, as a library so
//! the test suite runs the soak's short version through the same code.

pub mod ai_stub;
pub mod app;
pub mod app_media;
pub mod cli;
pub mod external;
pub mod figure;
pub mod fleet;
pub mod idle;
pub mod machine;
pub mod media;
pub mod procfs;
pub mod report;
pub mod scale;
pub mod soak;
pub mod store_layer;
