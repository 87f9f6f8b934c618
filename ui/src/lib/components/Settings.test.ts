import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { account, defaultPrefs, fakeBackend } from "../../test/backend";

describe("settings", () => {
  it("saves notification and start-up preferences", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    await fireEvent.click(screen.getByTestId("open-settings"));
    await fireEvent.click(screen.getByTestId("pref-dnd"));
    await waitFor(() =>
      expect(backend.calls).toContainEqual({ cmd: "set_prefs", args: { prefs: { ...defaultPrefs, do_not_disturb: true } } }),
    );
    await fireEvent.click(screen.getByTestId("pref-autostart"));
    await waitFor(() =>
      expect(backend.calls.at(-1)).toEqual({
        cmd: "set_prefs",
        args: { prefs: { ...defaultPrefs, do_not_disturb: true, autostart: true } },
      }),
    );
  });

  it("shows the time between sends in seconds (1 by default) and saves it in milliseconds", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    await fireEvent.click(screen.getByTestId("open-settings"));
    const field = screen.getByTestId("pref-send-interval") as HTMLInputElement;
    expect(field.value).toBe("1");
    await fireEvent.change(field, { target: { value: "2.5" } });
    await waitFor(() =>
      expect(backend.calls).toContainEqual({ cmd: "set_prefs", args: { prefs: { ...defaultPrefs, send_interval_ms: 2500 } } }),
    );
  });

  it("saves the longest AI reply message with the provider settings", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    await fireEvent.click(screen.getByTestId("open-settings"));
    const field = (await waitFor(() => screen.getByTestId("ai-split-limit"))) as HTMLInputElement;
    expect(field.value).toBe("1800");
    await fireEvent.input(field, { target: { value: "600" } });
    await fireEvent.change(field);
    await waitFor(() => expect(backend.calls.map((c) => c.cmd)).toContain("set_ai_global"));
    const call = backend.calls.find((c) => c.cmd === "set_ai_global")!;
    expect(call.args).toMatchObject({ settings: { split_limit: 600, history_messages: 20 } });
  });

  it("starts OpenClaw at the dedicated agent and asks before the main agent may answer", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    await fireEvent.click(screen.getByTestId("open-settings"));
    const preset = await waitFor(() => screen.getByTestId("ai-preset"));
    backend.aiAgent = { id: "weixin", main: false };
    await fireEvent.change(preset, { target: { value: "open_claw" } });
    await waitFor(() => expect(screen.getByTestId("ai-agent-name").textContent).toContain("“weixin”"));
    const saved = backend.calls.filter((c) => c.cmd === "set_ai_global").at(-1)!;
    expect(saved.args).toMatchObject({ settings: { provider: { preset: "open_claw", model: "openclaw/weixin", allow_main_agent: false } } });
    expect(screen.getByTestId("ai-agent-config").textContent).toContain('id: "weixin"');
    expect(screen.queryByTestId("ai-allow-main-agent")).toBeNull();

    backend.aiAgent = { id: "default", main: true };
    await fireEvent.input(screen.getByTestId("ai-model"), { target: { value: "openclaw/default" } });
    await fireEvent.change(screen.getByTestId("ai-model"));
    await waitFor(() => expect(screen.getByTestId("ai-main-agent-warning").textContent).toContain("every tool"));
    const consent = screen.getByTestId("ai-allow-main-agent") as HTMLInputElement;
    expect(consent.checked).toBe(false);
    await fireEvent.click(consent);
    await waitFor(() =>
      expect(backend.calls.filter((c) => c.cmd === "set_ai_global").at(-1)!.args).toMatchObject({
        settings: { provider: { model: "openclaw/default", allow_main_agent: true } },
      }),
    );
  });

  it("saves a self-hosted backend, and shows the backend's refusal", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    await fireEvent.click(screen.getByTestId("open-settings"));
    await fireEvent.input(screen.getByTestId("pref-api-base"), { target: { value: " https://ilink.example.com " } });
    await fireEvent.input(screen.getByTestId("pref-bot-agent"), { target: { value: "Desk/2" } });
    await fireEvent.input(screen.getByTestId("pref-route-tag"), { target: { value: " shard-7 " } });
    await fireEvent.click(screen.getByTestId("save-advanced"));
    await waitFor(() =>
      expect(backend.calls.at(-1)).toEqual({
        cmd: "set_prefs",
        args: {
          prefs: {
            ...defaultPrefs,
            backend: { api_base: "https://ilink.example.com", cdn_base: null, bot_agent: "Desk/2", route_tag: "shard-7" },
          },
        },
      }),
    );
    await waitFor(() => expect(screen.getByTestId("advanced-saved")).toBeTruthy());

    backend.failNext = { code: "invalid_argument", message: "the CDN base URL must start with https:// or http://" };
    await fireEvent.input(screen.getByTestId("pref-cdn-base"), { target: { value: "cdn.example.com" } });
    await fireEvent.click(screen.getByTestId("save-advanced"));
    await waitFor(() => expect(screen.getByTestId("action-error").textContent).toContain("must start with https://"));
    expect(screen.queryByTestId("advanced-saved")).toBeNull();
  });

  it("edits an account's AI rules: scope, quiet hours, allow and block lists", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: "a", alias: "Shop" })];
    render(App);
    await waitFor(() => expect(screen.getByTestId("account-name")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("open-settings"));
    await waitFor(() => expect((screen.getByTestId("account-ai-block") as HTMLTextAreaElement).value).toBe("spam@im.wechat"));
    await fireEvent.change(screen.getByTestId("account-ai-scope"), { target: { value: "shared" } });
    await fireEvent.input(screen.getByTestId("account-ai-quiet-from"), { target: { value: "23:00" } });
    await fireEvent.input(screen.getByTestId("account-ai-quiet-to"), { target: { value: "07:30" } });
    await fireEvent.input(screen.getByTestId("account-ai-allow"), { target: { value: " vip@im.wechat \n\n" } });
    await fireEvent.click(screen.getByTestId("account-ai-save"));
    await waitFor(() => expect(backend.calls.map((c) => c.cmd)).toContain("set_ai_account"));
    const call = backend.calls.find((c) => c.cmd === "set_ai_account")!;
    expect(call.args).toMatchObject({
      accountId: "a",
      settings: {
        memory_scope: "shared",
        quiet_hours: { start_minute: 1380, end_minute: 450 },
        allow: ["vip@im.wechat"],
        block: ["spam@im.wechat"],
      },
    });
    await waitFor(() => expect(screen.getByTestId("account-ai-saved")).toBeTruthy());
  });
});
