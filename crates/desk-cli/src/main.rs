//! `weixin-desk-cli`: the same engine and data directory as the desktop app, headless.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use desk_core::{DataDir, Locale, Store};

#[derive(Parser)]
#[command(name = "weixin-desk-cli", version, about = "Weixin Desk, headless")]
struct Cli {
    /// Data directory (default: the desktop app's, $XDG_DATA_HOME/weixin-desk).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the version, the data directory and the interface language.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("weixin-desk-cli: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), desk_core::CoreError> {
    let data_dir = match cli.data_dir {
        Some(dir) => DataDir::at(dir)?,
        None => DataDir::default_for_user()?,
    };
    let store = Store::open(&data_dir.database())?;
    match cli.command {
        Command::Info { json } => {
            let system = std::env::var("LANG").ok();
            let locale = Locale::resolve(store.saved_locale()?, system.as_deref());
            if json {
                let info = serde_json::json!({
                    "version": desk_core::VERSION,
                    "data_dir": data_dir.root(),
                    "locale": locale,
                    "schema_version": store.schema_version()?,
                });
                println!("{info}");
            } else {
                println!("Weixin Desk {}", desk_core::VERSION);
                println!("data directory: {}", data_dir.root().display());
                println!("language: {}", locale.tag());
            }
        }
    }
    Ok(())
}
