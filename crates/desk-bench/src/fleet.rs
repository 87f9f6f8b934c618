//! An emulator with many bots, each filed as an account in one data directory through
//! the CLI (tokens in the OS keyring): the setting for the headless scenarios.

use std::path::{Path, PathBuf};

use ilink_sim::{BotInfo, Sim, SimConfig};

use crate::cli;

pub struct Fleet {
    pub sim: Sim,
    pub url: String,
    pub bots: Vec<BotInfo>,
    pub cli: PathBuf,
    /// The temporary folder holding the data directory (removed with the fleet).
    home: tempfile::TempDir,
    data: PathBuf,
}

/// Accounts are filed by this many `add-account` processes at once.
const PARALLEL_ADDS: usize = 4;

impl Fleet {
    /// Accounts filed in a data directory of a fresh temporary folder.
    pub async fn new(accounts: usize) -> Result<Fleet, String> {
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = home.path().join("data");
        Fleet::with_data(accounts, home, data).await
    }

    /// Accounts filed in `data` (inside `home`, which the fleet keeps until dropped).
    pub async fn with_data(
        accounts: usize,
        home: tempfile::TempDir,
        data: PathBuf,
    ) -> Result<Fleet, String> {
        let cli = cli::binary()?;
        let sim = Sim::start(SimConfig::default())
            .await
            .map_err(|e| e.to_string())?;
        let url = sim.base_url().to_string();
        let bots: Vec<BotInfo> = (0..accounts).map(|_| sim.create_bot()).collect();
        let (cli_path, data_path, url_copy, list) =
            (cli.clone(), data.clone(), url.clone(), bots.clone());
        tokio::task::spawn_blocking(move || add_all(&cli_path, &data_path, &url_copy, &list))
            .await
            .map_err(|e| e.to_string())??;
        Ok(Fleet {
            sim,
            url,
            bots,
            cli,
            home,
            data,
        })
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The temporary folder the data directory lives in.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `weixin-desk-cli run` over every account, once all are online.
    pub async fn start_cli(&self) -> Result<cli::Running, String> {
        let running = cli::Running::start(&self.cli, self.data(), &self.url)?;
        let count = self.bots.len();
        tokio::task::spawn_blocking(move || {
            running
                .wait_online(count, std::time::Duration::from_secs(120))
                .map(|()| running)
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

fn add_all(cli: &Path, data: &Path, url: &str, bots: &[BotInfo]) -> Result<(), String> {
    let chunk = bots.len().div_ceil(PARALLEL_ADDS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = bots
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .try_for_each(|bot| cli::add_account(cli, data, url, bot))
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| "an add-account worker panicked".to_owned())?
        })
    })
}
