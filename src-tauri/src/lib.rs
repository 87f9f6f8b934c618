//! The desktop shell: window, tray, IPC and plugin wiring around `desk-core`.
//! It holds no business logic; everything stateful lives in the engine.

mod autostart;
mod backend;
mod display;
mod error;
mod events;
pub mod first_paint;
mod i18n;
pub mod ipc;
pub mod launch;
mod light;
mod media_scheme;
mod media_stream;
mod notify;
mod prefs;
mod secrets;
mod startup;
mod state;
mod tray;
mod unread;
mod window;

use std::process::ExitCode;

use tauri::Manager;

pub use error::{ErrorCode, IpcError};

/// Starts the app: checks for a display, builds the runtime the app owns, runs Tauri.
pub fn main_entry() -> ExitCode {
    // Before any thread starts: WebKit's processes read them when the window is built.
    light::apply();
    init_tracing();
    if let Err(problem) = display::check(|name| std::env::var_os(name)) {
        eprintln!("weixin-desk: {problem}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("weixin-desk")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("weixin-desk: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    tauri::async_runtime::set(runtime.handle().clone());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match launch::mode_from(&args, std::env::var(launch::SIM_ENV).ok()) {
        Ok(mode) => mode,
        Err(problem) => {
            eprintln!("weixin-desk: {problem}");
            return ExitCode::from(2);
        }
    };
    match run(mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("weixin-desk: {err}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEIXIN_DESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

fn run(mode: launch::Mode) -> Result<(), Box<dyn std::error::Error>> {
    let specta = ipc::specta_builder();
    let mut builder = tauri::Builder::default();
    if mode == launch::Mode::Normal {
        // Must be first: a second launch shows the running instance instead. The sandbox
        // and emulator runs have data of their own and may run beside the real app.
        builder = builder.plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            window::show(app);
        }));
    }
    let app = media_scheme::register(builder)
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        // Rust-side only: no capability grants the window any dialog command.
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .invoke_handler(specta.invoke_handler())
        .setup(move |app| {
            specta.mount_events(app);
            let state = state::AppState::open(mode)?;
            let locale = state.locale();
            let start_minimised = state.prefs().start_minimised;
            app.manage(state);
            // Started into the tray, the app builds no window (and no web process);
            // otherwise the window comes first, so WebKit starts while the rest does.
            if !start_minimised {
                window::open_at_start(app.handle());
            }
            tray::create(app.handle(), locale)?;
            startup::begin(app.handle().clone());
            Ok(())
        })
        .on_window_event(window::on_event)
        .build(tauri::generate_context!())?;
    app.run(|_, event| {
        // Closing the window hides the app to the tray; only Quit (an exit with a
        // code) ends it.
        if let tauri::RunEvent::ExitRequested {
            code: None, api, ..
        } = event
        {
            api.prevent_exit();
        }
    });
    Ok(())
}
