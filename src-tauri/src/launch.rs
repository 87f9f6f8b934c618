//! How the app was asked to run: against the real iLink service, in the sandbox (an
//! in-process emulator with its demo timeline), or against an emulator someone else runs
//! (`--sim URL` or `WEIXIN_DESK_SIM`, for end-to-end tests and trying things by hand).

use serde::Serialize;

/// The environment variable that points the app at an emulator, like `--sim URL`.
pub const SIM_ENV: &str = "WEIXIN_DESK_SIM";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// The real service; accounts and data in the user's data folder.
    Normal,
    /// An in-process `ilink-sim --demo` on loopback, with its own throwaway data folder.
    Sandbox,
    /// An emulator at `url` (its API base); logins go there, data in the usual folder.
    Sim { url: String },
}

/// Reads the mode from the command line (program name excluded) and the environment.
/// Unknown arguments are ignored with a warning, so launchers adding their own flags
/// do not stop the app.
pub fn mode_from(args: &[String], env_sim: Option<String>) -> Result<Mode, String> {
    let mut mode = env_sim
        .filter(|url| !url.trim().is_empty())
        .map(|url| Mode::Sim { url });
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--sandbox" {
            mode = Some(Mode::Sandbox);
        } else if arg == "--sim" {
            let url = iter
                .next()
                .ok_or("--sim needs the emulator's URL, e.g. --sim http://127.0.0.1:8787/")?;
            mode = Some(Mode::Sim { url: url.clone() });
        } else if let Some(url) = arg.strip_prefix("--sim=") {
            mode = Some(Mode::Sim {
                url: url.to_owned(),
            });
        } else {
            tracing::warn!(argument = %arg, "ignoring an unknown argument");
        }
    }
    match mode {
        Some(Mode::Sim { url }) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("--sim expects an http(s) URL, got {url:?}"));
            }
            Ok(Mode::Sim { url })
        }
        Some(other) => Ok(other),
        None => Ok(Mode::Normal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_each_mode() {
        assert_eq!(mode_from(&args(&[]), None), Ok(Mode::Normal));
        assert_eq!(mode_from(&args(&["--sandbox"]), None), Ok(Mode::Sandbox));
        let sim = Mode::Sim {
            url: "http://127.0.0.1:9/".into(),
        };
        assert_eq!(
            mode_from(&args(&["--sim", "http://127.0.0.1:9/"]), None),
            Ok(sim.clone())
        );
        assert_eq!(
            mode_from(&args(&["--sim=http://127.0.0.1:9/"]), None),
            Ok(sim.clone())
        );
        assert_eq!(
            mode_from(&args(&[]), Some("http://127.0.0.1:9/".into())),
            Ok(sim)
        );
        // A flag beats the environment; blank environment values count as unset.
        assert_eq!(
            mode_from(&args(&["--sandbox"]), Some("http://x/".into())),
            Ok(Mode::Sandbox)
        );
        assert_eq!(
            mode_from(&args(&["--other"]), Some(" ".into())),
            Ok(Mode::Normal)
        );
    }

    #[test]
    fn rejects_a_missing_or_odd_url() {
        assert!(mode_from(&args(&["--sim"]), None)
            .unwrap_err()
            .contains("URL"));
        assert!(mode_from(&args(&["--sim", "ftp://x"]), None)
            .unwrap_err()
            .contains("ftp://x"));
    }
}
