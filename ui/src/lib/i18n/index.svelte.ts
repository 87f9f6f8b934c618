// One key set for the UI and the Rust side (tray, notifications): the same two JSON files.
import en from "./en.json";
import zhCN from "./zh-CN.json";
import type { Locale } from "../ipc";

export type MessageKey = keyof typeof en;

const catalogs: Record<Locale, Record<MessageKey, string>> = {
  en,
  "zh-CN": zhCN,
};

export const LOCALES: readonly Locale[] = ["zh-CN", "en"];

let current = $state<Locale>("en");

export function locale(): Locale {
  return current;
}

export function setActiveLocale(next: Locale): void {
  current = next;
  document.documentElement.lang = next;
}

/** Translates `key`, filling `{name}` placeholders from `values`. */
export function t(key: MessageKey, values: Record<string, string> = {}): string {
  return translate(current, key, values);
}

/** `t` in a given language rather than the active one. */
export function translate(lang: Locale, key: MessageKey, values: Record<string, string> = {}): string {
  const text = catalogs[lang][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}
