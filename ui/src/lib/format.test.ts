import { describe, expect, it } from "vitest";
import { accountStatus, dayLabel, fileSize, replyWindow } from "./format";
import type { AccountView } from "./ipc";

const base: AccountView = {
  account_id: "a",
  bot_id: "a@im.bot",
  alias: null,
  user_id: null,
  base_url: "http://127.0.0.1/",
  enabled: true,
  lifecycle: "online",
  status: { state: "online" },
  unread: 0,
  undecodable: 0,
  ai_enabled: false,
};

describe("format", () => {
  it("names every account state, disabled ones by their lifecycle", () => {
    expect(accountStatus(base)).toEqual({ key: "status.online", tone: "ok" });
    expect(accountStatus({ ...base, status: { state: "stale_token", until_ms: 1 } }).key).toBe(
      "status.tokenStale",
    );
    expect(accountStatus({ ...base, status: { state: "backing_off", attempt: 2, until_ms: 1 } }).tone).toBe("warn");
    expect(accountStatus({ ...base, enabled: false, lifecycle: "removed" }).key).toBe("status.removed");
    expect(accountStatus({ ...base, enabled: false, lifecycle: "offline" }).key).toBe("status.disabled");
  });

  it("tells the reply window's state", () => {
    const now = 1_000_000_000;
    expect(replyWindow(null, now)).toEqual({ kind: "never" });
    expect(replyWindow(now - 1, now)).toEqual({ kind: "closed" });
    expect(replyWindow(now + 30 * 60_000, now)).toEqual({ kind: "closing", minutes: 30 });
    expect(replyWindow(now + 5 * 3600_000, now)).toEqual({ kind: "open" });
    expect(replyWindow(now + 5 * 3600_000, now, 3)).toEqual({ kind: "open" });
    // An imported token of unknown age: neither open nor closed for sure.
    expect(replyWindow(null, now, 10, true)).toEqual({ kind: "unknown" });
    expect(replyWindow(now + 5 * 3600_000, now, 0)).toEqual({ kind: "used_up" });
    expect(replyWindow(now - 1, now, 0)).toEqual({ kind: "closed" });
  });

  it("labels days and sizes", () => {
    const now = new Date(2026, 10, 24, 12).getTime();
    const words = { today: "Today", yesterday: "Yesterday" };
    expect(dayLabel(now - 3600_000, now, "en", words)).toBe("Today");
    expect(dayLabel(now - 24 * 3600_000, now, "en", words)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 0, 2).getTime(), now, "en", words)).toContain("2026");
    expect(fileSize(512)).toBe("512 B");
    expect(fileSize(7 * 1024)).toBe("7.0 KB");
    expect(fileSize(3 * 1024 * 1024)).toBe("3.0 MB");
  });
});
