import { describe, expect, it } from "vitest";
import { matchConversations } from "./quickSwitch";
import type { ConversationView } from "./ipc";

const conv = (accountId: string, peerId: string, displayName: string | null, lastActivityMs: number): ConversationView => ({
  accountId,
  peerId,
  displayName,
  lastActivityMs,
  unreadCount: 0,
  lastText: null,
  lastItemKind: null,
  windowClosesMs: null,
  muted: false,
});

describe("quick switcher matching", () => {
  const all = [
    conv("a", "wxid_alice@im.wechat", "Alice Chen", 100),
    conv("b", "wxid_wang@im.wechat", "王小明", 300),
    conv("b", "wxid_malice@im.wechat", "Malice", 200),
    conv("a", "wxid_bob@im.wechat", null, 400),
  ];
  const peers = (q: string) => matchConversations(all, q).map((c) => c.peerId);

  it("finds conversations of every account by name, names that start with it first", () => {
    expect(peers("ali")).toEqual(["wxid_alice@im.wechat", "wxid_malice@im.wechat"]);
    expect(peers("小明")).toEqual(["wxid_wang@im.wechat"]);
  });

  it("finds a peer by its id, and lists everything by recent activity when empty", () => {
    expect(peers("wxid_bob")).toEqual(["wxid_bob@im.wechat"]);
    expect(peers("")).toEqual(["wxid_bob@im.wechat", "wxid_wang@im.wechat", "wxid_malice@im.wechat", "wxid_alice@im.wechat"]);
    expect(peers("nobody")).toEqual([]);
  });
});
