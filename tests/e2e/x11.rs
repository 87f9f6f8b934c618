//! Talking to the X server the way a window manager would: find the app's top-level
//! window and ask it to close (WM_DELETE_WINDOW), as the title bar's close button does.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, MapState, Window,
};
use x11rb::rust_connection::RustConnection;

pub struct Display {
    conn: RustConnection,
    root: Window,
}

impl Display {
    pub fn open() -> Display {
        let (conn, screen) = x11rb::connect(None).expect("connect to the X display");
        let root = conn.setup().roots[screen].root;
        Display { conn, root }
    }

    fn atom(&self, name: &str) -> u32 {
        self.conn
            .intern_atom(false, name.as_bytes())
            .expect("intern atom")
            .reply()
            .expect("atom reply")
            .atom
    }

    fn title(&self, window: Window) -> String {
        let utf8 = self.atom("UTF8_STRING");
        let net_name = self.atom("_NET_WM_NAME");
        for (property, kind) in [
            (net_name, utf8),
            (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
        ] {
            if let Ok(Ok(reply)) = self
                .conn
                .get_property(false, window, property, kind, 0, 256)
                .map(|c| c.reply())
            {
                if !reply.value.is_empty() {
                    return String::from_utf8_lossy(&reply.value).into_owned();
                }
            }
        }
        String::new()
    }

    /// Top-level windows with this title, and whether each is on screen.
    pub fn windows_titled(&self, title: &str) -> Vec<(Window, bool)> {
        let tree = self
            .conn
            .query_tree(self.root)
            .expect("query tree")
            .reply()
            .expect("tree reply");
        tree.children
            .into_iter()
            .filter(|&w| self.title(w) == title)
            .map(|w| {
                let viewable = self
                    .conn
                    .get_window_attributes(w)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state == MapState::VIEWABLE);
                (w, viewable)
            })
            .collect()
    }

    pub fn any_visible(&self, title: &str) -> bool {
        self.windows_titled(title)
            .iter()
            .any(|(_, visible)| *visible)
    }

    /// Sends WM_DELETE_WINDOW to every visible window with this title; returns how many.
    pub fn request_close(&self, title: &str) -> usize {
        let protocols = self.atom("WM_PROTOCOLS");
        let delete = self.atom("WM_DELETE_WINDOW");
        let targets: Vec<Window> = self
            .windows_titled(title)
            .into_iter()
            .filter(|(_, visible)| *visible)
            .map(|(w, _)| w)
            .collect();
        for &window in &targets {
            let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
            self.conn
                .send_event(false, window, EventMask::NO_EVENT, event)
                .expect("send close request");
        }
        self.conn.flush().expect("flush X requests");
        targets.len()
    }
}
