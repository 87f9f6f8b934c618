//! The fault soak's short version (60 s; `WEIXIN_DESK_SOAK_SECS` changes it): the engine
//! under emulator faults loses nothing and duplicates nothing.

use std::time::Duration;

use desk_bench::soak::{run, SoakConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_loses_and_duplicates_nothing_under_faults() {
    let seconds = std::env::var("WEIXIN_DESK_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let program = env!("CARGO_BIN_EXE_desk-bench").into();
    let report = run(&SoakConfig::new(program, Duration::from_secs(seconds)))
        .await
        .expect("the soak ran");
    eprintln!("{report:#?}");
    assert!(report.injected > 0 && report.sends > 0, "{report:?}");
    assert_eq!(report.problems(), Vec::<String>::new());
}
