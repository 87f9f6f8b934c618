import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { account, conversation, emitEngine, fakeBackend, message } from "../../test/backend";

const ID = "o9cq80aa@im.wechat";

function row(peer: string): HTMLElement {
  const found = screen.getAllByTestId("conversation-item").find((r) => r.dataset.peer === peer);
  if (!found) throw new Error(`no row for ${peer}`);
  return found;
}

async function start() {
  const backend = fakeBackend();
  backend.accounts = [account()];
  backend.conversations = [
    conversation({ peer_id: ID, display_name: null, last_activity_ms: 2_000 }),
    conversation({ peer_id: "bob@im.wechat", display_name: "Bob", last_activity_ms: 1_000 }),
  ];
  backend.firstTexts[ID] = "Hi, I ordered the blue teapot";
  render(App);
  await waitFor(() => expect(screen.getAllByTestId("conversation-item")).toHaveLength(2));
  return backend;
}

async function open(peer: string) {
  await fireEvent.click(row(peer).querySelector("button")!);
  await waitFor(() => expect(screen.getByTestId("conversation-pane").dataset.peer).toBe(peer));
}

describe("names and notes for peers", () => {
  it("renames inline in the header with the first message as a hint, and clears back to the id", async () => {
    const backend = await start();
    await open(ID);
    expect(screen.getByTestId("conversation-title").textContent).toBe(ID);
    await fireEvent.click(screen.getByTestId("peer-rename"));
    const input = screen.getByTestId("peer-name-input") as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    expect(input.maxLength).toBe(64);
    await waitFor(() =>
      expect(screen.getByTestId("peer-name-hint").textContent).toContain("“Hi, I ordered the blue teapot”"),
    );
    // Markup typed as a name stays text.
    await fireEvent.input(input, { target: { value: "Wang <b>Teapot</b>" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() => expect(screen.getByTestId("conversation-title").textContent).toBe("Wang <b>Teapot</b>"));
    expect(screen.getByTestId("conversation-title").querySelector("b")).toBeNull();
    expect(backend.calls).toContainEqual({
      cmd: "rename_peer",
      args: { accountId: "bot1-im-bot", peerId: ID, name: "Wang <b>Teapot</b>" },
    });
    // The list shows the name at once, with no reload of the list.
    expect(row(ID).querySelector("[data-testid='conversation-name']")!.textContent).toBe("Wang <b>Teapot</b>");
    expect(screen.getByTestId("peer-id").textContent).toBe(ID);
    expect(backend.calls.filter((c) => c.cmd === "list_conversations")).toHaveLength(1);

    // Escape leaves it as it was; an empty name falls back to the id.
    await fireEvent.dblClick(screen.getByTestId("conversation-title"));
    const again = screen.getByTestId("peer-name-input") as HTMLInputElement;
    expect(again.value).toBe("Wang <b>Teapot</b>");
    await fireEvent.input(again, { target: { value: "ignored" } });
    await fireEvent.keyDown(again, { key: "Escape" });
    expect(screen.getByTestId("conversation-title").textContent).toBe("Wang <b>Teapot</b>");
    await fireEvent.click(screen.getByTestId("peer-rename"));
    await fireEvent.input(screen.getByTestId("peer-name-input"), { target: { value: "   " } });
    await fireEvent.keyDown(screen.getByTestId("peer-name-input"), { key: "Enter" });
    await waitFor(() => expect(screen.getByTestId("conversation-title").textContent).toBe(ID));
    expect(screen.queryByTestId("peer-id")).toBeNull();
    expect(backend.calls.filter((c) => c.cmd === "rename_peer")).toHaveLength(2);
  });

  it("a message arriving while the owner types keeps the draft", async () => {
    const backend = await start();
    await open(ID);
    await fireEvent.click(screen.getByTestId("peer-rename"));
    const input = screen.getByTestId("peer-name-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "Wan" } });
    const arrived = message({ peer_id: ID, text: "are you there?" });
    backend.messages.set(`bot1-im-bot/${ID}`, [arrived]);
    backend.conversations[0] = { ...backend.conversations[0], last_text: "are you there?" };
    await emitEngine({
      type: "message_received",
      account_id: "bot1-im-bot",
      peer_id: ID,
      message_row_id: arrived.id,
      item_kind: "text",
      preview: "are you there?",
    });
    await waitFor(() => expect(row(ID).textContent).toContain("are you there?"));
    expect((screen.getByTestId("peer-name-input") as HTMLInputElement).value).toBe("Wan");
  });

  it("the list's context menu names a peer and writes a note", async () => {
    const backend = await start();
    await fireEvent.contextMenu(row("bob@im.wechat"));
    const menu = screen.getByTestId("conversation-menu");
    expect(menu.textContent).toContain("Rename");
    await fireEvent.click(screen.getByTestId("conversation-menu-rename"));
    // The conversation opens with its header naming the peer.
    await waitFor(() => expect(screen.getByTestId("conversation-pane").dataset.peer).toBe("bob@im.wechat"));
    expect(screen.queryByTestId("conversation-menu")).toBeNull();
    const input = await waitFor(() => screen.getByTestId("peer-name-input") as HTMLInputElement);
    expect(input.value).toBe("");
    await fireEvent.input(input, { target: { value: "Bob the builder" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() =>
      expect(row("bob@im.wechat").querySelector("[data-testid='conversation-name']")!.textContent).toBe(
        "Bob the builder",
      ),
    );

    await fireEvent.contextMenu(row("bob@im.wechat"));
    await fireEvent.click(screen.getByTestId("conversation-menu-note"));
    const note = await waitFor(() => screen.getByTestId("peer-note-input") as HTMLTextAreaElement);
    await fireEvent.input(note, { target: { value: "Pays monthly\n<script>x</script>" } });
    await fireEvent.click(screen.getByTestId("peer-note-save"));
    await waitFor(() => expect(screen.getByTestId("peer-note").textContent).toBe("Pays monthly\n<script>x</script>"));
    expect(screen.getByTestId("peer-note").querySelector("script")).toBeNull();
    expect(backend.calls).toContainEqual({
      cmd: "set_peer_note",
      args: { accountId: "bot1-im-bot", peerId: "bob@im.wechat", note: "Pays monthly\n<script>x</script>" },
    });

    // The row's menu button opens the same menu.
    await fireEvent.click(row(ID).querySelector("[data-testid='conversation-menu-button']")!);
    expect(screen.getByTestId("conversation-menu").textContent).toContain("Add a note");
    await fireEvent.click(row(ID).querySelector("[data-testid='conversation-menu-button']")!);
    expect(screen.queryByTestId("conversation-menu")).toBeNull();

    // Escape closes the menu without doing anything.
    await fireEvent.contextMenu(row(ID));
    expect(screen.getByTestId("conversation-menu")).toBeTruthy();
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(screen.queryByTestId("conversation-menu")).toBeNull();
  });

  it("search lists people by name and note, and hits by their peer's name", async () => {
    const backend = await start();
    const hit = message({ peer_id: ID, text: "the blue teapot" });
    backend.answers.search_messages = () => ({
      peers: [
        {
          account_id: "bot1-im-bot",
          peer_id: ID,
          display_name: "Wang Teapot",
          alias: "Wang Teapot",
          note: "wholesale",
          first_text: null,
          first_seen_ms: 0,
          last_seen_ms: 0,
        },
      ],
      messages: [{ message: hit, peer_name: "Wang Teapot" }],
    });
    await fireEvent.click(screen.getByTestId("open-search"));
    await fireEvent.input(screen.getByTestId("search-input"), { target: { value: "teapot" } });
    const person = await waitFor(() => screen.getByTestId("search-person"));
    expect(person.textContent).toContain("Wang Teapot");
    expect(person.textContent).toContain("wholesale");
    expect(screen.getByTestId("search-result-name").textContent).toBe("Wang Teapot");
    await fireEvent.click(person);
    await waitFor(() => expect(screen.getByTestId("conversation-pane").dataset.peer).toBe(ID));
  });
});
