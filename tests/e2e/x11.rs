//! Talking to the X server the way a window manager would: find the app's top-level
//! window and ask it to close (WM_DELETE_WINDOW), as the title bar's close button does.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, InputFocus, MapState, Window,
    KEY_PRESS_EVENT, KEY_RELEASE_EVENT,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

/// Keysyms for the keys tests press besides text.
pub const RETURN: u32 = 0xff0d;
pub const CONTROL_L: u32 = 0xffe3;
const SHIFT_L: u32 = 0xffe1;

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
            .filter(|&w| same_window_title(&self.title(w), title))
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

    /// The titles of the top-level windows on screen.
    pub fn visible_titles(&self) -> Vec<String> {
        let tree = self
            .conn
            .query_tree(self.root)
            .expect("query tree")
            .reply()
            .expect("tree reply");
        tree.children
            .into_iter()
            .filter(|&w| {
                self.conn
                    .get_window_attributes(w)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state == MapState::VIEWABLE)
            })
            .map(|w| self.title(w))
            .collect()
    }

    pub fn any_visible(&self, title: &str) -> bool {
        self.windows_titled(title)
            .iter()
            .any(|(_, visible)| *visible)
    }

    /// Gives the keyboard to `window` (there is no window manager under Xvfb).
    pub fn focus(&self, window: Window) {
        self.conn
            .set_input_focus(InputFocus::PARENT, window, x11rb::CURRENT_TIME)
            .expect("set input focus");
        self.conn.flush().expect("flush X requests");
    }

    /// The keycode for `keysym`, and whether Shift is needed for it.
    fn keycode(&self, keysym: u32) -> (u8, bool) {
        let setup = self.conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let map = self
            .conn
            .get_keyboard_mapping(min, max - min + 1)
            .expect("keyboard mapping")
            .reply()
            .expect("keyboard mapping reply");
        let per = usize::from(map.keysyms_per_keycode);
        for (i, syms) in map.keysyms.chunks(per).enumerate() {
            let code = min + i as u8;
            if syms.first() == Some(&keysym) {
                return (code, false);
            }
            if syms.get(1) == Some(&keysym) {
                return (code, true);
            }
        }
        panic!("no key for keysym {keysym:#x}");
    }

    fn fake(&self, press: bool, code: u8) {
        let kind = if press {
            KEY_PRESS_EVENT
        } else {
            KEY_RELEASE_EVENT
        };
        self.conn
            .xtest_fake_input(kind, code, x11rb::CURRENT_TIME, self.root, 0, 0, 0)
            .expect("fake key");
    }

    /// Presses and releases one key (a keysym), holding `modifiers` (keysyms).
    pub fn key(&self, keysym: u32, modifiers: &[u32]) {
        let (code, shift) = self.keycode(keysym);
        let mut held: Vec<u8> = modifiers.iter().map(|&m| self.keycode(m).0).collect();
        if shift {
            held.push(self.keycode(SHIFT_L).0);
        }
        held.iter().for_each(|&m| self.fake(true, m));
        self.fake(true, code);
        self.fake(false, code);
        held.iter().rev().for_each(|&m| self.fake(false, m));
        self.conn.flush().expect("flush X requests");
        std::thread::sleep(std::time::Duration::from_millis(15));
    }

    /// Types ASCII text key by key, as a keyboard would.
    pub fn type_text(&self, text: &str) {
        for c in text.chars() {
            assert!(c.is_ascii_graphic() || c == ' ', "cannot type {c:?}");
            self.key(u32::from(c), &[]);
        }
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

/// Whether a window shown as `shown` is the one titled `wanted`: the app's title may lead
/// with its unread total, "(3) Weixin Desk".
fn same_window_title(shown: &str, wanted: &str) -> bool {
    shown == wanted
        || shown
            .strip_prefix('(')
            .and_then(|rest| rest.split_once(") "))
            .is_some_and(|(count, rest)| {
                rest == wanted
                    && count
                        .trim_end_matches('+')
                        .chars()
                        .all(|c| c.is_ascii_digit())
            })
}
