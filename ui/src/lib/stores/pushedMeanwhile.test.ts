import { waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { ConversationView, MessageView } from "../ipc";
import { account, conversation, fakeBackend, message, noChanges } from "../../test/backend";
import { accounts } from "./accounts.svelte";
import { app } from "./app.svelte";
import { conversations } from "./conversations.svelte";
import { log } from "./log.svelte";
import { route } from "./router";

const A = "bot1-im-bot";
const ALICE = "alice@im.wechat";

/** An answer the test lets through when it chooses. */
function held<T>() {
  let release!: (value: T) => void;
  const answer = new Promise<T>((resolve) => (release = resolve));
  return { answer, release };
}

const picture = (state: MessageView["media_state"]) =>
  message({ id: 50, item_kind: "image", media_state: state, thumb_url: state === "ready" ? "thumb" : null });

const mediaReady = () =>
  route(
    {
      type: "media_ready",
      account_id: A,
      peer_id: ALICE,
      message_row_id: 50,
      path: "/data/50.jpg",
      kind: "image",
      mime: "image/jpeg",
      note: null,
    },
    noChanges({ message: picture("ready") }),
  );

async function listed() {
  const backend = fakeBackend();
  backend.accounts = [account({ account_id: A })];
  backend.conversations = [conversation({ peer_id: ALICE })];
  await app.reloadAccounts();
  return backend;
}

describe("views pushed while an answer from the store is on its way", () => {
  it("a picture that finishes while its conversation opens shows as ready, not the page's older copy", async () => {
    const backend = await listed();
    const page = held<{ messages: MessageView[]; older: null }>();
    backend.answers.conversation_page = () => page.answer;
    const opening = app.openConversation(ALICE);
    await mediaReady();
    // The page was read before the download finished.
    page.release({ messages: [picture("pending")], older: null });
    await opening;
    expect(log.messages.map((m) => [m.id, m.media_state])).toEqual([[50, "ready"]]);
  });

  it("a picture that finishes while older messages are paged in keeps its new state", async () => {
    const backend = await listed();
    const newest = message({ id: 60, create_time_ms: Date.now() });
    backend.answers.conversation_page = () => ({ messages: [newest], older: { create_time_ms: 1, id: 1 } });
    await app.openConversation(ALICE);
    const page = held<{ messages: MessageView[]; older: null }>();
    backend.answers.conversation_page = () => page.answer;
    const paging = log.loadOlder();
    // Older than everything loaded: the log cannot place it yet.
    await mediaReady();
    page.release({ messages: [picture("pending")], older: null });
    await paging;
    expect(log.messages.map((m) => [m.id, m.media_state])).toEqual([
      [60, "none"],
      [50, "ready"],
    ]);
  });

  it("a retried download that ends before the retry is answered is not shown as pending again", async () => {
    const backend = await listed();
    backend.answers.conversation_page = () => ({ messages: [picture("failed")], older: null });
    await app.openConversation(ALICE);
    const retried = held<boolean>();
    backend.answers.retry_media = () => retried.answer;
    const retrying = app.retryMedia(log.messages[0]);
    await mediaReady();
    retried.release(true);
    await retrying;
    expect(log.messages[0].media_state).toBe("ready");
  });

  it("a conversation row pushed while the list is read is not undone by the list", async () => {
    const backend = await listed();
    const list = held<ConversationView[]>();
    backend.answers.list_conversations = () => list.answer;
    const reloading = conversations.reload();
    await route(
      { type: "message_received", account_id: A, peer_id: ALICE, message_row_id: 61, item_kind: "text", preview: "new" },
      noChanges({ conversation: conversation({ peer_id: ALICE, unread_count: 3, last_text: "new" }) }),
    );
    list.release([conversation({ peer_id: ALICE, unread_count: 0, last_text: "hi" })]);
    await reloading;
    expect([conversations.find(ALICE)?.unread_count, conversations.find(ALICE)?.last_text]).toEqual([3, "new"]);
  });

  it("a message that arrives while the conversation is being marked read keeps it unread", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: A, unread: 2 })];
    backend.conversations = [conversation({ peer_id: ALICE, unread_count: 2 })];
    await app.reloadAccounts();
    let release = () => {};
    backend.holds.mark_read = new Promise((resolve) => (release = resolve));
    const opening = app.openConversation(ALICE);
    await waitFor(() => expect(backend.calls.map((c) => c.cmd)).toContain("mark_read"));
    // Read, then a new message (the window has no focus): the store counts one unread.
    await route(
      { type: "message_received", account_id: A, peer_id: ALICE, message_row_id: 62, item_kind: "text", preview: "late" },
      noChanges({
        accounts: [account({ account_id: A, unread: 1 })],
        conversation: conversation({ peer_id: ALICE, unread_count: 1, last_text: "late" }),
      }),
    );
    release();
    await opening;
    expect(conversations.find(ALICE)?.unread_count).toBe(1);
    expect(accounts.find(A)?.unread).toBe(1);
  });

  it("a row pushed while a rename is answered keeps its newer text, and the name", async () => {
    const backend = await listed();
    const renamed = held<ConversationView>();
    backend.answers.rename_peer = () => renamed.answer;
    const renaming = app.renamePeer(A, ALICE, "Ally");
    await route(
      { type: "message_received", account_id: A, peer_id: ALICE, message_row_id: 63, item_kind: "text", preview: "new" },
      noChanges({ conversation: conversation({ peer_id: ALICE, alias: "Ally", last_text: "new" }) }),
    );
    renamed.release(conversation({ peer_id: ALICE, alias: "Ally", last_text: "hi" }));
    await renaming;
    expect([conversations.find(ALICE)?.last_text, conversations.find(ALICE)?.alias]).toEqual(["new", "Ally"]);
  });
});
