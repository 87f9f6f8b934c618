//! A desktop window needs a display; without one, say so plainly instead of letting GTK
//! abort with a backtrace.

#[derive(Debug, PartialEq, Eq)]
pub struct NoDisplay;

impl std::fmt::Display for NoDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "no graphical display is available (neither DISPLAY nor WAYLAND_DISPLAY is set). \
             Start it from a desktop session, or use `weixin-desk-cli` to run headless.",
        )
    }
}

/// Checks the environment (read through `var`, so tests need not touch the real one).
pub fn check(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<(), NoDisplay> {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return Ok(());
    }
    let present = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    if present("DISPLAY") || present("WAYLAND_DISPLAY") {
        Ok(())
    } else {
        Err(NoDisplay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn needs_x11_or_wayland() {
        assert_eq!(check(env(&[])), Err(NoDisplay));
        assert_eq!(check(env(&[("DISPLAY", "")])), Err(NoDisplay));
        assert_eq!(check(env(&[("DISPLAY", ":99")])), Ok(()));
        assert_eq!(check(env(&[("WAYLAND_DISPLAY", "wayland-0")])), Ok(()));
        assert!(NoDisplay.to_string().contains("weixin-desk-cli"));
    }
}
