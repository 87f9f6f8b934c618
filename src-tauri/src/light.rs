//! What keeps the window light on Linux: variables WebKit's processes read when they
//! start. `main_entry` sets them before any thread starts, each one only when the user
//! has not set it. The figures are in BENCHMARKS.md (desktop app, window open).

/// Keeps WebKit's GPU compositing on (the other settings can be undone one by one by
/// setting their variable).
pub const USE_GPU: &str = "WEIXIN_DESK_GPU";
pub const NO_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
pub const JIT: &str = "JSC_useJIT";
pub const ARENAS: &str = desk_core::allocator::ARENA_VARIABLE;
pub const NO_GTK_GL: &str = "GDK_GL";
pub const NO_DMABUF: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// The variables to set, with their values.
///
/// - Compositing off: on Mesa it costs the web process about 55 MiB (the GL driver's
///   heap) and start-up time, for a window of text and pictures.
/// - JavaScriptCore's JIT off: its compiled code and compiler pages cost the web process
///   about 8 MiB; the window's script is small and event-driven, and the interpreter
///   paints 200,000 stored messages' first page as fast (BENCHMARKS.md, first paint).
/// - Two allocator arenas, in every process of the app.
/// - With compositing off, GTK's own GL and WebKit's DMA-BUF renderer (compositing's
///   path to the screen) are off too: the app's process loads less GL. (Naming the GPU
///   in `WEBKIT_WEB_RENDER_DEVICE_FILE` would spare it EGL entirely, but WebKit then
///   stops following a dark system theme.)
pub fn variables(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Vec<(&'static str, String)> {
    if !cfg!(target_os = "linux") {
        return Vec::new();
    }
    let mut set = Vec::new();
    if var(NO_COMPOSITING).is_none() && var(USE_GPU).is_none() {
        set.push((NO_COMPOSITING, "1".to_owned()));
        for (name, value) in [(NO_GTK_GL, "disable"), (NO_DMABUF, "1")] {
            if var(name).is_none() {
                set.push((name, value.to_owned()));
            }
        }
    }
    if var(JIT).is_none() {
        set.push((JIT, "0".to_owned()));
    }
    if var(ARENAS).is_none() {
        set.push((ARENAS, desk_core::allocator::ARENA_COUNT.to_string()));
    }
    set
}

/// Sets the variables for the processes WebKit starts, and the arena count for this
/// process too (its allocator read the environment before `main`).
pub fn apply() {
    desk_core::allocator::limit_arenas();
    for (name, value) in variables(|name| std::env::var_os(name)) {
        std::env::set_var(name, value);
    }
}

#[cfg(all(test, target_os = "linux"))]
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

    fn names(set: &[(&'static str, String)]) -> Vec<&'static str> {
        set.iter().map(|(name, _)| *name).collect()
    }

    #[test]
    fn sets_each_when_the_user_set_none() {
        let set = variables(env(&[]));
        assert_eq!(
            set,
            vec![
                (NO_COMPOSITING, "1".to_owned()),
                (NO_GTK_GL, "disable".to_owned()),
                (NO_DMABUF, "1".to_owned()),
                (JIT, "0".to_owned()),
                (ARENAS, "2".to_owned())
            ]
        );
    }

    #[test]
    fn leaves_each_variable_the_user_set() {
        let names_with = |pairs| names(&variables(env(pairs)));
        // With the GPU kept, none of the GL settings is touched.
        assert_eq!(names_with(&[(USE_GPU, "1")]), vec![JIT, ARENAS]);
        assert_eq!(names_with(&[(NO_COMPOSITING, "0")]), vec![JIT, ARENAS]);
        let gl = [NO_COMPOSITING, NO_GTK_GL, NO_DMABUF];
        assert_eq!(names_with(&[(JIT, "1")]), [&gl[..], &[ARENAS]].concat());
        assert_eq!(names_with(&[(ARENAS, "8")]), [&gl[..], &[JIT]].concat());
        assert_eq!(
            names_with(&[(NO_GTK_GL, "")]),
            vec![NO_COMPOSITING, NO_DMABUF, JIT, ARENAS]
        );
        assert_eq!(
            names_with(&[(NO_DMABUF, "0")]),
            vec![NO_COMPOSITING, NO_GTK_GL, JIT, ARENAS]
        );
    }
}
