import { describe, expect, it } from "vitest";
import { matchConversations } from "./quickSwitch";
import type { ConversationView } from "./ipc";
import { conversation } from "../test/backend";

const conv = (account_id: string, peer_id: string, display_name: string | null, last_activity_ms: number): ConversationView =>
  conversation({ account_id, peer_id, display_name, last_activity_ms });

describe("quick switcher matching", () => {
  const all = [
    conv("a", "wxid_alice@im.wechat", "Alice Chen", 100),
    conv("b", "wxid_wang@im.wechat", "王小明", 300),
    conv("b", "wxid_malice@im.wechat", "Malice", 200),
    conv("a", "wxid_bob@im.wechat", null, 400),
  ];
  const peers = (q: string) => matchConversations(all, q).map((c) => c.peer_id);

  it("finds conversations of every account by name, names that start with it first", () => {
    expect(peers("ali")).toEqual(["wxid_alice@im.wechat", "wxid_malice@im.wechat"]);
    expect(peers("小明")).toEqual(["wxid_wang@im.wechat"]);
  });

  it("finds a peer by its id, and lists everything by recent activity when empty", () => {
    expect(peers("wxid_bob")).toEqual(["wxid_bob@im.wechat"]);
    expect(peers("")).toEqual(["wxid_bob@im.wechat", "wxid_wang@im.wechat", "wxid_malice@im.wechat", "wxid_alice@im.wechat"]);
    expect(peers("nobody")).toEqual([]);
  });

  it("finds a peer by the owner's note", () => {
    const noted = [...all, conversation({ account_id: "a", peer_id: "o9cq@im.wechat", display_name: null, note: "Teapot order" })];
    expect(matchConversations(noted, "teapot").map((c) => c.peer_id)).toEqual(["o9cq@im.wechat"]);
  });
});
