//! `service install|status|uninstall`: `run` as a systemd service, sandboxed, with the
//! secrets file's key held by systemd as a credential.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, Subcommand};
use desk_core::secrets::{FileKey, CREDENTIAL_NAME};

use super::Context;
use crate::error::CliError;

/// The unit's name (and the systemctl name it is managed by).
pub const UNIT_NAME: &str = "weixin-desk-cli.service";
/// Where `/healthz` and `/metrics` are served unless --listen says otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:9187";

#[derive(Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// Write the systemd unit that runs every enabled account (and make the secrets
    /// key if there is none yet); then `systemctl [--user] enable --now
    /// weixin-desk-cli`.
    #[command(after_help = "\
With --user: the unit goes to ~/.config/systemd/user, the key to \
~/.config/weixin-desk/secrets.key (owner-only), which `login` and the other commands \
find by themselves; `loginctl enable-linger` keeps it running after you log out. \
Without --user (as root): the unit goes to /etc/systemd/system and the key is \
encrypted for this machine with systemd-creds into /etc/credstore.encrypted \
(LoadCredentialEncrypted=); a plain owner-only key file is used where systemd-creds \
cannot encrypt. The unit is sandboxed (NoNewPrivileges, ProtectSystem=strict, \
ReadWritePaths= the data folder only, PrivateTmp) and watched (Type=notify, \
WatchdogSec).")]
    Install {
        /// A unit of your own user's systemd instead of the system's.
        #[arg(long)]
        user: bool,
        /// Where the service serves /healthz and /metrics.
        #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Replace an existing unit.
        #[arg(long)]
        force: bool,
    },
    /// Whether the unit is installed and what systemd says about it.
    Status {
        #[arg(long)]
        user: bool,
    },
    /// Stop and disable the service and remove the unit (the data and key stay).
    Uninstall {
        #[arg(long)]
        user: bool,
    },
}

pub fn service(ctx: &Context, args: ServiceArgs) -> Result<(), CliError> {
    match args.command {
        ServiceCommand::Install {
            user,
            listen,
            force,
        } => install(ctx, user, listen, force),
        ServiceCommand::Status { user } => status(user),
        ServiceCommand::Uninstall { user } => uninstall(user),
    }
}

fn unit_path(user: bool) -> Result<PathBuf, CliError> {
    if user {
        let config = config_dir()?;
        Ok(config.join("systemd/user").join(UNIT_NAME))
    } else {
        Ok(Path::new("/etc/systemd/system").join(UNIT_NAME))
    }
}

fn config_dir() -> Result<PathBuf, CliError> {
    dirs_config()
        .ok_or_else(|| CliError::Usage("no configuration folder ($HOME is not set)".into()))
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
fn dirs_config() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
}

/// The key file a user's commands find by themselves (see `secrets::find_key`).
pub fn default_key_file() -> Option<PathBuf> {
    dirs_config().map(|c| c.join("weixin-desk/secrets.key"))
}

/// How the unit gets the key.
enum Credential {
    Plain(PathBuf),
    Encrypted(PathBuf),
}

fn install(ctx: &Context, user: bool, listen: SocketAddr, force: bool) -> Result<(), CliError> {
    crate::monitor::check_listen_addr(listen, false)?;
    let unit = unit_path(user)?;
    if unit.exists() && !force {
        return Err(CliError::Usage(format!(
            "{} exists; `service uninstall{}` first, or --force",
            unit.display(),
            if user { " --user" } else { "" }
        )));
    }
    let credential = if user {
        let key = match &ctx.secrets_key_file {
            Some(path) => path.clone(),
            None => default_key_file().ok_or_else(|| CliError::Usage("$HOME is not set".into()))?,
        };
        if !key.exists() {
            FileKey::create_key_file(&key)?;
            println!("new key for the secrets file: {}", key.display());
        }
        // Refuses a key others can read before a unit names it.
        FileKey::from_key_file(&key)?;
        Credential::Plain(key)
    } else {
        system_credential(ctx)?
    };
    let exe =
        std::env::current_exe().map_err(|e| CliError::io("cannot find this program's path", e))?;
    let data = ctx.data_dir.root().canonicalize().map_err(|e| {
        CliError::io(
            format!("cannot resolve {}", ctx.data_dir.root().display()),
            e,
        )
    })?;
    let text = unit_text(&exe, &data, ctx.sim.as_deref(), listen, &credential, user);
    if let Some(parent) = unit.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| CliError::io(format!("cannot create {}", parent.display()), e))?;
    }
    std::fs::write(&unit, text)
        .map_err(|e| CliError::io(format!("cannot write {}", unit.display()), e))?;
    let scope = if user { " --user" } else { "" };
    println!("wrote {}", unit.display());
    println!("start it with: systemctl{scope} daemon-reload && systemctl{scope} enable --now weixin-desk-cli");
    Ok(())
}

/// For a system unit: the key encrypted for this machine by systemd-creds, or else an
/// owner-only key file under /etc/credstore.
fn system_credential(ctx: &Context) -> Result<Credential, CliError> {
    if let Some(key) = &ctx.secrets_key_file {
        FileKey::from_key_file(key)?;
        return Ok(Credential::Plain(key.clone()));
    }
    let encrypted = Path::new("/etc/credstore.encrypted").join(CREDENTIAL_NAME);
    if encrypted.exists() {
        return Ok(Credential::Encrypted(encrypted));
    }
    let plain = Path::new("/etc/credstore").join(CREDENTIAL_NAME);
    if !plain.exists() {
        FileKey::create_key_file(&plain)?;
    }
    std::fs::create_dir_all("/etc/credstore.encrypted")
        .map_err(|e| CliError::io("cannot create /etc/credstore.encrypted", e))?;
    let sealed = Command::new("systemd-creds")
        .args(["encrypt", "--name", CREDENTIAL_NAME])
        .arg(&plain)
        .arg(&encrypted)
        .status();
    if matches!(sealed, Ok(s) if s.success()) {
        let _ = std::fs::remove_file(&plain);
        println!("key encrypted for this machine: {}", encrypted.display());
        Ok(Credential::Encrypted(encrypted))
    } else {
        println!(
            "note: systemd-creds could not encrypt the key; it stays in {} (root only)",
            plain.display()
        );
        Ok(Credential::Plain(plain))
    }
}

fn unit_text(
    exe: &Path,
    data: &Path,
    sim: Option<&str>,
    listen: SocketAddr,
    credential: &Credential,
    user: bool,
) -> String {
    let mut exec = format!(
        "{} --data-dir {} --secrets file",
        quote(&exe.display().to_string()),
        quote(&data.display().to_string())
    );
    if let Some(sim) = sim {
        exec.push_str(&format!(" --sim {}", quote(sim)));
    }
    exec.push_str(&format!(" run --listen {listen}"));
    let credential = match credential {
        Credential::Plain(path) => format!("LoadCredential={CREDENTIAL_NAME}:{}", path.display()),
        Credential::Encrypted(path) => {
            format!(
                "LoadCredentialEncrypted={CREDENTIAL_NAME}:{}",
                path.display()
            )
        }
    };
    let wanted_by = if user {
        "default.target"
    } else {
        "multi-user.target"
    };
    format!(
        "\
# Written by `weixin-desk-cli service install`; `service uninstall` removes it.
[Unit]
Description=Weixin Desk, headless: every enabled WeChat bot account
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={exec}
{credential}
WatchdogSec=60
TimeoutStopSec=30
Restart=on-failure
RestartSec=10
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={data}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6

[Install]
WantedBy={wanted_by}
",
        data = data.display()
    )
}

/// Quotes a word for ExecStart= when it needs it (`%` is systemd's specifier sign).
fn quote(word: &str) -> String {
    let word = word.replace('%', "%%");
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:@+=%".contains(c))
    {
        word
    } else {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn systemctl(user: bool, args: &[&str]) -> Option<std::process::ExitStatus> {
    let mut cmd = Command::new("systemctl");
    if user {
        cmd.arg("--user");
    }
    cmd.args(args).status().ok()
}

fn status(user: bool) -> Result<(), CliError> {
    let unit = unit_path(user)?;
    if !unit.exists() {
        println!("not installed ({} does not exist)", unit.display());
        return Err(CliError::Outcome {
            message: "not installed".into(),
            code: 3,
        });
    }
    println!("installed: {}", unit.display());
    if systemctl(user, &["status", "--no-pager", UNIT_NAME]).is_none() {
        println!("(systemctl is not available here)");
    }
    Ok(())
}

fn uninstall(user: bool) -> Result<(), CliError> {
    let unit = unit_path(user)?;
    if !unit.exists() {
        println!("not installed");
        return Ok(());
    }
    // Best effort: where no systemd runs, there is nothing to stop.
    let _ = systemctl(user, &["disable", "--now", UNIT_NAME]);
    std::fs::remove_file(&unit)
        .map_err(|e| CliError::io(format!("cannot remove {}", unit.display()), e))?;
    let _ = systemctl(user, &["daemon-reload"]);
    println!(
        "removed {} (the data folder and the key are kept)",
        unit.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_exec_start() {
        assert_eq!(
            quote("/usr/bin/weixin-desk-cli"),
            "/usr/bin/weixin-desk-cli"
        );
        assert_eq!(quote("/srv/my data"), "\"/srv/my data\"");
        assert_eq!(quote("/srv/100%"), "/srv/100%%");
    }

    /// The system unit (encrypted credential) passes `systemd-analyze verify` without a
    /// remark (`./dev` installs systemd for the tool).
    #[test]
    fn the_system_unit_verifies() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let text = unit_text(
            &exe,
            tmp.path(),
            None,
            DEFAULT_LISTEN.parse().unwrap(),
            &Credential::Encrypted("/etc/credstore.encrypted/weixin-desk.key".into()),
            false,
        );
        assert!(
            text.contains("LoadCredentialEncrypted=weixin-desk.key:"),
            "{text}"
        );
        assert!(text.contains("WantedBy=multi-user.target"), "{text}");
        let unit = tmp.path().join(UNIT_NAME);
        std::fs::write(&unit, text).unwrap();
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit)
            .output()
            .expect("systemd-analyze (./dev installs systemd)");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{said}");
        assert_eq!(said.trim(), "", "systemd-analyze has remarks");
    }
}
