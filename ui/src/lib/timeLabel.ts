// How times read, as messengers show them: the clock in 24-hour form for Chinese and by
// the system's own preference otherwise; "Yesterday" and weekday names for the last week.

const DAY_MS = 24 * 60 * 60 * 1000;

/** Whether the system's locale writes a 12-hour clock (from its default hour cycle). */
export function systemPrefers12Hour(): boolean {
  const cycle = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle;
  return cycle === "h11" || cycle === "h12";
}

/** Whether `lang` shows a 12-hour clock: never for Chinese, else as the system does. */
export function uses12Hour(lang: string, system12 = systemPrefers12Hour()): boolean {
  return lang.startsWith("zh") ? false : system12;
}

/** The time of day, e.g. "14:05", or "2:05 PM" where the system writes 12-hour times. */
export function clockTime(ms: number, lang: string, system12 = systemPrefers12Hour()): string {
  const twelve = uses12Hour(lang, system12);
  return new Date(ms).toLocaleTimeString(lang, {
    hour: twelve ? "numeric" : "2-digit",
    minute: "2-digit",
    hourCycle: twelve ? "h12" : "h23",
  });
}

/** Local midnight of the day `ms` falls on. */
function startOfDay(ms: number): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** Whole calendar days from `ms`'s day to `nowMs`'s day (0: the same day). */
export function daysAgo(ms: number, nowMs: number): number {
  // Rounded: a daylight-saving change makes one day 23 or 25 hours long.
  return Math.round((startOfDay(nowMs) - startOfDay(ms)) / DAY_MS);
}

export interface DayWords {
  today: string;
  yesterday: string;
}

function weekday(ms: number, lang: string): string {
  return new Date(ms).toLocaleDateString(lang, { weekday: "long" });
}

function date(ms: number, nowMs: number, lang: string, month: "short" | "long"): string {
  const sameYear = new Date(ms).getFullYear() === new Date(nowMs).getFullYear();
  return new Date(ms).toLocaleDateString(lang, {
    year: sameYear && month === "short" ? undefined : "numeric",
    month,
    day: "numeric",
  });
}

/** The conversation list's time: the clock today, "Yesterday", a weekday within the
 * last week, else the date. */
export function listTime(ms: number, nowMs: number, lang: string, words: DayWords, system12 = systemPrefers12Hour()): string {
  const ago = daysAgo(ms, nowMs);
  if (ago <= 0) return clockTime(ms, lang, system12);
  if (ago === 1) return words.yesterday;
  if (ago < 7) return weekday(ms, lang);
  return date(ms, nowMs, lang, "short");
}

/** A day separator in the log: "Today", "Yesterday", a weekday within the last week,
 * else the full date. */
export function dayTitle(ms: number, nowMs: number, lang: string, words: DayWords): string {
  const ago = daysAgo(ms, nowMs);
  if (ago <= 0) return words.today;
  if (ago === 1) return words.yesterday;
  if (ago < 7) return weekday(ms, lang);
  return date(ms, nowMs, lang, "long");
}

/** Sentences for a time ahead, each given the clock time. */
export interface AheadWords {
  todayAt: (time: string) => string;
  tomorrowAt: (time: string) => string;
}

/** A time ahead (a reply window's end, a scheduled send): "today 18:30", "tomorrow
 * 08:30", else its date and time. */
export function timeAhead(ms: number, nowMs: number, lang: string, words: AheadWords, system12 = systemPrefers12Hour()): string {
  const time = clockTime(ms, lang, system12);
  const ahead = -daysAgo(ms, nowMs);
  if (ahead <= 0) return words.todayAt(time);
  if (ahead === 1) return words.tomorrowAt(time);
  return `${date(ms, nowMs, lang, "short")} ${time}`;
}
