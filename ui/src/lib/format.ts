// Small pure helpers shared by components: status words, times, sizes, MIME guesses.
import type { AccountView, ConversationView } from "./ipc";
import type { MessageKey } from "./i18n/index.svelte";
import { clockTime, dayTitle, timeAhead } from "./timeLabel";

export type Tone = "ok" | "busy" | "warn" | "bad" | "off";

/** The translation key and colour of an account's state (the tray uses the same words). */
export function accountStatus(account: AccountView): { key: MessageKey; tone: Tone } {
  if (!account.enabled) {
    if (account.lifecycle === "removed") return { key: "status.removed", tone: "off" };
    if (account.lifecycle === "replaced") return { key: "status.replaced", tone: "off" };
    return { key: "status.disabled", tone: "off" };
  }
  switch (account.status.state) {
    case "online":
      return { key: "status.online", tone: "ok" };
    case "connecting":
      return { key: "status.connecting", tone: "busy" };
    case "backing_off":
      return { key: "status.backingOff", tone: "warn" };
    case "stale_token":
      return { key: "status.tokenStale", tone: "bad" };
    case "paused":
      return { key: "status.paused", tone: "warn" };
    case "stopped":
      return { key: "status.offline", tone: "off" };
  }
}

export function accountName(account: AccountView): string {
  return account.alias ?? account.account_id;
}

export function peerName(conversation: Pick<ConversationView, "display_name" | "peer_id">): string {
  return conversation.display_name ?? conversation.peer_id;
}

export type WindowState =
  | { kind: "never" }
  | { kind: "open" }
  | { kind: "closing"; minutes: number }
  | { kind: "closed" }
  /** Open, but as many messages went out as WeChat allows per message of theirs. */
  | { kind: "used_up" }
  /** Their token was imported and its age is unknown: maybe closed until they write. */
  | { kind: "unknown" };

/** The reply window: open, closing within the hour, or closed (waiting for them); of
 * unknown age for a token imported from another client. */
export function replyWindow(
  closesMs: number | null,
  nowMs: number,
  repliesLeft: number | null = null,
  ageUnknown = false,
): WindowState {
  if (ageUnknown) return { kind: "unknown" };
  if (closesMs === null) return { kind: "never" };
  const left = closesMs - nowMs;
  if (left <= 0) return { kind: "closed" };
  if (repliesLeft === 0) return { kind: "used_up" };
  if (left < 60 * 60 * 1000) return { kind: "closing", minutes: Math.max(1, Math.ceil(left / 60000)) };
  return { kind: "open" };
}

export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** The time of day, by the rules in `timeLabel.ts`. */
export function timeOfDay(ms: number, locale: string): string {
  return clockTime(ms, locale);
}

/** A time ahead in the catalog's words: "today 18:30", "tomorrow 08:30", else the date
 * and time (a reply window's end, a scheduled send). */
export function whenAhead(
  ms: number,
  nowMs: number,
  locale: string,
  t: (key: MessageKey, values: Record<string, string>) => string,
): string {
  return timeAhead(ms, nowMs, locale, {
    todayAt: (time) => t("conv.todayAt", { time }),
    tomorrowAt: (time) => t("conv.tomorrowAt", { time }),
  });
}

/** "Today", "Yesterday", a weekday or the date, for day separators. */
export function dayLabel(
  ms: number,
  nowMs: number,
  locale: string,
  words: { today: string; yesterday: string },
): string {
  return dayTitle(ms, nowMs, locale, words);
}

export function fileSize(bytes: number | null): string {
  if (bytes === null) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A time as a `datetime-local` input holds it: `YYYY-MM-DDTHH:MM`, local time. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** What a `datetime-local` input holds (seconds optional), in epoch ms; `null` when it
 * holds no time. */
export function fromLocalInput(value: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value);
  if (!match) return null;
  const [y, mo, d, h, mi, sec] = match.slice(1).map((part) => Number(part ?? 0));
  return new Date(y, mo - 1, d, h, mi, sec).getTime();
}

/** A first suggestion for Send later: an hour from now, on a quarter hour. */
export function suggestedDue(nowMs: number): number {
  const quarter = 15 * 60_000;
  return Math.ceil((nowMs + 60 * 60_000) / quarter) * quarter;
}
