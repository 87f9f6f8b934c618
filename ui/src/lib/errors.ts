// What the window tells a person about a failure: the backend names its kind (`problem`),
// the sentence for that kind comes from the catalogs, and the technical text stays
// behind "Details".
import type { Locale, Problem } from "./ipc";
import { locale, translate, type MessageKey } from "./i18n/index.svelte";

export interface Shown {
  /** What happened and what to do, in the user's language. */
  sentence: string;
  /** The technical text (already redacted by the backend), when there is more to say. */
  details: string | null;
}

/** The sentence for `problem` in `lang`. */
export function problemSentence(problem: Problem, lang: Locale = locale()): string {
  return translate(lang, `problem.${problem}` as MessageKey);
}

interface Described {
  message?: unknown;
  details?: unknown;
  problem?: unknown;
}

/** Any thrown value as a sentence and its details. A failure the backend classified
 * reads as its sentence with the backend's words as details; others keep their words. */
export function describeError(err: unknown, lang: Locale = locale()): Shown {
  const e = (typeof err === "object" && err !== null ? err : { message: String(err) }) as Described;
  const message = typeof e.message === "string" ? e.message : String(err);
  const extra = typeof e.details === "string" && e.details !== "" ? e.details : null;
  if (typeof e.problem === "string") {
    const technical = extra && !message.includes(extra) ? `${message}\n${extra}` : message;
    return { sentence: problemSentence(e.problem as Problem, lang), details: technical };
  }
  return { sentence: message, details: extra };
}

/** A failure that came as words plus an optional kind (a login's end, a media job). */
export function describeReason(reason: string, problem: Problem | null | undefined, lang: Locale = locale()): Shown {
  return describeWord("problem", problem, reason, lang);
}

/** Words whose stored details are fixed texts that only repeat the sentence. */
const SAID_IN_FULL: ReadonlySet<string> = new Set(["cancelled", "account_removed"]);

/** Why something failed or waits, as the backend names it by a word under `prefix`
 * (`delivery.why`, `media.why`, `later.why`), with its stored words as details; with no
 * word (logged before there were words), the stored words are the sentence. */
export function describeWord(
  prefix: string,
  word: string | null | undefined,
  stored: string | null,
  lang: Locale = locale(),
): Shown {
  if (!word) return { sentence: stored ?? "?", details: null };
  const details = SAID_IN_FULL.has(word) ? null : stored;
  return { sentence: translate(lang, `${prefix}.${word}` as MessageKey), details };
}
