import { describe, expect, it } from "vitest";
import { arrange, sameList, takeHold } from "./holdStill";

const row = (peer_id: string, last_activity_ms: number) => ({ peer_id, last_activity_ms });
const ids = (rows: { peer_id: string }[]) => rows.map((r) => r.peer_id);

describe("the conversation list holds still", () => {
  const before = [row("alice", 300), row("bob", 200), row("carol", 100)];

  it("follows the latest order when nobody is reaching for it", () => {
    const latest = [row("carol", 400), row("alice", 300), row("bob", 200)];
    expect(ids(arrange(latest, null).rows)).toEqual(["carol", "alice", "bob"]);
    expect(arrange(latest, null).fresh.size).toBe(0);
  });

  it("keeps the held order while activity re-sorts the list, and marks what changed", () => {
    const hold = takeHold(before);
    const latest = [row("carol", 400), row("alice", 300), row("bob", 200)];
    const shown = arrange(latest, hold);
    expect(ids(shown.rows)).toEqual(["alice", "bob", "carol"]);
    expect([...shown.fresh]).toEqual(["carol"]);
    // The rows shown are the latest ones (new previews and counts), only their places hold.
    expect(shown.rows[2]).toBe(latest[0]);
  });

  it("puts a new conversation at the end and drops a removed one while held", () => {
    const hold = takeHold(before);
    const latest = [row("dave", 500), row("alice", 300), row("carol", 100)];
    const shown = arrange(latest, hold);
    expect(ids(shown.rows)).toEqual(["alice", "carol", "dave"]);
    expect([...shown.fresh]).toEqual(["dave"]);
  });

  it("applies the new order once the hold ends", () => {
    const latest = [row("carol", 400), row("alice", 300), row("bob", 200)];
    expect(ids(arrange(latest, takeHold(before)).rows)).toEqual(["alice", "bob", "carol"]);
    expect(ids(arrange(latest, null).rows)).toEqual(["carol", "alice", "bob"]);
  });

  it("knows another account's list from a changed one", () => {
    const hold = takeHold(before);
    expect(sameList(hold, [row("bob", 900)])).toBe(true);
    expect(sameList(hold, [row("zed", 900)])).toBe(false);
  });
});
