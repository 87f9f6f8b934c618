import { describe, expect, it } from "vitest";
import { account, conversation, fakeBackend, message, noChanges } from "../../test/backend";
import { accounts } from "./accounts.svelte";
import { aiTurns } from "./aiTurns.svelte";
import { app } from "./app.svelte";
import { conversations } from "./conversations.svelte";
import { log } from "./log.svelte";
import { login } from "./login.svelte";
import { route } from "./router";
import { uploads } from "./uploads.svelte";

const A = "bot1-im-bot";
const B = "bot2-im-bot";

/** Two accounts, A's list on screen with alice open and bob in the background. */
async function onScreen() {
  const backend = fakeBackend();
  backend.accounts = [account({ account_id: A }), account({ account_id: B, alias: "Other" })];
  backend.conversations = [
    conversation({ peer_id: "alice@im.wechat", last_activity_ms: 2_000 }),
    conversation({ peer_id: "bob@im.wechat", display_name: "Bob", last_activity_ms: 1_000 }),
  ];
  backend.messages.set(`${A}/alice@im.wechat`, [message({ id: 1, create_time_ms: 2_000 })]);
  await app.reloadAccounts();
  await app.openConversation("alice@im.wechat");
  backend.calls = [];
  return backend;
}

describe("the event router", () => {
  it("puts a message for the open conversation into the log, its row and its account, asking nothing", async () => {
    const backend = await onScreen();
    const arrived = message({ id: 7, create_time_ms: 3_000, text: "new" });
    await route(
      { type: "message_received", account_id: A, peer_id: "alice@im.wechat", message_row_id: 7, item_kind: "text", preview: "new" },
      noChanges({
        accounts: [account({ account_id: A, unread: 0 })],
        conversation: conversation({ peer_id: "alice@im.wechat", last_activity_ms: 3_000, last_text: "new" }),
        message: arrived,
      }),
    );
    expect(log.messages.map((m) => m.id)).toEqual([7, 1]);
    expect(conversations.find("alice@im.wechat")?.last_text).toBe("new");
    expect(backend.calls).toEqual([]);
  });

  it("moves a background conversation's row to the top and leaves the open log alone", async () => {
    const backend = await onScreen();
    await route(
      { type: "message_received", account_id: A, peer_id: "bob@im.wechat", message_row_id: 8, item_kind: "text", preview: null },
      noChanges({
        accounts: [account({ account_id: A, unread: 1 })],
        conversation: conversation({ peer_id: "bob@im.wechat", last_activity_ms: 5_000, unread_count: 1 }),
        message: message({ id: 8, peer_id: "bob@im.wechat", create_time_ms: 5_000 }),
      }),
    );
    expect(conversations.list.map((c) => c.peer_id)).toEqual(["bob@im.wechat", "alice@im.wechat"]);
    expect(log.messages.map((m) => m.id)).toEqual([1]);
    expect(accounts.find(A)?.unread).toBe(1);
    expect(backend.calls).toEqual([]);
  });

  it("updates another account's summary without listing its conversation on screen", async () => {
    const backend = await onScreen();
    await route(
      { type: "message_received", account_id: B, peer_id: "carol@im.wechat", message_row_id: 9, item_kind: "text", preview: null },
      noChanges({
        accounts: [account({ account_id: B, alias: "Other", unread: 4 })],
        conversation: conversation({ account_id: B, peer_id: "carol@im.wechat" }),
        message: message({ id: 9, account_id: B, peer_id: "carol@im.wechat" }),
      }),
    );
    expect(accounts.find(B)?.unread).toBe(4);
    expect(conversations.find("carol@im.wechat")).toBeUndefined();
    expect(log.messages.map((m) => m.id)).toEqual([1]);
    expect(backend.calls).toEqual([]);
  });

  it("sends progress to the uploads, login states to the dialog and AI turns to their tracker", async () => {
    const backend = await onScreen();
    backend.answers.send_file = () => ({ outbox_id: 42 });
    await app.sendFiles(["/home/me/report.pdf"]);
    login.open();
    backend.calls = [];

    await route({ type: "upload_progress", outbox_id: 42, account_id: A, peer_id: "alice@im.wechat", sent: 1, total: 4 });
    expect(uploads.items[0]).toMatchObject({ name: "report.pdf", percent: 25, phase: "uploading" });
    expect(uploads.progress[42]).toBe(25);

    await route({ type: "login_progress", login_id: "login-9", state: { state: "qr_ready", url: "https://q/9" } });
    expect(login.current).toMatchObject({ id: "login-9", qrUrl: "https://q/9" });

    await route({ type: "ai", event: { kind: "run_started", account_id: A, peer_id: "Alice@im.wechat", inbound: 1 } });
    expect(aiTurns.elapsed(A, "alice@im.wechat")).toBe(0);
    expect(app.openAiWorking).toBe(0);
    expect(backend.calls).toEqual([]);
  });

  it("shows the first account when the one on screen is removed", async () => {
    const backend = await onScreen();
    backend.accounts = backend.accounts.filter((a) => a.account_id !== A);
    backend.conversations = [conversation({ account_id: B, peer_id: "carol@im.wechat" })];
    await route({ type: "account_removed", account_id: A, kept_log: false }, noChanges({ removed_account: A }));
    expect(accounts.list.map((a) => a.account_id)).toEqual([B]);
    expect(app.selectedAccount).toBe(B);
    expect(log.peer).toBeNull();
    await expect.poll(() => conversations.list.map((c) => c.peer_id)).toEqual(["carol@im.wechat"]);
  });

  it("puts a damaged database in the banner with SQLite's words under Details", async () => {
    const backend = await onScreen();
    await route({ type: "store_damaged", detail: "database disk image is malformed" });
    expect(app.actionError).toContain("integrity check");
    expect(app.actionDetails).toBe("database disk image is malformed");
    expect(backend.calls).toEqual([]);
  });
});
