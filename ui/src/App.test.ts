import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { emit } from "@tauri-apps/api/event";
import App from "./App.svelte";
import { account, conversation, fakeBackend } from "./test/backend";

describe("App", () => {
  it("shows the empty state in the backend's language, with add-account and the sandbox", async () => {
    const backend = fakeBackend({ locale: "zh-CN" });
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    expect(screen.getByTestId("accounts-title").textContent).toBe("账号");
    expect(screen.getByTestId("empty-title").textContent).toBe("这里还什么都没有");
    expect(screen.getByTestId("try-sandbox").textContent?.trim()).toBe("试用沙盒");
    await fireEvent.click(screen.getByTestId("try-sandbox"));
    await waitFor(() => expect(backend.calls.map((c) => c.cmd)).toContain("enter_sandbox"));
  });

  it("labels the sandbox and offers no sandbox link inside it", async () => {
    fakeBackend({ mode: { kind: "sandbox" } });
    render(App);
    await waitFor(() => expect(screen.getByTestId("mode-badge").textContent?.trim()).toBe("Sandbox"));
    expect(screen.queryByTestId("try-sandbox")).toBeNull();
  });

  it("says the engine is starting, then loads accounts when it is ready", async () => {
    const backend = fakeBackend({ engine_ready: false });
    render(App);
    await waitFor(() =>
      expect(screen.getByTestId("engine-state").textContent?.trim()).toBe("Starting the engine…"),
    );
    expect(backend.calls.map((c) => c.cmd)).not.toContain("list_accounts");
    backend.info = { ...backend.info, engine_ready: true, mode: { kind: "sandbox" } };
    backend.accounts = [account({ alias: "Demo bot" })];
    await emit("backend-changed", { mode: { kind: "sandbox" }, ready: true, error: null });
    await waitFor(() => expect(screen.getByTestId("account-name").textContent).toBe("Demo bot"));
  });

  it("switches language at runtime and saves it through the backend", async () => {
    const backend = fakeBackend({ locale: "en" });
    render(App);
    await waitFor(() => expect(screen.getByTestId("accounts-title").textContent).toBe("Accounts"));
    expect(document.querySelector("aside select")).toBeNull();
    await fireEvent.click(screen.getByTestId("open-settings"));
    await fireEvent.change(screen.getByTestId("settings-language"), { target: { value: "zh-CN" } });
    await waitFor(() => expect(screen.getByTestId("accounts-title").textContent).toBe("账号"));
    expect(backend.calls).toContainEqual({ cmd: "set_locale", args: { locale: "zh-CN" } });
  });

  it("opens settings with backend data and comes back", async () => {
    fakeBackend({ version: "0.4.2", data_dir: "/data/wd" });
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    await fireEvent.click(screen.getByTestId("open-settings"));
    expect(screen.getByTestId("app-version").textContent).toBe("0.4.2");
    expect(screen.getByTestId("data-dir").textContent).toBe("/data/wd");
    await fireEvent.click(screen.getByTestId("close-settings"));
    expect(screen.getByTestId("empty-state")).toBeTruthy();
  });

  it("shows a readable error when the backend fails", async () => {
    const backend = fakeBackend();
    backend.failNext = { code: "storage", message: "database is locked" };
    render(App);
    await waitFor(() =>
      expect(screen.getByTestId("load-error").textContent).toBe(
        "Something went wrong: database is locked",
      ),
    );
  });

  it("warns when secrets cannot be persisted, and not otherwise", async () => {
    fakeBackend({ secrets: { kind: "not_persistent", reason: "no keyring service" } });
    render(App);
    await waitFor(() =>
      expect(screen.getByTestId("secrets-banner").textContent).toContain("no keyring service"),
    );
    expect(screen.getByTestId("secrets-banner-sentence").textContent).toBe(
      "Your system keyring is locked or missing, so tokens are kept only until Weixin Desk quits. Unlock it or see Help.",
    );
    // The keyring's own words wait behind Details.
    expect(screen.getByTestId("secrets-banner-details").textContent).toContain("no keyring service");
  });

  it("says nothing of throwaway secrets in the sandbox", async () => {
    fakeBackend({ secrets: { kind: "not_persistent", reason: "sandbox" }, mode: { kind: "sandbox" } });
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    expect(screen.queryByTestId("secrets-banner")).toBeNull();
  });

  it("shows the keyring verdict when it arrives after start-up", async () => {
    fakeBackend({ secrets: null });
    render(App);
    await waitFor(() => expect(screen.getByTestId("app-frame").dataset.ready).toBe("true"));
    await fireEvent.click(screen.getByTestId("open-settings"));
    expect(screen.getByTestId("secrets-status").textContent?.trim()).toBe("Checking the keyring…");
    expect(screen.queryByTestId("secrets-banner")).toBeNull();
    await emit("secrets-status-changed", { status: { kind: "not_persistent", reason: "locked" } });
    await waitFor(() => expect(screen.getByTestId("secrets-banner")).toBeTruthy());
    expect(screen.getByTestId("secrets-status").textContent?.trim()).toBe(
      "Memory only, lost on quit",
    );
  });
});

describe("start-up measurement", () => {
  const reports = (backend: ReturnType<typeof fakeBackend>) =>
    backend.calls.filter((c) => c.cmd === "report_first_paint").length;

  it("reports the first paint once, after the conversation list has its rows", async () => {
    const backend = fakeBackend();
    backend.accounts = [account()];
    backend.conversations = [conversation({ display_name: "Amy" })];
    let listed = false;
    backend.answers.list_conversations = () => {
      listed = true;
      return backend.conversations;
    };
    backend.answers.report_first_paint = () => {
      // By now the list's row is in the page.
      expect(listed).toBe(true);
      expect(screen.getAllByTestId("conversation-item")).toHaveLength(1);
      return true;
    };
    render(App);
    await waitFor(() => expect(reports(backend)).toBe(1));
    // Later reloads do not report again.
    await emit("engine-lagged", { missed: 1, touched: null }).catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    expect(reports(backend)).toBe(1);
  });

  it("reports it for the empty state when there are no accounts", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(reports(backend)).toBe(1));
    expect(screen.getByTestId("empty-title")).toBeTruthy();
  });
});
