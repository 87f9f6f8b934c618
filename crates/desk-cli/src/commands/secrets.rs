//! `secrets`: a new key file, and moving every secret between the keyring and the
//! encrypted secrets file.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use desk_core::ai::provider::API_KEY_PROFILE;
use desk_core::secrets::{FileKey, FileStore, SecretKey, SecretStore};

use super::Context;
use crate::error::CliError;

#[derive(Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Write a new random key for the secrets file to PATH (owner-only; an existing
    /// file is never overwritten). Use it with --secrets-key-file or as the systemd
    /// credential weixin-desk.key.
    NewKey {
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// Move every secret (bot tokens, the AI provider's key) to the keyring or to the
    /// secrets file, from the other one. Each is read back from its new place before
    /// the old copy is deleted.
    Migrate {
        #[arg(long, value_enum)]
        to: Destination,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Destination {
    Keyring,
    File,
}

pub fn secrets(ctx: &Context, args: SecretsArgs) -> Result<(), CliError> {
    match args.command {
        SecretsCommand::NewKey { path } => {
            FileKey::create_key_file(&path)?;
            println!("new key written to {}", path.display());
            Ok(())
        }
        SecretsCommand::Migrate { to } => migrate(ctx, to),
    }
}

fn migrate(ctx: &Context, to: Destination) -> Result<(), CliError> {
    let choice = ctx.secrets_choice();
    let keyring = crate::secrets::open_keyring()?;
    let file = Arc::new(crate::secrets::open_file(&choice)?);
    let (from, into, from_name, into_name): (Arc<dyn SecretStore>, Arc<dyn SecretStore>, _, _) =
        match to {
            Destination::File => (
                keyring,
                file.clone(),
                "the keyring".to_owned(),
                file.path().display().to_string(),
            ),
            Destination::Keyring => (
                file.clone(),
                keyring,
                file.path().display().to_string(),
                "the keyring".to_owned(),
            ),
        };
    let names = secret_names(ctx, &file)?;
    let mut moved = Vec::new();
    for name in &names {
        let Some(value) = from.get(name)? else {
            continue;
        };
        into.set(name, &value)?;
        if into.get(name)?.as_ref() != Some(&value) {
            return Err(CliError::Usage(format!(
                "{name} did not read back from {into_name}; nothing was deleted from {from_name}"
            )));
        }
        moved.push(name);
    }
    // Only once every secret is safe in its new place.
    for name in &moved {
        from.delete(name)?;
    }
    if to == Destination::Keyring && file.keys()?.is_empty() {
        // An empty file would still make `--secrets auto` choose it.
        match std::fs::remove_file(file.path()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CliError::io("cannot remove the empty secrets file", e)),
        }
    }
    println!(
        "moved {} secret(s) from {from_name} to {into_name}",
        moved.len()
    );
    Ok(())
}

/// Every secret this data folder can have: each account's bot token and the AI key,
/// plus whatever else the file holds.
fn secret_names(ctx: &Context, file: &FileStore) -> Result<Vec<SecretKey>, CliError> {
    let mut names: Vec<SecretKey> = ctx
        .store()?
        .list_accounts()?
        .iter()
        .map(|a| SecretKey::bot_token(&a.account_id))
        .collect();
    names.push(SecretKey::ai_api_key(API_KEY_PROFILE));
    for key in file.keys()? {
        if let Some(name) = SecretKey::parse(&key) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    Ok(names)
}
