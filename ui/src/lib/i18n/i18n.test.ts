import { describe, expect, it } from "vitest";
import en from "./en.json";
import zhCN from "./zh-CN.json";
import { locale, setActiveLocale, t } from "./index.svelte";

describe("i18n", () => {
  it("has the same keys in both languages", () => {
    expect(Object.keys(zhCN).sort()).toEqual(Object.keys(en).sort());
  });

  it("translates and fills placeholders", () => {
    setActiveLocale("zh-CN");
    expect(locale()).toBe("zh-CN");
    expect(t("sidebar.accounts")).toBe("账号");
    expect(t("error.generic", { message: "磁盘已满" })).toBe("出错了：磁盘已满");
    expect(document.documentElement.lang).toBe("zh-CN");
    setActiveLocale("en");
    expect(t("error.generic", { message: "disk full" })).toBe("Something went wrong: disk full");
    expect(t("error.generic")).toBe("Something went wrong: {message}");
  });
});
