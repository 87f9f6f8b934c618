//! "Start when I log in": an XDG autostart entry (`~/.config/autostart`), which every
//! freedesktop session honours.

use std::path::PathBuf;

const ENTRY_NAME: &str = "weixin-desk.desktop";

fn entry_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("autostart").join(ENTRY_NAME))
}

/// Writes or removes the entry; failures are logged, the preference is still saved.
pub fn apply(enabled: bool) {
    let Some(path) = entry_path() else {
        return;
    };
    let result = if enabled {
        let exe = std::env::current_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "weixin-desk".to_owned());
        path.parent()
            .map(std::fs::create_dir_all)
            .transpose()
            .and_then(|_| std::fs::write(&path, entry(&exe)))
    } else {
        match std::fs::remove_file(&path) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    };
    if let Err(err) = result {
        tracing::warn!(%err, path = %path.display(), "could not change the autostart entry");
    }
}

fn entry(exe: &str) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=Weixin Desk\nExec=\"{exe}\"\nX-GNOME-Autostart-enabled=true\n"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_runs_the_binary() {
        let text = super::entry("/usr/bin/weixin-desk");
        assert!(text.starts_with("[Desktop Entry]\n"));
        assert!(text.contains("Exec=\"/usr/bin/weixin-desk\"\n"));
    }
}
