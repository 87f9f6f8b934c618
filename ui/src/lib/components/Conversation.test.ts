import { tick } from "svelte";
import { emit } from "@tauri-apps/api/event";
import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { account, conversation, emitEngine, fakeBackend, message } from "../../test/backend";

const KEY = "bot1-im-bot/alice@im.wechat";

async function openAlice(backend: ReturnType<typeof fakeBackend>) {
  render(App);
  const alice = () =>
    screen.getAllByTestId("conversation-item").find((row) => row.dataset.peer === "alice@im.wechat");
  await waitFor(() => expect(alice()).toBeTruthy());
  await fireEvent.click(alice()!.querySelector("button")!);
  await waitFor(() => expect(screen.getByTestId("conversation-pane")).toBeTruthy());
  return backend;
}

describe("conversation list", () => {
  it("lists by the backend's order with unread badges and the reply window", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    const now = Date.now();
    backend.conversations = [
      conversation({ peer_id: "a", display_name: "Amy", unread_count: 4, window_closes_ms: now + 19.5 * 60_000 }),
      conversation({ peer_id: "b", display_name: null, last_text: null, last_item_kind: "image", window_closes_ms: now - 3600_000 }),
    ];
    render(App);
    await waitFor(() => expect(screen.getAllByTestId("conversation-item")).toHaveLength(2));
    expect(screen.getAllByTestId("conversation-name").map((e) => e.textContent)).toEqual(["Amy", "b"]);
    expect(screen.getByTestId("conversation-unread").textContent).toBe("4");
    expect(screen.getAllByTestId("conversation-preview")[1].textContent).toBe("[Picture]");
    const windows = screen.getAllByTestId("conversation-window").map((e) => e.textContent?.trim());
    expect(windows).toEqual(["Reply window closes in 20 min", "Waiting for them to write"]);
  });
});

describe("room left", () => {
  it("shows until when they can be answered and how many messages are left, then that the allowance is used", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    const closes = new Date();
    closes.setHours(23, 58, 0, 0);
    const later = Math.max(closes.getTime(), Date.now() + 2 * 3600_000);
    backend.conversations = [conversation({ window_closes_ms: later, replies_left: 7 })];
    await openAlice(backend);
    const state = () => screen.getByTestId("window-state");
    expect(state().dataset.window).toBe("open");
    expect(state().textContent).toMatch(/Reply window open until (tomorrow )?\d{1,2}:\d{2}/);
    expect(screen.getByTestId("replies-left").textContent).toContain("7 messages left");
    expect(screen.queryByTestId("composer-allowance-used")).toBeNull();

    // The engine counts a tenth message out: the pushed row says none are left.
    backend.conversations = [conversation({ window_closes_ms: later, replies_left: 0 })];
    await emitEngine(
      { type: "delivery_updated", outbox_id: 1, account_id: "bot1-im-bot", peer_id: "alice@im.wechat", message_row_id: null, state: "delivered", error: null },
    );
    await waitFor(() => expect(state().dataset.window).toBe("used_up"));
    expect(state().textContent).toContain("Message allowance used");
    expect(screen.queryByTestId("replies-left")).toBeNull();
    expect(screen.getByTestId("composer-allowance-used")).toBeTruthy();
    expect(
      screen.getAllByTestId("conversation-window").map((e) => e.textContent?.trim()),
    ).toEqual(["Waiting for them to write"]);
  });
});

describe("undecodable messages", () => {
  it("shows a message this version cannot read as such, in the log and the list", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation({ last_text: null, last_item_kind: "undecodable" })];
    backend.messages.set(KEY, [
      message({ id: 2, item_kind: "undecodable", text: null, error: "size -5 is negative" }),
      message({ id: 1, text: "before it" }),
    ]);
    await openAlice(backend);
    expect(screen.getByTestId("conversation-preview").textContent).toBe(
      "[A message this version cannot show]",
    );
    const odd = await waitFor(() => {
      const row = document.querySelector<HTMLElement>("[data-testid='message'][data-kind='undecodable']");
      expect(row).toBeTruthy();
      return row!;
    });
    expect(odd.textContent).toContain("[A message this version cannot show]");
    expect(screen.getAllByTestId("message-text").map((e) => e.textContent)).toEqual(["before it"]);

    // Copy raw puts the exact text it arrived as on the clipboard.
    const raw = '{"message_id":2,"item_list":[{"type":2,"image_item":{"mid_size":-5}}]}';
    backend.answers.message_raw = () => raw;
    const written: string[] = [];
    Object.defineProperty(navigator, "clipboard", {
      value: { writeText: async (text: string) => void written.push(text) },
      configurable: true,
    });
    const copy = screen.getByTestId("copy-raw");
    expect(copy.getAttribute("title")).toBe("size -5 is negative");
    await fireEvent.click(copy);
    await waitFor(() => expect(written).toEqual([raw]));
    expect(backend.calls).toContainEqual({ cmd: "message_raw", args: { messageId: 2 } });
    expect(copy.textContent).toBe("Copied");
    expect(screen.getAllByTestId("copy-raw")).toHaveLength(1);
  });
});

describe("keyboard", () => {
  it("moves between conversations with the arrow keys and closes dialogs with Escape", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation({ peer_id: "a", display_name: "Amy" }), conversation({ peer_id: "b", display_name: "Ben" })];
    render(App);
    await waitFor(() => expect(screen.getAllByTestId("conversation-item")).toHaveLength(2));
    const [first] = screen.getAllByTestId("conversation-item");
    await fireEvent.click(first.querySelector("button")!);
    await waitFor(() => expect(screen.getByTestId("conversation-title").textContent).toBe("Amy"));
    await fireEvent.keyDown(first.querySelector("button")!, { key: "ArrowDown" });
    await waitFor(() => expect(screen.getByTestId("conversation-title").textContent).toBe("Ben"));
    await fireEvent.keyDown(document.activeElement ?? document.body, { key: "ArrowUp" });
    await waitFor(() => expect(screen.getByTestId("conversation-title").textContent).toBe("Amy"));

    await fireEvent.click(screen.getByTestId("add-account"));
    const dialog = screen.getByTestId("login-dialog");
    // Focus moves into the dialog.
    expect(dialog.contains(document.activeElement)).toBe(true);
    await fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByTestId("login-dialog")).toBeNull();
  });
});

describe("conversation log", () => {
  it("shows markup as text, quotes, AI marks and delivery states with Retry", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation({ unread_count: 2 })];
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    backend.messages.set(KEY, [
      message({ id: 5, direction: "out", text: "failed one", delivery: "failed", error: "reply window closed", outbox_id: 9 }),
      message({ id: 4, direction: "out", text: "by the bot", delivery: "delivered", ai_generated: true, outbox_id: 8 }),
      message({ id: 6, text: "this one", quote_kind: "image", quote_time_ms: Date.UTC(2020, 0, 2, 3, 4) }),
      message({ id: 3, text: "answer", quote_text: "the question", quote_kind: "text" }),
      message({ id: 2, text: hostile }),
    ]);
    await openAlice(backend);
    const texts = screen.getAllByTestId("message-text").map((e) => e.textContent);
    expect(texts).toContain(hostile);
    expect(document.querySelector("[data-testid='message-text'] img")).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
    const quotes = screen.getAllByTestId("message-quote");
    expect(quotes[0].textContent).toContain("the question");
    // A quote with no text keeps what is known: "quoted a message", its kind and time.
    expect(quotes[1].dataset.quoted).toBe("trace");
    expect(quotes[1].textContent).toContain("Quoted a message");
    expect(quotes[1].textContent).toContain("[Picture]");
    expect(quotes[1].textContent).toContain("2020");
    expect(screen.getAllByTestId("ai-mark")).toHaveLength(1);
    const states = screen.getAllByTestId("delivery-state").map((e) => e.textContent);
    // Oldest first, as on screen.
    expect(states).toEqual(["Sent", "Failed: reply window closed"]);
    // Opening marks the conversation read.
    await waitFor(() => expect(backend.calls.map((c) => c.cmd)).toContain("mark_read"));
    backend.answers.retry_outbound = () => true;
    await fireEvent.click(screen.getByTestId("retry"));
    await waitFor(() => expect(backend.calls).toContainEqual({ cmd: "retry_outbound", args: { outboxId: 9 } }));
  });

  it("says why a send or a download failed in the window's language, its details on hover", async () => {
    const backend = fakeBackend();
    backend.info = { ...backend.info, locale: "zh-CN" };
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    const detail = "expired: the peer did not write again within 2 min";
    backend.messages.set(KEY, [
      message({ id: 7, direction: "out", text: "late", delivery: "failed", failure: "window_expired", error: detail, outbox_id: 3 }),
      message({ id: 6, direction: "out", text: "stopped", delivery: "failed", failure: "cancelled", error: "cancelled", outbox_id: 2 }),
      message({ id: 5, direction: "out", text: "older", delivery: "failed", error: "ret -14", outbox_id: 1 }),
      message({ id: 4, item_kind: "file", text: null, media_state: "failed", media_failure: "gone", media_error: "CDN download failed with HTTP 404" }),
      message({ id: 3, item_kind: "image", text: null, media_state: "failed", media_error: "the download ended early" }),
    ]);
    await openAlice(backend);
    const states = screen.getAllByTestId("delivery-state");
    expect(states.map((e) => e.textContent)).toEqual([
      // Logged before failures had a reason of their own: its details stand in.
      "发送失败：ret -14",
      "发送失败：已取消",
      "发送失败：对方没有在时限内再发消息",
    ]);
    expect(states[2].title).toBe(`详细信息：${detail}`);
    expect(states[0].title).toBe("");
    const downloads = screen.getAllByTestId("media-failed");
    // Logged before downloads had a reason of their own: its details stand in.
    expect(downloads[0].textContent).toContain("下载失败：the download ended early");
    expect(downloads[1].textContent).toContain("下载失败：微信服务器上已没有这个文件");
    expect(downloads[1].title).toBe("详细信息：CDN download failed with HTTP 404");
  });

  it("pages older messages on demand and keeps them once loaded", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    const many = Array.from({ length: 200 }, (_, i) => message({ id: 1000 - i, create_time_ms: 1_700_000_000_000 + (1000 - i) * 1000 }));
    backend.messages.set(KEY, many);
    await openAlice(backend);
    const log = screen.getByTestId("message-log");
    // Only the first page is rendered.
    await waitFor(() => expect(log.dataset.count).toBe("80"));
    await fireEvent.click(screen.getByTestId("load-older"));
    await waitFor(() => expect(log.dataset.count).toBe("160"));
    await fireEvent.click(screen.getByTestId("load-older"));
    await waitFor(() => expect(log.dataset.count).toBe("200"));
    expect(screen.getByTestId("log-beginning")).toBeTruthy();
    const pages = backend.calls.filter((c) => c.cmd === "conversation_page");
    expect(pages.map((c) => (c.args as { before: unknown }).before)).toEqual([
      null,
      { create_time_ms: many[79].create_time_ms, id: many[79].id },
      { create_time_ms: many[159].create_time_ms, id: many[159].id },
    ]);
  });

  it("updates live: a new inbound message and a delivery change", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    backend.messages.set(KEY, [message({ id: 1, text: "first" })]);
    await openAlice(backend);
    backend.messages.set(KEY, [message({ id: 2, text: "second" }), ...backend.messages.get(KEY)!]);
    await emitEngine({
      type: "message_received",
      account_id: "bot1-im-bot",
      peer_id: "alice@im.wechat",
      message_row_id: 2,
      item_kind: "text",
      preview: "second",
    });
    await waitFor(() => expect(screen.getAllByTestId("message-text").map((e) => e.textContent)).toEqual(["first", "second"]));
  });

  it("reads what arrived in the background when the window gets focus back", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    await openAlice(backend);
    // A message came while the window was in the background: the open row is unread.
    backend.conversations = [conversation({ unread_count: 1 })];
    await emitEngine({
      type: "message_received",
      account_id: "bot1-im-bot",
      peer_id: "alice@im.wechat",
      message_row_id: 99,
      item_kind: "text",
      preview: "later",
    });
    await waitFor(() => expect(screen.getByTestId("conversation-unread").textContent).toBe("1"));
    const before = backend.calls.filter((c) => c.cmd === "mark_read").length;
    await fireEvent.focus(window);
    await waitFor(() => expect(backend.calls.filter((c) => c.cmd === "mark_read").length).toBe(before + 1));
    await waitFor(() => expect(screen.queryByTestId("conversation-unread")).toBeNull());
  });

  it("tells a message the server only accepted from one it confirmed", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    backend.messages.set(KEY, [
      message({ id: 2, direction: "out", text: "maybe lost", delivery: "accepted", outbox_id: 3 }),
      message({ id: 1, direction: "out", text: "arrived", delivery: "delivered", outbox_id: 2 }),
    ]);
    await openAlice(backend);
    await waitFor(() => expect(screen.getAllByTestId("delivery-state")).toHaveLength(2));
    const [arrived, accepted] = screen.getAllByTestId("delivery-state");
    expect(arrived.textContent).toBe("Sent");
    expect(accepted.textContent).toBe("Accepted, not confirmed");
    expect(accepted.getAttribute("title")).toContain("risk control");
  });

  it("a new window opens at the conversation the shell remembers", async () => {
    const backend = fakeBackend({ open_conversation: { account_id: "bot1-im-bot", peer_id: "bob@im.wechat" } });
    backend.accounts = [account()];
    backend.conversations = [conversation(), conversation({ peer_id: "bob@im.wechat", display_name: "Bob" })];
    backend.messages.set("bot1-im-bot/bob@im.wechat", [message({ peer_id: "bob@im.wechat", text: "where we were" })]);
    render(App);
    await waitFor(() => expect(screen.getByTestId("conversation-pane").dataset.peer).toBe("bob@im.wechat"));
    await waitFor(() => expect(screen.getAllByTestId("message-text").map((e) => e.textContent)).toEqual(["where we were"]));
  });

  it("applies inbound messages from the event alone: no call back, open or background", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ unread: 0 })];
    backend.conversations = [
      conversation({ last_activity_ms: 2_000 }),
      conversation({ peer_id: "bob@im.wechat", display_name: "Bob", last_activity_ms: 1_000, unread_count: 0 }),
    ];
    backend.messages.set(KEY, [message({ id: 1, text: "first" })]);
    await openAlice(backend);
    await waitFor(() => expect(backend.calls.some((c) => c.cmd === "set_open_conversation")).toBe(true));
    const before = backend.calls.length;
    // Into the open conversation.
    backend.messages.set(KEY, [message({ id: 2, text: "second", create_time_ms: Date.now() }), ...backend.messages.get(KEY)!]);
    await emitEngine({
      type: "message_received",
      account_id: "bot1-im-bot",
      peer_id: "alice@im.wechat",
      message_row_id: 2,
      item_kind: "text",
      preview: "second",
    });
    await waitFor(() => expect(screen.getAllByTestId("message-text").map((e) => e.textContent)).toEqual(["first", "second"]));
    // Into a background conversation: it moves to the top with its unread count, and
    // the account's total follows.
    backend.conversations = backend.conversations.map((c) =>
      c.peer_id === "bob@im.wechat" ? { ...c, last_activity_ms: 3_000, unread_count: 1, last_text: "hey" } : c,
    );
    backend.accounts = [account({ unread: 1 })];
    await emitEngine({
      type: "message_received",
      account_id: "bot1-im-bot",
      peer_id: "bob@im.wechat",
      message_row_id: 3,
      item_kind: "text",
      preview: "hey",
    });
    await waitFor(() =>
      expect(screen.getAllByTestId("conversation-item").map((row) => row.dataset.peer)).toEqual([
        "bob@im.wechat",
        "alice@im.wechat",
      ]),
    );
    await waitFor(() => expect(screen.getByTestId("account-unread").textContent).toBe("1"));
    expect(backend.calls.slice(before).map((c) => c.cmd)).toEqual([]);
  });
});

describe("composer", () => {
  it("sends on Enter, keeps Shift+Enter as a new line, and clears after sending", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    await openAlice(backend);
    const input = screen.getByTestId("composer-input") as HTMLTextAreaElement;
    await fireEvent.input(input, { target: { value: "line one" } });
    await fireEvent.keyDown(input, { key: "Enter", shiftKey: true });
    expect(backend.calls.map((c) => c.cmd)).not.toContain("send_text");
    await fireEvent.input(input, { target: { value: "line one\nline two" } });
    await fireEvent.keyDown(input, { key: "Enter", isComposing: true });
    expect(backend.calls.map((c) => c.cmd)).not.toContain("send_text");
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() =>
      expect(backend.calls).toContainEqual({
        cmd: "send_text",
        args: { accountId: "bot1-im-bot", peerId: "alice@im.wechat", text: "line one\nline two" },
      }),
    );
    await waitFor(() => expect(input.value).toBe(""));
    await waitFor(() => expect(screen.getByTestId("delivery-state").textContent).toBe("Queued"));
  });

  it("is replaced by an explanation when the peer never wrote", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation({ window_closes_ms: null })];
    await openAlice(backend);
    expect(screen.getByTestId("composer-disabled").textContent).toContain("have not written yet");
    expect(screen.queryByTestId("composer-input")).toBeNull();
  });

  it("sends dropped files by their paths with progress, and shows a refusal per file", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    await openAlice(backend);
    const paths = ["/home/me/report.txt", "/home/me/empty.txt"];
    const position = { x: 10, y: 10 };
    // The drop zone listens once its last listener (leave) is in place.
    await waitFor(async () => {
      await emit("tauri://drag-enter", { paths, position });
      await tick();
      expect(screen.queryByTestId("drop-overlay")).toBeTruthy();
      await emit("tauri://drag-leave", {});
      await tick();
      expect(screen.queryByTestId("drop-overlay")).toBeNull();
    });
    await emit("tauri://drag-enter", { paths, position });
    await waitFor(() => expect(screen.getByTestId("drop-overlay")).toBeTruthy());
    await emit("tauri://drag-drop", { paths, position });
    await waitFor(() => expect(screen.queryByTestId("drop-overlay")).toBeNull());
    await waitFor(() =>
      expect(backend.calls.filter((c) => c.cmd === "send_file").map((c) => c.args)).toEqual([
        { accountId: "bot1-im-bot", peerId: "alice@im.wechat", path: "/home/me/report.txt" },
        { accountId: "bot1-im-bot", peerId: "alice@im.wechat", path: "/home/me/empty.txt" },
      ]),
    );
    await waitFor(() => expect(screen.getByTestId("upload-error").textContent).toBe("the file is empty"));

    // The engine's upload progress, then delivery.
    await emitEngine({ type: "upload_progress", outbox_id: 501, account_id: "bot1-im-bot", peer_id: "alice@im.wechat", sent: 5, total: 10 });
    await waitFor(() => expect(screen.getByTestId("upload-percent").textContent?.trim()).toBe("Uploading 50%"));
    await emitEngine({
      type: "delivery_updated",
      outbox_id: 501,
      account_id: "bot1-im-bot",
      peer_id: "alice@im.wechat",
      message_row_id: null,
      state: "delivered",
      error: null,
    });
    await waitFor(() => expect(screen.getByTestId("upload-done")).toBeTruthy());
  });

  it("sends files picked in the open dialog, and a pasted picture", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    backend.picked = ["/home/me/a.pdf"];
    await openAlice(backend);
    await fireEvent.click(screen.getByTestId("attach"));
    await waitFor(() =>
      expect(backend.calls).toContainEqual({
        cmd: "send_file",
        args: { accountId: "bot1-im-bot", peerId: "alice@im.wechat", path: "/home/me/a.pdf" },
      }),
    );
    // Pasted text stays text; a pasted picture is sent.
    const input = screen.getByTestId("composer-input");
    await fireEvent.paste(input, { clipboardData: { types: ["text/plain"], getData: () => "hi" } });
    // WebKitGTK lists no types while pasting, but gives the text.
    await fireEvent.paste(input, { clipboardData: { types: [], getData: () => "hi" } });
    expect(backend.calls.map((c) => c.cmd)).not.toContain("send_pasted_picture");
    await fireEvent.paste(input, { clipboardData: { types: [], getData: () => "" } });
    await waitFor(() =>
      expect(backend.calls).toContainEqual({
        cmd: "send_pasted_picture",
        args: { accountId: "bot1-im-bot", peerId: "alice@im.wechat" },
      }),
    );
  });

  it("shows a file as sent when the engine delivered it before send_file answered", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    await openAlice(backend);
    // A small file on a fast engine: its delivery event overtakes the command's answer.
    backend.answers.send_file = async () => {
      await emitEngine({ type: "upload_progress", outbox_id: 777, account_id: "bot1-im-bot", peer_id: "alice@im.wechat", sent: 10, total: 10 });
      await emitEngine({ type: "delivery_updated", outbox_id: 777, account_id: "bot1-im-bot", peer_id: "alice@im.wechat", message_row_id: null, state: "delivered", error: null });
      return { outbox_id: 777, message_row_id: null };
    };
    const { app } = await import("../stores/app.svelte");
    await app.sendFiles(["/home/me/quick.txt"]);
    await waitFor(() => {
      const line = document.querySelector<HTMLElement>("[data-testid='upload-item'][data-name='quick.txt']");
      expect(line?.dataset.phase).toBe("sent");
    });
  });

  it("cancels a queued file by discarding it", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    await openAlice(backend);
    const { app } = await import("../stores/app.svelte");
    await app.sendFiles(["/home/me/a.txt"]);
    await fireEvent.click(screen.getByTestId("upload-cancel"));
    await waitFor(() => expect(backend.calls).toContainEqual({ cmd: "discard_outbound", args: { outboxId: 501 } }));
    expect(screen.getByTestId("upload-error").textContent?.trim()).toBe("cancelled");
  });
});

describe("search", () => {
  it("opens with Ctrl+F and closes with Esc", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    await openAlice(backend);
    expect(screen.queryByTestId("search-panel")).toBeNull();
    await fireEvent.keyDown(window, { key: "f", ctrlKey: true });
    await waitFor(() => expect(screen.getByTestId("search-panel")).toBeTruthy());
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("search-input")));
    await fireEvent.keyDown(window, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("search-panel")).toBeNull());
  });

  it("searches everywhere or here, and jumps to a result", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    const hit = message({ id: 3, text: "invoice 7731" });
    backend.messages.set(KEY, [message({ id: 4, text: "later" }), hit]);
    backend.answers.search_messages = (args) => ({
      peers: [],
      messages: String(args.query).includes("invoice") ? [{ message: hit, peer_name: "Alice" }] : [],
    });
    render(App);
    await waitFor(() => expect(screen.getByTestId("open-search")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("open-search"));
    await fireEvent.input(screen.getByTestId("search-input"), { target: { value: "invoice" } });
    await waitFor(() => expect(screen.getAllByTestId("search-result")).toHaveLength(1));
    expect(backend.calls).toContainEqual({
      cmd: "search_messages",
      args: { query: "invoice", accountId: null, peerId: null, limit: 100 },
    });
    await fireEvent.click(screen.getByTestId("search-result"));
    await waitFor(() => expect(document.querySelector(".message.focused")?.textContent).toContain("invoice 7731"));
  });
});

describe("file cards", () => {
  it("retries a failed download from the log, which then waits for the engine", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    backend.messages.set(KEY, [
      message({
        id: 9,
        item_kind: "image",
        text: null,
        media_state: "failed",
        media_failure: "damaged",
        media_error: "the download does not match the message: it ended after 2496 bytes",
      }),
    ]);
    await openAlice(backend);
    await waitFor(() => expect(screen.getByTestId("media-failed").textContent).toContain("arrived damaged"));
    expect(screen.getByTestId("media-failed").title).toBe(
      "Details: the download does not match the message: it ended after 2496 bytes",
    );
    await fireEvent.click(screen.getByTestId("retry-media"));
    await waitFor(() => expect(backend.calls).toContainEqual({ cmd: "retry_media", args: { messageId: 9 } }));
    await waitFor(() => expect(screen.getByTestId("media-pending")).toBeTruthy());
    expect(screen.queryByTestId("media-failed")).toBeNull();
  });

  it("offers Save as… beside open and show in folder, and says where it was saved", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    const path = "/home/tester/.local/share/weixin-desk/media/bot1/notes-1.txt";
    backend.messages.set(KEY, [
      message({ id: 7, item_kind: "file", text: null, media_file_name: "notes.txt", media_size: 15, media_path: path, media_state: "ready" }),
    ]);
    let answer: string | null = null;
    backend.answers.save_media_as = () => answer;
    await openAlice(backend);
    const card = await waitFor(() => screen.getByTestId("file-card"));
    const actions = [...card.querySelectorAll("button")].map((b) => b.textContent?.trim());
    expect(actions).toEqual(["Open", "Show in folder", "Save as…"]);
    // Cancelled in the dialog: nothing is claimed.
    await fireEvent.click(screen.getByTestId("save-as"));
    await waitFor(() =>
      expect(backend.calls).toContainEqual({ cmd: "save_media_as", args: { path, suggestedName: "notes.txt" } }),
    );
    expect(screen.queryByTestId("saved-to")).toBeNull();
    answer = "/home/tester/Documents/notes.txt";
    await fireEvent.click(screen.getByTestId("save-as"));
    await waitFor(() => expect(screen.getByTestId("saved-to").textContent).toBe("Saved to /home/tester/Documents/notes.txt"));
    // A refusal from the shell is shown, not swallowed.
    backend.answers.save_media_as = () => {
      throw { code: "storage", message: "cannot save the file: read-only" };
    };
    await fireEvent.click(screen.getByTestId("save-as"));
    await waitFor(() => expect(document.body.textContent).toContain("cannot save the file: read-only"));
  });
});
