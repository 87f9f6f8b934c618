import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import App from "../../App.svelte";
import { emit } from "@tauri-apps/api/event";
import { account, emitEngine, fakeBackend } from "../../test/backend";

describe("accounts sidebar", () => {
  it("shows each account's status in words, its unread count, and follows status events", async () => {
    const backend = fakeBackend();
    backend.accounts = [
      account({ account_id: "a", alias: "Shop", unread: 3, undecodable: 2 }),
      account({ account_id: "b", alias: null, status: { state: "stale_token", until_ms: 1 } }),
      account({ account_id: "c", alias: "Old", enabled: false, lifecycle: "removed" }),
    ];
    render(App);
    await waitFor(() => expect(screen.getAllByTestId("account-item")).toHaveLength(3));
    const statuses = screen.getAllByTestId("account-status").map((e) => e.textContent);
    expect(statuses).toEqual(["Online", "Scan again to reconnect", "Removed (log kept)"]);
    expect(screen.getAllByTestId("account-name").map((e) => e.textContent)).toEqual(["Shop", "b", "Old"]);
    expect(screen.getByTestId("account-unread").textContent).toBe("3");
    // Messages kept raw are counted on their account only.
    expect(screen.getAllByTestId("account-undecodable").map((e) => e.textContent)).toEqual(["· 2 kept raw"]);
    // "Scan again" only for the stale account; it opens the login dialog.
    expect(screen.getAllByTestId("scan-again")).toHaveLength(1);
    await fireEvent.click(screen.getByTestId("scan-again"));
    expect(screen.getByTestId("login-dialog")).toBeTruthy();
    // The stale account has no alias: the name field starts empty.
    expect((screen.getByTestId("login-alias") as HTMLInputElement).value).toBe("");

    await emitEngine({
      type: "account_status_changed",
      account_id: "a",
      status: { state: "backing_off", attempt: 2, until_ms: 5 },
    });
    await waitFor(() => expect(screen.getAllByTestId("account-status")[0].textContent).toBe("Reconnecting soon"));
  });

  it("renames inline with Enter and leaves the alias alone with Escape", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: "a", alias: "Shop" })];
    render(App);
    await waitFor(() => expect(screen.getByTestId("account-name")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("account-menu"));
    await fireEvent.click(screen.getByTestId("menu-rename"));
    const input = screen.getByTestId("account-rename-input") as HTMLInputElement;
    expect(input.value).toBe("Shop");
    await fireEvent.input(input, { target: { value: "Front desk" } });
    await fireEvent.keyDown(input, { key: "Enter" });
    await waitFor(() =>
      expect(backend.calls).toContainEqual({ cmd: "rename_account", args: { accountId: "a", alias: "Front desk" } }),
    );

    await fireEvent.dblClick(screen.getByTestId("account-select"));
    const again = screen.getByTestId("account-rename-input") as HTMLInputElement;
    await fireEvent.input(again, { target: { value: "Nope" } });
    await fireEvent.keyDown(again, { key: "Escape" });
    expect(backend.calls.filter((c) => c.cmd === "rename_account")).toHaveLength(1);
  });

  it("removes after asking whether to keep the log", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: "a", alias: "Shop" })];
    render(App);
    await waitFor(() => expect(screen.getByTestId("account-menu")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("account-menu"));
    await fireEvent.click(screen.getByTestId("menu-remove"));
    expect(screen.getByTestId("remove-dialog").textContent).toContain("Remove Shop?");
    const keep = screen.getByTestId("remove-keep-log") as HTMLInputElement;
    expect(keep.checked).toBe(true);
    await fireEvent.click(keep);
    await fireEvent.click(screen.getByTestId("remove-confirm"));
    await waitFor(() =>
      expect(backend.calls).toContainEqual({ cmd: "remove_account", args: { accountId: "a", keepLog: false } }),
    );
  });

  it("disables from the context menu", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: "a" })];
    render(App);
    await waitFor(() => expect(screen.getByTestId("account-item")).toBeTruthy());
    await fireEvent.contextMenu(screen.getByTestId("account-item"));
    await fireEvent.click(screen.getByTestId("menu-toggle-enabled"));
    await waitFor(() =>
      expect(backend.calls).toContainEqual({ cmd: "set_account_enabled", args: { accountId: "a", enabled: false } }),
    );
  });
});

describe("login dialog", () => {
  it("follows every login state in words and draws the QR from the URL", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("empty-add-account")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("empty-add-account"));
    await fireEvent.input(screen.getByTestId("login-alias"), { target: { value: "Shop" } });
    await fireEvent.click(screen.getByTestId("login-start"));
    await waitFor(() => expect(backend.calls).toContainEqual({ cmd: "start_login", args: { alias: "Shop" } }));
    const state = () => screen.getByTestId("login-state").textContent?.trim();
    const step = async (s: Parameters<typeof emitEngine>[0] extends infer E ? E : never) => emitEngine(s);

    await step({ type: "login_progress", login_id: "login-1", state: { state: "qr_ready", url: "https://q/1" } });
    await waitFor(() => expect(screen.getByTestId("login-qr").dataset.qrText).toBe("https://q/1"));
    // The picture is the backend's SVG, embedded as it came.
    await waitFor(() => expect(screen.getByTestId("login-qr-svg").querySelector("svg path")).toBeTruthy());
    expect(screen.getByTestId("login-qr-svg").getAttribute("aria-label")).toBeTruthy();
    expect(state()).toBe("Scan this code with WeChat on your phone.");
    expect(backend.calls).toContainEqual({ cmd: "qr_svg", args: { text: "https://q/1" } });

    // Events of another login are ignored.
    await step({ type: "login_progress", login_id: "other", state: { state: "scanned" } });
    expect(state()).toBe("Scan this code with WeChat on your phone.");

    const expectations: [Parameters<typeof emitEngine>[0], string][] = [
      [{ type: "login_progress", login_id: "login-1", state: { state: "scanned" } }, "Scanned. Confirm the login on your phone."],
      [{ type: "login_progress", login_id: "login-1", state: { state: "verify_code_needed" } }, "Enter the digits shown on your phone."],
      [{ type: "login_progress", login_id: "login-1", state: { state: "verify_code_wrong" } }, "That code was wrong. Enter the digits shown on your phone again."],
      [{ type: "login_progress", login_id: "login-1", state: { state: "verify_code_blocked" } }, "Too many wrong codes. A new QR code is coming."],
      [{ type: "login_progress", login_id: "login-1", state: { state: "redirected", host: "sz.example" } }, "Moved to another server (sz.example); still waiting."],
      [{ type: "login_progress", login_id: "login-1", state: { state: "expired" } }, "The QR code expired."],
      [{ type: "login_progress", login_id: "login-1", state: { state: "refreshed", n: 2 } }, "New QR code (2/3)."],
      [{ type: "login_progress", login_id: "login-1", state: { state: "already_bound" } }, "This bot is already on this computer; nothing was added."],
    ];
    for (const [event, text] of expectations) {
      await step(event);
      await waitFor(() => expect(state()).toBe(text));
    }
  });

  it("submits the verify code and reports a failure with its reason", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("empty-add-account")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("empty-add-account"));
    await fireEvent.click(screen.getByTestId("login-start"));
    await emitEngine({ type: "login_progress", login_id: "login-1", state: { state: "verify_code_needed" } });
    await waitFor(() => expect(screen.getByTestId("login-code")).toBeTruthy());
    await fireEvent.input(screen.getByTestId("login-code"), { target: { value: "4821" } });
    await fireEvent.click(screen.getByTestId("login-code-submit"));
    await waitFor(() =>
      expect(backend.calls).toContainEqual({ cmd: "submit_login_code", args: { loginId: "login-1", code: "4821" } }),
    );
    await emitEngine({ type: "login_progress", login_id: "login-1", state: { state: "failed", reason: "deadline passed" } });
    await waitFor(() => expect(screen.getByTestId("login-state").textContent?.trim()).toBe("Login failed: deadline passed"));
    expect(screen.getByTestId("login-retry")).toBeTruthy();
  });

  it("says a classified login failure in words, with the machine text behind Details", async () => {
    fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("empty-add-account")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("empty-add-account"));
    await fireEvent.click(screen.getByTestId("login-start"));
    const reason = "could not get a QR code: dns network error: failed to lookup address information";
    await emitEngine({ type: "login_progress", login_id: "login-1", state: { state: "failed", reason, problem: "dns" } });
    await waitFor(() =>
      expect(screen.getByTestId("login-error-sentence").textContent).toBe(
        "Login failed: Can't find WeChat's server on the network (name lookup failed). Check the internet connection or the DNS settings, then try again.",
      ),
    );
    const details = screen.getByTestId("login-error-details") as HTMLDetailsElement;
    expect(details.open).toBe(false);
    expect(details.querySelector("summary")?.textContent).toBe("Details");
    expect(details.querySelector("pre")?.textContent).toBe(reason);
  });

  it("marks every conversation of an account read from its menu", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: "a", alias: "Shop", unread: 3 })];
    render(App);
    await waitFor(() => expect(screen.getByTestId("account-unread").textContent).toBe("3"));
    await fireEvent.click(screen.getByTestId("account-menu"));
    await fireEvent.click(screen.getByTestId("menu-mark-all-read"));
    await waitFor(() => expect(screen.queryByTestId("account-unread")).toBeNull());
    expect(backend.calls).toContainEqual({ cmd: "mark_account_read", args: { accountId: "a" } });
  });

  it("cancels a running login when closed, and reloads accounts on success", async () => {
    const backend = fakeBackend();
    render(App);
    await waitFor(() => expect(screen.getByTestId("empty-add-account")).toBeTruthy());
    await fireEvent.click(screen.getByTestId("empty-add-account"));
    await fireEvent.click(screen.getByTestId("login-start"));
    await waitFor(() => expect(backend.calls.map((c) => c.cmd)).toContain("start_login"));
    await fireEvent.click(screen.getByTestId("login-cancel"));
    await waitFor(() => expect(backend.calls).toContainEqual({ cmd: "cancel_login", args: { loginId: "login-1" } }));
    expect(screen.queryByTestId("login-dialog")).toBeNull();

    await fireEvent.click(screen.getByTestId("empty-add-account"));
    await fireEvent.click(screen.getByTestId("login-start"));
    backend.accounts = [account({ account_id: "new", alias: "New" })];
    await emitEngine({
      type: "login_progress",
      login_id: "login-1",
      state: { state: "confirmed", account_id: "new", bot_id: "new@im.bot", user_id: null, replaced: [] },
    });
    await waitFor(() => expect(screen.getByTestId("login-state").textContent?.trim()).toBe("Logged in. The account is starting."));
    await waitFor(() => expect(screen.getByTestId("account-name").textContent).toBe("New"));
    const cancels = backend.calls.filter((c) => c.cmd === "cancel_login").length;
    await fireEvent.click(screen.getByTestId("login-close"));
    expect(backend.calls.filter((c) => c.cmd === "cancel_login").length).toBe(cancels);
  });

  it("keeps a status event that arrives while the account list is being read", async () => {
    const backend = fakeBackend();
    backend.accounts = [account({ account_id: "a", status: { state: "connecting" } })];
    render(App);
    await waitFor(() => expect(screen.getByTestId("account-status").textContent).toBe("Connecting…"));
    // The next list is read while the account is still connecting, and answers late.
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const stale = [...backend.accounts];
    backend.answers.list_accounts = async () => {
      await gate;
      return stale;
    };
    const lists = backend.calls.filter((c) => c.cmd === "list_accounts").length;
    // Missed events make the window read everything again.
    await emit("engine-lagged", { missed: 3, touched: null });
    // The list request is out (read before the change) when the status event comes.
    await waitFor(() => expect(backend.calls.filter((c) => c.cmd === "list_accounts").length).toBe(lists + 1));
    await emitEngine({ type: "account_status_changed", account_id: "a", status: { state: "online" } });
    await waitFor(() => expect(screen.getByTestId("account-status").textContent).toBe("Online"));
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.getByTestId("account-status").textContent).toBe("Online");
  });
});
