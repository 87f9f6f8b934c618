import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { account, conversation, emitEngine, fakeBackend } from "../../test/backend";
import { fromLocalInput, suggestedDue, toLocalInput } from "../format";
import type { ScheduledView } from "../ipc";

async function openAlice() {
  render(App);
  const alice = () =>
    screen.getAllByTestId("conversation-item").find((row) => row.dataset.peer === "alice@im.wechat");
  await waitFor(() => expect(alice()).toBeTruthy());
  await fireEvent.click(alice()!.querySelector("button")!);
  await waitFor(() => expect(screen.getByTestId("conversation-pane")).toBeTruthy());
}

function scheduled(overrides: Partial<ScheduledView> = {}): ScheduledView {
  return {
    outbox_id: 41,
    account_id: "bot1-im-bot",
    peer_id: "alice@im.wechat",
    kind: "text",
    text: "good morning",
    file_name: null,
    due_ms: Date.now() + 3 * 3600_000,
    state: "queued",
    wait: null,
    reason: null,
    message_row_id: null,
    ...overrides,
  };
}

describe("send later", () => {
  it("reads and writes the time a datetime-local input holds", () => {
    const at = new Date(2026, 11, 4, 19, 30).getTime();
    expect(toLocalInput(at)).toBe("2026-12-04T19:30");
    expect(fromLocalInput("2026-12-04T19:30")).toBe(at);
    expect(fromLocalInput("2026-12-04T19:30:25")).toBe(at + 25_000);
    expect(fromLocalInput("")).toBeNull();
    const due = suggestedDue(at);
    expect(due).toBeGreaterThan(at + 3600_000 - 1);
    expect(due % (15 * 60_000)).toBe(0);
  });

  it("schedules the composer's text at the picked time and clears the composer", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation({ window_closes_ms: Date.now() + 3600_000 })];
    await openAlice();
    await fireEvent.input(screen.getByTestId("composer-input"), { target: { value: "see you" } });
    await fireEvent.click(screen.getByTestId("composer-later"));
    const when = screen.getByTestId("later-when") as HTMLInputElement;
    expect((screen.getByTestId("later-text") as HTMLTextAreaElement).value).toBe("see you");
    // A time gone by is refused in the dialog.
    await fireEvent.input(when, { target: { value: "2001-01-01T08:00" } });
    await fireEvent.click(screen.getByTestId("later-submit"));
    await waitFor(() => expect(screen.getByTestId("later-problem").textContent).toContain("future"));
    const due = new Date(Date.now() + 2 * 86_400_000);
    due.setHours(9, 15, 0, 0);
    await fireEvent.input(when, { target: { value: toLocalInput(due.getTime()) } });
    await fireEvent.click(screen.getByTestId("later-submit"));
    await waitFor(() => expect(screen.queryByTestId("send-later-dialog")).toBeNull());
    const call = backend.calls.find((c) => c.cmd === "send_text_at");
    expect(call?.args).toMatchObject({ accountId: "bot1-im-bot", peerId: "alice@im.wechat", text: "see you", dueMs: due.getTime() });
    expect((screen.getByTestId("composer-input") as HTMLTextAreaElement).value).toBe("");
  });

  it("lists the conversation's scheduled messages with their reason, edits and cancels them", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    const waiting = scheduled({
      outbox_id: 42,
      text: "the report",
      state: "waiting_for_window",
      wait: "window_closed",
      reason: "waiting for them to write: the reply window closed before its time came",
    });
    backend.conversations = [conversation({ scheduled: [scheduled(), waiting] })];
    await openAlice();
    const toggle = screen.getByTestId("scheduled-toggle");
    expect(toggle.textContent).toContain("Scheduled (2)");
    await fireEvent.click(toggle);
    const items = screen.getAllByTestId("scheduled-item");
    expect(items.map((i) => i.querySelector("[data-testid=scheduled-text]")?.textContent?.trim())).toEqual([
      "good morning",
      "the report",
    ]);
    const reason = screen.getByTestId("scheduled-reason");
    expect(reason.textContent?.trim()).toBe("Waiting: the reply window closed before its time came");
    expect(reason.title).toBe("Details: waiting for them to write: the reply window closed before its time came");

    await fireEvent.click(items[0].querySelector("[data-testid=scheduled-edit]")!);
    await fireEvent.input(screen.getByTestId("later-text"), { target: { value: "good morning!" } });
    await fireEvent.click(screen.getByTestId("later-submit"));
    await waitFor(() => expect(backend.calls.some((c) => c.cmd === "edit_scheduled")).toBe(true));
    expect(backend.calls.find((c) => c.cmd === "edit_scheduled")?.args).toMatchObject({
      outboxId: 41,
      text: "good morning!",
      dueMs: null,
    });

    await fireEvent.click(items[1].querySelector("[data-testid=scheduled-cancel]")!);
    await waitFor(() => expect(backend.calls.some((c) => c.cmd === "discard_outbound")).toBe(true));
    expect(backend.calls.find((c) => c.cmd === "discard_outbound")?.args).toMatchObject({ outboxId: 42 });
    // The engine's event brings the conversation without it.
    backend.conversations = [conversation({ scheduled: [scheduled()] })];
    await emitEngine({
      type: "delivery_updated",
      outbox_id: 42,
      account_id: "bot1-im-bot",
      peer_id: "alice@im.wechat",
      message_row_id: null,
      state: "failed",
      error: "cancelled",
    });
    await waitFor(() => expect(screen.getByTestId("scheduled-toggle").textContent).toContain("Scheduled (1)"));
  });

  it("says why a scheduled message still waits in the window's language", async () => {
    const backend = fakeBackend();
    backend.info = { ...backend.info, locale: "zh-CN" };
    backend.accounts = [account()];
    const waiting = scheduled({
      state: "waiting_for_window",
      wait: "allowance_used",
      reason: "waiting for them to write: 10 messages went out since their last message, as many as WeChat allows",
    });
    backend.conversations = [conversation({ scheduled: [waiting] })];
    await openAlice();
    await fireEvent.click(screen.getByTestId("scheduled-toggle"));
    const reason = screen.getByTestId("scheduled-reason");
    expect(reason.textContent?.trim()).toBe("等待中：可发消息数已用完，需等对方发消息");
    expect(reason.title).toContain("详细信息：waiting for them to write: 10 messages");
  });
});
