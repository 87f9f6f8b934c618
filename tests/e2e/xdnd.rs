//! A drag source speaking XDND (version 5) to the app's window, as a file manager does
//! when files are dragged onto it: enter, position, drop, then the file list handed
//! over through the XdndSelection as `text/uri-list`. The app sees a real native drop.

use std::path::Path;
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, PropMode,
    SelectionNotifyEvent, WindowClass, SELECTION_NOTIFY_EVENT,
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

/// Drops `files` on the top-level window titled `title`, in its middle. Panics with
/// what went wrong when the window does not take the drop.
pub fn drop_files(title: &str, files: &[&Path]) {
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
    let send = |kind: u32, data: [u32; 5]| {
        let event = ClientMessageEvent::new(32, target, kind, data);
        conn.send_event(false, target, EventMask::NO_EVENT, event)
            .unwrap();
        conn.flush().unwrap();
    };
    send(
        atoms.enter,
        [source, XDND_VERSION << 24, atoms.uri_list, 0, 0],
    );
    let position = ((at.dst_x as u32) << 16) | (at.dst_y as u32 & 0xffff);
    send(atoms.position, [source, 0, position, 0, atoms.action_copy]);

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut dropped = false;
    let mut finished = false;
    while !finished {
        assert!(
            Instant::now() < deadline,
            "no XdndFinished: the window took {}",
            if dropped {
                "the drop but never finished"
            } else {
                "no drop"
            }
        );
        let Some(event) = conn.poll_for_event().unwrap() else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        match event {
            Event::ClientMessage(message) if message.type_ == atoms.status => {
                let data = message.data.as_data32();
                if !dropped {
                    assert!(data[1] & 1 == 1, "the window refused the drop");
                    send(atoms.drop, [source, 0, 0, 0, 0]);
                    dropped = true;
                }
            }
            Event::ClientMessage(message) if message.type_ == atoms.finished => {
                finished = true;
            }
            Event::SelectionRequest(request) => {
                let property = if request.target == atoms.uri_list {
                    conn.change_property8(
                        PropMode::REPLACE,
                        request.requestor,
                        request.property,
                        atoms.uri_list,
                        uris.as_bytes(),
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
                conn.send_event(false, request.requestor, EventMask::NO_EVENT, notify)
                    .unwrap();
                conn.flush().unwrap();
            }
            _ => {}
        }
    }
    conn.destroy_window(source).unwrap();
    conn.flush().unwrap();
}
