import { describe, expect, it } from "vitest";
import { api, BackendError } from "./index";
import { fakeBackend } from "../../test/backend";

describe("ipc", () => {
  it("returns command data", async () => {
    fakeBackend({ version: "1.2.3" });
    await expect(api.appInfo()).resolves.toMatchObject({ version: "1.2.3", locale: "en" });
  });

  it("sends typed arguments", async () => {
    const backend = fakeBackend();
    await expect(api.setLocale("zh-CN")).resolves.toBe("zh-CN");
    expect(backend.calls.at(-1)).toEqual({ cmd: "set_locale", args: { locale: "zh-CN" } });
  });

  it("turns a backend error into a BackendError with its code", async () => {
    const backend = fakeBackend();
    backend.failNext = { code: "storage", message: "disk full", details: "ENOSPC" };
    const error = await api.setLocale("en").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: "storage", message: "disk full", details: "ENOSPC" });
  });
});
