//! Who chats in the demo and what they say, one step per tick.

use serde::Serialize;

/// A WeChat user of the demo. iLink carries no display names (only `from_user_id`), so
/// the names are served by `GET /_sim/demo` for a sandbox UI that wants them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoPeer {
    pub user_id: &'static str,
    pub display_name: &'static str,
}

pub(crate) const PEERS: [DemoPeer; 3] = [
    DemoPeer {
        user_id: "o9cq8WangXiaoMing7TqLr2Zx@im.wechat",
        display_name: "王小明",
    },
    DemoPeer {
        user_id: "o9cq8AliceChen4KpWm9Bv@im.wechat",
        display_name: "Alice Chen",
    },
    DemoPeer {
        user_id: "o9cq8LiNaHz3Vy6Qd@im.wechat",
        display_name: "李娜 (Lina)",
    },
];

/// What one step of the timeline injects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Say {
    Text(&'static str),
    /// A few-KB PNG of these two colours.
    Image([u8; 3], [u8; 3]),
    File {
        name: &'static str,
        body: &'static str,
    },
    /// Real SILK of this length (a synthesised tone glide, `crate::voice`).
    Voice {
        transcript: Option<&'static str>,
        playtime_ms: u32,
    },
    /// A text that quotes the text of step `step` (same peer), in the embedded form
    /// with `svr_id` set to that message's id.
    Quote {
        step: usize,
        text: &'static str,
    },
}

/// (index into [`PEERS`], what they say). After the last step the timeline starts over.
pub(crate) const TIMELINE: &[(usize, Say)] = &[
    (0, Say::Text("你好！我是王小明，周末一起去爬山吗？")),
    (1, Say::Text("Hi! Alice here. Did you get the slides?")),
    (0, Say::Image([0x2e, 0x86, 0xde], [0xff, 0xff, 0xff])),
    (
        1,
        Say::File {
            name: "meeting-notes.txt",
            body: "Meeting notes\n- ship the demo\n- 周五发布\n",
        },
    ),
    (
        2,
        Say::Voice {
            transcript: Some("明天下午三点开会，别忘了带电脑。"),
            playtime_ms: 3200,
        },
    ),
    (
        1,
        Say::Voice {
            transcript: None,
            playtime_ms: 1800,
        },
    ),
    (
        0,
        Say::Quote {
            step: 0,
            text: "就是这个周六，早上八点出发 ⛰️",
        },
    ),
    (2, Say::Text("Thanks! 收到 👍")),
    (1, Say::Image([0xf5, 0xa6, 0x23], [0x33, 0x33, 0x33])),
];
