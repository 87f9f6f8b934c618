//! A drag source speaking XDND (version 5) to the app's window, as a file manager does
//! when files are dragged onto it: enter, position, drop, then the file list handed
//! over through the XdndSelection as `text/uri-list`. The app sees a real native drop.

use std::path::Path;
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, PropMode,
    SelectionNotifyEvent, SelectionRequestEvent, WindowClass, SELECTION_NOTIFY_EVENT,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

const XDND_VERSION: u32 = 5;

struct Atoms {
    aware: u32,
    selection: u32,
    enter: u32,
    position: u32,
    status: u32,
    drop: u32,
    finished: u32,
    action_copy: u32,
    uri_list: u32,
}

fn atom(conn: &RustConnection, name: &str) -> u32 {
    conn.intern_atom(false, name.as_bytes())
        .unwrap()
        .reply()
        .unwrap()
        .atom
}

/// A drag in progress over the app's window (its overlay shows), from a window of our
/// own that holds the file list.
pub struct Drag {
    conn: RustConnection,
    atoms: Atoms,
    source: u32,
    target: u32,
    uris: String,
}

impl Drag {
    /// Enters the window titled `title` and moves to its middle; returns once the
    /// window has said it would take the drop. Panics when it does not.
    pub fn begin(title: &str, files: &[&Path]) -> Drag {
        let (conn, screen) = x11rb::connect(None).expect("connect to the X display");
        let root = conn.setup().roots[screen].root;
        let atoms = Atoms {
            aware: atom(&conn, "XdndAware"),
            selection: atom(&conn, "XdndSelection"),
            enter: atom(&conn, "XdndEnter"),
            position: atom(&conn, "XdndPosition"),
            status: atom(&conn, "XdndStatus"),
            drop: atom(&conn, "XdndDrop"),
            finished: atom(&conn, "XdndFinished"),
            action_copy: atom(&conn, "XdndActionCopy"),
            uri_list: atom(&conn, "text/uri-list"),
        };
        let target = crate::x11::Display::open()
            .windows_titled(title)
            .into_iter()
            .find(|(_, visible)| *visible)
            .map(|(w, _)| w)
            .expect("the app's window is on screen");
        let aware = conn
            .get_property(false, target, atoms.aware, AtomEnum::ATOM, 0, 1)
            .unwrap()
            .reply()
            .unwrap();
        assert!(
            !aware.value.is_empty(),
            "the window does not accept drops (no XdndAware)"
        );
        let geometry = conn.get_geometry(target).unwrap().reply().unwrap();
        let at = conn
            .translate_coordinates(
                target,
                root,
                (geometry.width / 2) as i16,
                (geometry.height / 2) as i16,
            )
            .unwrap()
            .reply()
            .unwrap();
        let source = conn.generate_id().unwrap();
        conn.create_window(
            0,
            source,
            root,
            -10,
            -10,
            1,
            1,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
        )
        .unwrap();
        conn.set_selection_owner(source, atoms.selection, x11rb::CURRENT_TIME)
            .unwrap();
        let uris: String = files
            .iter()
            .map(|f| format!("file://{}\r\n", f.display()))
            .collect();
        let drag = Drag {
            conn,
            atoms,
            source,
            target,
            uris,
        };
        drag.send(
            drag.atoms.enter,
            [source, XDND_VERSION << 24, drag.atoms.uri_list, 0, 0],
        );
        let position = ((at.dst_x as u32) << 16) | (at.dst_y as u32 & 0xffff);
        drag.send(
            drag.atoms.position,
            [source, 0, position, 0, drag.atoms.action_copy],
        );
        let accepted = drag.until(|drag, event| match event {
            Event::ClientMessage(m) if m.type_ == drag.atoms.status => {
                Some(m.data.as_data32()[1] & 1 == 1)
            }
            _ => None,
        });
        assert!(accepted, "the window refused the drop");
        drag
    }

    /// Drops, hands over the file list when asked, and waits for the window to finish.
    pub fn drop(self) {
        self.send(self.atoms.drop, [self.source, 0, 0, 0, 0]);
        self.until(|drag, event| match event {
            Event::ClientMessage(m) if m.type_ == drag.atoms.finished => Some(()),
            _ => None,
        });
        self.conn.destroy_window(self.source).unwrap();
        self.conn.flush().unwrap();
    }

    fn send(&self, kind: u32, data: [u32; 5]) {
        let event = ClientMessageEvent::new(32, self.target, kind, data);
        self.conn
            .send_event(false, self.target, EventMask::NO_EVENT, event)
            .unwrap();
        self.conn.flush().unwrap();
    }

    /// Serves selection requests until `wanted` picks an event (20 s at most).
    fn until<T>(&self, wanted: impl Fn(&Drag, &Event) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(
                Instant::now() < deadline,
                "the window stopped answering the drag"
            );
            let Some(event) = self.conn.poll_for_event().unwrap() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            if let Event::SelectionRequest(request) = &event {
                self.answer(request);
                continue;
            }
            if let Some(found) = wanted(self, &event) {
                return found;
            }
        }
    }

    /// Gives the file list as `text/uri-list`; any other form is refused.
    fn answer(&self, request: &SelectionRequestEvent) {
        let property = if request.target == self.atoms.uri_list {
            self.conn
                .change_property8(
                    PropMode::REPLACE,
                    request.requestor,
                    request.property,
                    self.atoms.uri_list,
                    self.uris.as_bytes(),
                )
                .unwrap();
            request.property
        } else {
            x11rb::NONE
        };
        let notify = SelectionNotifyEvent {
            response_type: SELECTION_NOTIFY_EVENT,
            sequence: 0,
            time: request.time,
            requestor: request.requestor,
            selection: request.selection,
            target: request.target,
            property,
        };
        self.conn
            .send_event(false, request.requestor, EventMask::NO_EVENT, notify)
            .unwrap();
        self.conn.flush().unwrap();
    }
}
