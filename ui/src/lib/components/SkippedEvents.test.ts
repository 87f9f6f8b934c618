import { emit } from "@tauri-apps/api/event";
import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { account, conversation, fakeBackend, message } from "../../test/backend";

const A = "bot1-im-bot";
const KEY = `${A}/alice@im.wechat`;

async function openAlice() {
  render(App);
  const alice = () =>
    screen.getAllByTestId("conversation-item").find((row) => row.dataset.peer === "alice@im.wechat");
  await waitFor(() => expect(alice()).toBeTruthy());
  await fireEvent.click(alice()!.querySelector("button")!);
  await waitFor(() => expect(screen.getByTestId("conversation-pane")).toBeTruthy());
}

const count = (backend: ReturnType<typeof fakeBackend>, cmd: string) =>
  backend.calls.filter((c) => c.cmd === cmd).length;

describe("events the window skipped", () => {
  it("says how many, and reads again only the accounts, conversations and log they touched", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: A, alias: "Shop" }), account({ account_id: "other", alias: "Other" })];
    const now = Date.now();
    backend.conversations = [
      conversation({ peer_id: "alice@im.wechat", last_activity_ms: now - 10 }),
      conversation({ peer_id: "bob@im.wechat", display_name: "Bob", last_activity_ms: now - 20 }),
    ];
    backend.messages.set(KEY, [message({ id: 1, text: "before" })]);
    await openAlice();
    await waitFor(() => expect(screen.getAllByTestId("message-text").map((e) => e.textContent)).toEqual(["before"]));

    // Meanwhile the store moved on: Alice wrote twice, Bob's row and the other account
    // changed too, but the skipped events touched only Alice and her account.
    backend.accounts = [
      account({ account_id: A, alias: "Shop", unread: 2 }),
      account({ account_id: "other", alias: "Renamed elsewhere" }),
    ];
    backend.conversations = [
      conversation({ peer_id: "alice@im.wechat", last_text: "second", last_activity_ms: now }),
      conversation({ peer_id: "bob@im.wechat", display_name: "Bob", last_text: "untouched change", last_activity_ms: now - 20 }),
    ];
    backend.messages.set(KEY, [
      message({ id: 3, text: "second", create_time_ms: now }),
      message({ id: 2, text: "first", create_time_ms: now - 1 }),
      message({ id: 1, text: "before" }),
    ]);
    const pages = count(backend, "conversation_page");
    const lists = count(backend, "list_conversations");
    await emit("engine-lagged", {
      missed: 7,
      touched: {
        every_account: false,
        accounts: [A],
        conversations: [{ account_id: A, peer_id: "alice@im.wechat" }],
      },
    });

    await waitFor(() =>
      expect(screen.getByTestId("skipped-events").textContent).toContain("skipped 7 updates"),
    );
    await waitFor(() =>
      expect(screen.getAllByTestId("message-text").map((e) => e.textContent)).toEqual(["before", "first", "second"]),
    );
    expect(count(backend, "conversation_page")).toBe(pages + 1);
    expect(count(backend, "list_conversations")).toBe(lists + 1);
    // The touched rows are read again; the untouched ones stay as they were shown.
    await waitFor(() => expect(screen.getByTestId("account-unread").textContent).toBe("2"));
    expect(screen.getAllByTestId("account-name").map((e) => e.textContent)).toEqual(["Shop", "Other"]);
    const previews = screen.getAllByTestId("conversation-preview").map((e) => e.textContent);
    expect(previews).toEqual(["second", "hi"]);
    // No full reload.
    expect(count(backend, "app_info")).toBe(1);

    await fireEvent.click(screen.getByTestId("skipped-events").querySelector("button")!);
    expect(screen.queryByTestId("skipped-events")).toBeNull();
  });

  it("reads nothing of an account whose events it did not miss, and everything when the engine cannot tell", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: A })];
    backend.conversations = [conversation({ peer_id: "alice@im.wechat" })];
    backend.messages.set(KEY, [message({ id: 1, text: "before" })]);
    await openAlice();
    const before = backend.calls.length;
    // Another account's conversation only: the open account's list and log are not read.
    await emit("engine-lagged", {
      missed: 2,
      touched: {
        every_account: false,
        accounts: ["other"],
        conversations: [{ account_id: "other", peer_id: "zed@im.wechat" }],
      },
    });
    await waitFor(() => expect(screen.getByTestId("skipped-events").textContent).toContain("skipped 2 updates"));
    await waitFor(() => expect(backend.calls.length).toBe(before + 1));
    expect(backend.calls.slice(before).map((c) => c.cmd)).toEqual(["list_accounts"]);

    // Too far behind to know: everything again, and the counts add up.
    await emit("engine-lagged", { missed: 5, touched: null });
    await waitFor(() => expect(count(backend, "app_info")).toBe(2));
    expect(screen.getByTestId("skipped-events").textContent).toContain("skipped 7 updates");
  });
});
