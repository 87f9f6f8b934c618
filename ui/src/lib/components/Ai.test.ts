import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { account, conversation, emitEngine, fakeBackend } from "../../test/backend";
import { timeOfDay } from "../format";

describe("AI controls", () => {
  it("shows a long AI turn working, from the events alone, until it ends", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    render(App);
    await waitFor(() => expect(screen.getByTestId("conversation-item")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("conversation-item").querySelector("button")!);
    await waitFor(() => expect(screen.getByTestId("peer-ai-state")).toBeTruthy());
    expect(screen.queryByTestId("ai-working")).toBeNull();
    const ids = { account_id: "bot1-im-bot", peer_id: "Alice@im.wechat" };
    const calls = backend.calls.length;
    await emitEngine({ type: "ai", event: { kind: "run_started", ...ids, inbound: 1 } });
    await waitFor(() => expect(screen.getByTestId("ai-working").textContent).toContain("AI is replying"));
    await emitEngine({ type: "ai", event: { kind: "still_working", ...ids, elapsed_ms: 95_000 } });
    await waitFor(() => expect(screen.getByTestId("ai-working").textContent).toContain("95 s"));
    // Another conversation's turn shows nothing here.
    await emitEngine({ type: "ai", event: { kind: "no_reply", account_id: "bot1-im-bot", peer_id: "bob@im.wechat", reason: "x" } });
    expect(screen.getByTestId("ai-working")).toBeTruthy();
    await emitEngine({ type: "ai", event: { kind: "no_reply", ...ids, reason: "the agent chose not to answer" } });
    await waitFor(() => expect(screen.queryByTestId("ai-working")).toBeNull());
    expect(backend.calls.length).toBe(calls);
  });

  it("switches AI per account and per peer, and resumes after a takeover", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    backend.aiAccounts = { "bot1-im-bot": false };
    render(App);
    await waitFor(() => expect(screen.getByTestId("account-ai-toggle")).toBeTruthy());
    const toggle = screen.getByTestId("account-ai-toggle") as HTMLInputElement;
    expect(toggle.checked).toBe(false);
    await fireEvent.click(toggle);
    await waitFor(() =>
      expect(backend.calls).toContainEqual({
        cmd: "set_ai_account_enabled",
        args: { accountId: "bot1-im-bot", enabled: true },
      }),
    );
    await waitFor(() => expect((screen.getByTestId("account-ai-toggle") as HTMLInputElement).checked).toBe(true));

    backend.aiPeer = { enabled: null, effective: true, persona: null, takeover_until_ms: Date.now() + 3600_000 };
    await emitEngine({
      type: "ai",
      event: { kind: "takeover_started", account_id: "bot1-im-bot", peer_id: "alice@im.wechat", until_ms: Date.now() + 3600_000 },
    });
    await fireEvent.click(screen.getByTestId("conversation-item").querySelector("button")!);
    await waitFor(() => expect(screen.getByTestId("peer-ai-state").textContent).toContain("You took over until"));
    await fireEvent.click(screen.getByTestId("resume-ai"));
    await waitFor(() => expect(screen.getByTestId("peer-ai-state").textContent?.trim()).toBe("AI on"));
    expect(backend.calls).toContainEqual({ cmd: "resume_ai_peer", args: { accountId: "bot1-im-bot", peerId: "alice@im.wechat" } });

    await fireEvent.click(screen.getByTestId("toggle-peer-ai"));
    await waitFor(() => expect(screen.getByTestId("peer-ai-state").textContent?.trim()).toBe("AI off"));
    expect(backend.calls).toContainEqual({
      cmd: "set_ai_peer_enabled",
      args: { accountId: "bot1-im-bot", peerId: "alice@im.wechat", enabled: false },
    });

    // A takeover announced by the engine shows at once.
    backend.aiPeer = { ...backend.aiPeer, takeover_until_ms: Date.now() + 1800_000 };
    await emitEngine({
      type: "ai",
      event: { kind: "takeover_started", account_id: "bot1-im-bot", peer_id: "alice@im.wechat", until_ms: Date.now() + 1800_000 },
    });
    await waitFor(() => expect(screen.getByTestId("resume-ai")).toBeTruthy());
  });

  it("shows, edits and resets the peer's memory and sets a persona", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation()];
    backend.aiPeer = { enabled: true, effective: true, persona: null, takeover_until_ms: null };
    render(App);
    await waitFor(() => expect(screen.getByTestId("conversation-item")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("conversation-item").querySelector("button")!);
    await waitFor(() => expect(screen.getByTestId("toggle-ai-panel")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("toggle-ai-panel"));
    await waitFor(() =>
      expect((screen.getByTestId("ai-memory-summary") as HTMLTextAreaElement).value).toBe("likes hiking"),
    );
    expect(screen.getByTestId("ai-memory-history").textContent).toContain("1 messages");
    await fireEvent.input(screen.getByTestId("ai-memory-summary"), { target: { value: "likes tea" } });
    await fireEvent.change(screen.getByTestId("ai-memory-summary"));
    await waitFor(() => expect(backend.aiSummary).toBe("likes tea"));
    await fireEvent.click(screen.getByTestId("ai-memory-reset"));
    await waitFor(() => expect((screen.getByTestId("ai-memory-summary") as HTMLTextAreaElement).value).toBe(""));
    await fireEvent.input(screen.getByTestId("ai-persona"), { target: { value: "a cheerful shop assistant" } });
    await fireEvent.change(screen.getByTestId("ai-persona"));
    await waitFor(() =>
      expect(backend.calls).toContainEqual({
        cmd: "set_ai_peer_persona",
        args: { accountId: "bot1-im-bot", peerId: "alice@im.wechat", persona: "a cheerful shop assistant" },
      }),
    );
  });

  it("keeps the API key write-only", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    await fireEvent.click(screen.getByTestId("open-settings"));
    await waitFor(() => expect(screen.getByTestId("ai-key-state").textContent).toBe("No key stored."));
    await fireEvent.input(screen.getByTestId("ai-key"), { target: { value: " sk-test-123 " } });
    await fireEvent.click(screen.getByTestId("ai-save-key"));
    await waitFor(() => expect(screen.getByTestId("ai-key-state").textContent).toContain("A key is stored"));
    expect(backend.calls).toContainEqual({ cmd: "set_ai_key", args: { key: " sk-test-123 " } });
    // The field is emptied and nothing shows the key back.
    expect((screen.getByTestId("ai-key") as HTMLInputElement).value).toBe("");
    expect(document.body.textContent).not.toContain("sk-test-123");
  });
});

describe("AI state in the conversation list", () => {
  it("shows on, off and taken over until hh:mm per row, and follows takeover events", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [
      // Most recent first, as the store lists them (a pushed row is sorted by activity).
      conversation({ peer_id: "amy@im.wechat", display_name: "Amy", last_activity_ms: 3_000 }),
      conversation({ peer_id: "ben@im.wechat", display_name: "Ben", last_activity_ms: 2_000 }),
      conversation({ peer_id: "cat@im.wechat", display_name: "Cat", last_activity_ms: 1_000 }),
    ];
    const until = new Date(2030, 0, 1, 14, 5).getTime();
    const tookOver = `You took over until ${timeOfDay(until, "en")}`;
    const states: Record<string, { enabled: boolean | null; effective: boolean; persona: null; takeover_until_ms: number | null }> = {
      "amy@im.wechat": { enabled: true, effective: true, persona: null, takeover_until_ms: null },
      "ben@im.wechat": { enabled: false, effective: false, persona: null, takeover_until_ms: null },
      "cat@im.wechat": { enabled: null, effective: true, persona: null, takeover_until_ms: until },
    };
    backend.answers.ai_peer = (args) => states[args.peerId as string];
    render(App);
    const rows = () =>
      screen.getAllByTestId("conversation-item").map((row) => {
        const ai = row.querySelector<HTMLElement>("[data-testid='conversation-ai']");
        return [row.dataset.peer, ai?.dataset.ai, ai?.textContent?.trim()];
      });
    await waitFor(() =>
      expect(rows()).toEqual([
        ["amy@im.wechat", "on", "AI on"],
        ["ben@im.wechat", "off", "AI off"],
        ["cat@im.wechat", "taken_over", tookOver],
      ]),
    );
    // Amy's owner writes from the phone: her row follows the takeover event.
    states["amy@im.wechat"] = { ...states["amy@im.wechat"], takeover_until_ms: until };
    await emitEngine({
      type: "ai",
      event: { kind: "takeover_started", account_id: "bot1-im-bot", peer_id: "amy@im.wechat", until_ms: until },
    } as never);
    await waitFor(() => expect(rows()[0].slice(1)).toEqual(["taken_over", tookOver]));
  });
});
