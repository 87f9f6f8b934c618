//! How many heaps glibc's allocator keeps. By default it gives each thread that
//! allocates its own, up to eight per core; the engine's blocking pool, pollers and
//! printer then park megabytes of freed memory in each, which grows over a long run
//! (BENCHMARKS.md, fault soak). Two hold the work of the CLI and of the app's processes.

/// The variable glibc reads at start-up (the app also sets it for WebKit's processes).
pub const ARENA_VARIABLE: &str = "MALLOC_ARENA_MAX";
pub const ARENA_COUNT: i32 = 2;

/// Limits this process to [`ARENA_COUNT`] heaps unless the user set
/// [`ARENA_VARIABLE`] (glibc has read it already). Call it first thing in `main`,
/// before any thread starts.
pub fn limit_arenas() {
    if std::env::var_os(ARENA_VARIABLE).is_none() {
        set_arena_max(ARENA_COUNT);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(count: i32) {
    // SAFETY: mallopt only changes a tuning value of glibc's allocator.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, count) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_count: i32) {}
