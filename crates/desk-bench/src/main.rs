//! `desk-bench`: runs the whole-system benchmarks against `ilink-sim` on loopback and
//! writes BENCHMARKS.md. `./dev bench` builds it in release mode and runs it inside a
//! session with a real keyring (the CLI keeps its bot tokens there).

use desk_bench::{
    app, app_media, external, figure, idle, machine, media, report, scale, soak, store_layer,
};

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use figure::Figure;

#[derive(Parser)]
#[command(about = "Measures Weixin Desk and writes BENCHMARKS.md")]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Runs of each figure (min/median/max are taken over them).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Where the results page goes (its figures also go to the same path with a .json
    /// extension).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Keep the sections of the existing page's .json that this run does not measure.
    #[arg(long)]
    update: bool,
    /// Only these scenarios (comma-separated): store, idle, scale, media, engine, ai,
    /// app, app-media, startup, soak.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seconds the CLI stays idle while measured.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// Messages in the store-layer history (one conversation holds a tenth).
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Accounts long-polling in the scale scenario.
    #[arg(long, default_value_t = 500)]
    scale_accounts: usize,
    /// Inbound messages in the scale scenario's burst.
    #[arg(long, default_value_t = 20_000)]
    burst: usize,
    /// The `ilink` media benchmark executable (`cargo bench -p ilink --bench media
    /// --no-run` prints it); without it the media comparison is skipped.
    #[arg(long, value_name = "PATH")]
    media_bench: Option<PathBuf>,
    /// Messages stored before the app's start-up is measured.
    #[arg(long, default_value_t = 200_000)]
    app_messages: usize,
    /// Seconds the fault soak runs.
    #[arg(long, default_value_t = 1_800)]
    soak_secs: u64,
    /// desk-core's engine benchmark executable (`cargo bench -p desk-core --bench
    /// engine --no-run` prints it).
    #[arg(long, value_name = "PATH")]
    engine_bench: Option<PathBuf>,
    /// desk-core's AI latency benchmark executable.
    #[arg(long, value_name = "PATH")]
    ai_bench: Option<PathBuf>,
    /// The command line to print on the page.
    #[arg(long, default_value = "./dev bench")]
    command: String,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// Serve an emulator on a free loopback port until stdin closes (the soak runs it
    /// in its own process).
    #[command(hide = true)]
    Sim,
    /// Run the fault soak in this process and print its report as JSON (the page's run
    /// uses a fresh process, so earlier scenarios do not weigh on its memory figures).
    #[command(hide = true)]
    Soak {
        #[arg(long)]
        secs: u64,
    },
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if matches!(args.mode, Some(Mode::Soak { .. })) {
        // The soak runs the engine in this process: with the heaps the CLI keeps.
        desk_core::allocator::limit_arenas();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("desk-bench: no async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match args.mode {
        Some(Mode::Sim) => {
            return match runtime.block_on(soak::serve_sim()) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("desk-bench sim: {e}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Some(Mode::Soak { secs }) => return soak_child(&runtime, secs),
        None => {}
    }
    // Taken before measuring: the tree may move on while a long run goes (the
    // binaries were built from it as it was now).
    let (load_at_start, started, revision) = (
        machine::load_average(),
        machine::today(),
        machine::revision(),
    );
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let mut figures: Vec<Figure> = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    // A scenario's figures, or why its section could not be measured.
    let mut record = |section: &str, result: Result<Vec<Figure>, String>| match result {
        Ok(found) => {
            for figure in &found {
                print_figure(figure);
            }
            figures.extend(found);
        }
        Err(why) => {
            eprintln!("desk-bench: {section}: {why}");
            skipped.push((section.to_owned(), why));
        }
    };
    if wanted("store") {
        eprintln!("store layer: filling {} messages…", args.messages);
        let sizes = store_layer::Sizes {
            total: args.messages,
            big_conversation: args.messages / 10,
        };
        record(store_layer::SECTION, store_layer::run(&sizes, args.runs));
    }
    if wanted("idle") {
        let mut both = Ok(Vec::new());
        for accounts in [10, 100] {
            eprintln!(
                "idle CLI: {accounts} accounts for {} s × {}…",
                args.idle_secs, args.runs
            );
            let plan = idle::Plan {
                accounts,
                idle: Duration::from_secs(args.idle_secs),
                runs: args.runs,
            };
            both = both.and_then(|mut so_far: Vec<Figure>| {
                so_far.extend(runtime.block_on(idle::run(&plan))?);
                Ok(so_far)
            });
        }
        record(idle::SECTION, both);
    }
    if wanted("scale") {
        eprintln!(
            "scale: {} accounts, burst of {} × {}…",
            args.scale_accounts, args.burst, args.runs
        );
        let plan = scale::Plan {
            accounts: args.scale_accounts,
            messages: args.burst,
            runs: args.runs,
        };
        let burst = runtime.block_on(scale::run(&plan));
        eprintln!("scale: 10 accounts at 50 msg/s × {}…", args.runs);
        let steady = scale::SteadyPlan {
            accounts: 10,
            per_second: 50,
            messages: 500,
            runs: args.runs,
        };
        let both = burst.and_then(|mut so_far| {
            so_far.extend(runtime.block_on(scale::steady(&steady))?);
            Ok(so_far)
        });
        record(scale::SECTION, both);
    }
    if wanted("media") {
        match &args.media_bench {
            Some(bench) => {
                eprintln!("media pipeline: {} runs…", args.runs);
                record(media::SECTION, media::run(bench, args.runs));
            }
            None => record(
                media::SECTION,
                Err("no --media-bench executable given".into()),
            ),
        }
    }
    for (name, section, program) in [
        ("engine", "Engine (in process)", &args.engine_bench),
        (
            "ai",
            "AI reply overhead (instant provider stub)",
            &args.ai_bench,
        ),
    ] {
        if !wanted(name) {
            continue;
        }
        match program {
            Some(program) => {
                eprintln!("{section}: {} runs…", args.runs);
                record(section, external::run(section, program, args.runs));
            }
            None => record(section, Err(format!("no --{name}-bench executable given"))),
        }
    }
    let app_plan = app::Plan {
        accounts: 10,
        idle: Duration::from_secs(args.idle_secs),
        runs: args.runs,
        messages: args.app_messages,
    };
    if wanted("app") {
        eprintln!("desktop app footprint: 10 accounts, window open and in the tray…");
        record(
            "Desktop app footprint",
            runtime.block_on(app::footprint(&app_plan)),
        );
    }
    if wanted("app-media") {
        eprintln!("desktop app: the web process with a video and 50 pictures shown…");
        record(
            "Desktop app media",
            runtime.block_on(app_media::previews(&app_plan)),
        );
    }
    if wanted("startup") {
        eprintln!("desktop app start-up with {} messages…", args.app_messages);
        record(
            "Desktop app start-up",
            runtime.block_on(app::startup(&app_plan)),
        );
    }
    if wanted("soak") {
        eprintln!("fault soak: {} s…", args.soak_secs);
        record(SOAK_SECTION, soak_figures(args.soak_secs));
    }
    let stamp = report::Stamp {
        date: started,
        revision,
        runs: args.runs,
        load: (load_at_start, machine::load_average()),
    };
    let mut results = report::Results::of_run(figures, skipped, &stamp);
    let json_path = args.out.with_extension("json");
    if args.update {
        match std::fs::read(&json_path) {
            Ok(bytes) => match serde_json::from_slice::<report::Results>(&bytes) {
                Ok(earlier) => results = earlier.updated_with(results),
                Err(e) => {
                    eprintln!("desk-bench: {} is not readable: {e}", json_path.display());
                    return std::process::ExitCode::FAILURE;
                }
            },
            Err(e) => eprintln!(
                "desk-bench: no earlier figures in {} ({e}); writing this run's only",
                json_path.display()
            ),
        }
    }
    let machine = machine::describe();
    let page = report::Page {
        machine: &machine,
        command: &args.command,
        results: &results,
    }
    .markdown();
    let json = serde_json::to_string_pretty(&results).expect("figures serialise");
    if let Err(e) = std::fs::write(&args.out, page).and_then(|()| std::fs::write(&json_path, json))
    {
        eprintln!("desk-bench: cannot write {}: {e}", args.out.display());
        return std::process::ExitCode::FAILURE;
    }
    eprintln!("wrote {}", args.out.display());
    std::process::ExitCode::SUCCESS
}

fn print_figure(figure: &Figure) {
    let Some(s) = figure.summary() else { return };
    let verdict = match figure.met() {
        Some(true) => " (target met)",
        Some(false) => " (TARGET MISSED)",
        None => "",
    };
    println!(
        "{} — {}: min {} / median {} / max {} {}{verdict}",
        figure.section,
        figure.name,
        figure::number(s.min),
        figure::number(s.median),
        figure::number(s.max),
        figure.unit
    );
}

/// One soak run (it is long): its counts as figures, and a failure if a promise broke.
const SOAK_SECTION: &str = "Fault soak (one run)";

fn soak_child(runtime: &tokio::runtime::Runtime, seconds: u64) -> std::process::ExitCode {
    let result = std::env::current_exe()
        .map_err(|e| e.to_string())
        .and_then(|program| {
            let config = soak::SoakConfig::new(program, Duration::from_secs(seconds));
            runtime.block_on(soak::run(&config))
        });
    match result.and_then(|report| serde_json::to_string(&report).map_err(|e| e.to_string())) {
        Ok(json) => {
            println!("{json}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("desk-bench soak: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn soak_figures(seconds: u64) -> Result<Vec<Figure>, String> {
    let program = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = std::process::Command::new(program)
        .args(["soak", "--secs", &seconds.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the soak: {e}"))?;
    if !output.status.success() {
        return Err(format!("the soak stopped with {}", output.status));
    }
    let report: soak::SoakReport =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("the soak's report: {e}"))?;
    for (reason, count) in &report.failed_reasons {
        eprintln!("fault soak: {count} sends failed: {reason}");
    }
    let problems = report.problems();
    if !problems.is_empty() {
        return Err(format!("the soak failed: {}", problems.join("; ")));
    }
    const SECTION: &str = SOAK_SECTION;
    let one = |name: String, unit: &'static str, value: f64| {
        let mut figure = Figure::new(SECTION, name, unit);
        figure.samples.push(value);
        figure
    };
    Ok(vec![
        one(
            format!("Inbound messages injected, each stored exactly once ({seconds} s)"),
            "msgs",
            report.injected as f64,
        ),
        one(
            "Sends delivered exactly once".into(),
            "msgs",
            report.delivered as f64,
        ),
        one(
            "Sends failed with a reason".into(),
            "msgs",
            report.failed as f64,
        ),
        one(
            "Faults fired by the emulator".into(),
            "faults",
            report.faults_fired as f64,
        ),
        one(
            "AI replies, none answering a message twice".into(),
            "msgs",
            report.ai_replies as f64,
        ),
        one(
            "AI provider requests failed on purpose".into(),
            "requests",
            report.ai_failed_on_purpose as f64,
        ),
        one(
            "RSS after warm-up".into(),
            "MiB",
            report.rss_after_warm_up_mib,
        ),
        one(
            "RSS at the end (≤ 1.2× after warm-up)".into(),
            "MiB",
            report.rss_at_end_mib,
        )
        .target(figure::Target::AtMost(1.2 * report.rss_after_warm_up_mib)),
    ])
}
