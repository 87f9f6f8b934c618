import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { account, conversation, fakeBackend } from "../../test/backend";
import type { FoundAccount, GatewaySigns, OpenClawScan } from "../ipc";

function found(overrides: Partial<FoundAccount> = {}): FoundAccount {
  return {
    account_id: "b1-im-bot",
    bot_id: "b1@im.bot",
    user_id: "owner@im.wechat",
    saved_at: "2026-11-30T08:00:00.000Z",
    base_url: "https://ilinkai.weixin.qq.com",
    has_cursor: true,
    context_tokens: 3,
    allowed_peers: 1,
    problem: null,
    ...overrides,
  };
}

function scan(accounts: FoundAccount[], gateway: GatewaySigns = { pid: null, listening_port: null }): OpenClawScan {
  return { state_dir: "/home/u/.openclaw", found: true, problem: null, accounts, gateway };
}

describe("import from OpenClaw", () => {
  it("lists the plugin's accounts with their facts, warns, imports the chosen ones and shows each result", async () => {
    const backend = fakeBackend();
    backend.accounts = [];
    backend.answers.scan_openclaw = () =>
      scan([found(), found({ account_id: "b2-im-bot", bot_id: "b2@im.bot", problem: "accounts/b2-im-bot.json is missing" })], {
        pid: 4242,
        listening_port: 18789,
      });
    backend.answers.import_openclaw = (args) => {
      backend.accounts = [account({ account_id: "b1-im-bot", alias: "WeChat bot 1" })];
      return (args.accountIds as string[]).map((id) => ({
        account_id: id,
        imported: true,
        reason: null,
        has_cursor: true,
        context_tokens: 3,
        allowed_peers: 1,
      }));
    };
    render(App);
    await fireEvent.click(await screen.findByTestId("empty-import-openclaw"));
    await waitFor(() => expect(screen.getAllByTestId("openclaw-account")).toHaveLength(2));
    expect((screen.getByTestId("openclaw-folder") as HTMLInputElement).value).toBe("/home/u/.openclaw");
    const boxes = screen.getAllByTestId("openclaw-choose") as HTMLInputElement[];
    // What can come over starts chosen; what cannot says why and cannot be chosen.
    expect(boxes.map((b) => [b.checked, b.disabled])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(screen.getByTestId("openclaw-problem").textContent).toContain("accounts/b2-im-bot.json is missing");
    expect(screen.getByTestId("openclaw-facts").textContent).toContain("cursor saved");
    expect(screen.getByTestId("openclaw-facts").textContent).toContain("3 reply tokens (age unknown)");
    expect(screen.getByTestId("openclaw-warning").textContent).toContain("One bot token must have one poller");
    expect(screen.getByTestId("openclaw-gateway").textContent).toContain("process 4242");
    expect(screen.getByTestId("openclaw-gateway").textContent).toContain("port 18789");

    await fireEvent.click(screen.getByTestId("openclaw-import"));
    await waitFor(() => expect(screen.getAllByTestId("openclaw-outcome")).toHaveLength(1));
    expect(backend.calls).toContainEqual({
      cmd: "import_openclaw",
      args: { stateDir: "/home/u/.openclaw", accountIds: ["b1-im-bot"] },
    });
    expect(screen.getByTestId("openclaw-outcome").dataset.imported).toBe("true");
    // The window reads its accounts again: the imported one is listed.
    await waitFor(() => expect(screen.getAllByTestId("account-item")).toHaveLength(1));
  });

  it("opens from the login dialog, and a refused account shows its reason", async () => {
    const backend = fakeBackend();
    backend.answers.scan_openclaw = () => scan([found()]);
    backend.answers.import_openclaw = () => [
      {
        account_id: "b1-im-bot",
        imported: false,
        reason: "its cursor file has no get_updates_buf text",
        has_cursor: false,
        context_tokens: 0,
        allowed_peers: 0,
      },
    ];
    render(App);
    await fireEvent.click(await screen.findByTestId("add-account"));
    await fireEvent.click(screen.getByTestId("login-import-openclaw"));
    expect(screen.queryByTestId("login-dialog")).toBeNull();
    await fireEvent.click(await screen.findByTestId("openclaw-import"));
    await waitFor(() => expect(screen.getByTestId("openclaw-outcome").dataset.imported).toBe("false"));
    expect(screen.getByTestId("openclaw-outcome").textContent).toContain("get_updates_buf");
  });

  it("shows an imported peer's reply window as possibly closed", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation({ window_closes_ms: null, window_age_unknown: true })];
    render(App);
    await waitFor(() => expect(screen.getByTestId("conversation-window").dataset.window).toBe("unknown"));
    expect(screen.getByTestId("conversation-window").textContent).toContain("may be closed");
  });
});
