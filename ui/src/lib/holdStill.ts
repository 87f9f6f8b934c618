// The conversation list holds still while the user is reaching for it: while the pointer
// is over it or focus is inside, rows keep the order they had, and rows with new activity
// are only marked. The new order applies when the hold ends.

interface Row {
  peer_id: string;
  last_activity_ms: number;
}

/** The list as it was shown when the hold began. */
export interface Hold {
  order: string[];
  /** Each row's last activity when the hold began. */
  seen: Record<string, number>;
}

export function takeHold(rows: readonly Row[]): Hold {
  return {
    order: rows.map((r) => r.peer_id),
    seen: Object.fromEntries(rows.map((r) => [r.peer_id, r.last_activity_ms])),
  };
}

/** The rows to show and which of them have news since the hold began. Without a hold:
 * the latest order, nothing marked. With one: the held order, rows that appeared since
 * at the end (nothing under the pointer moves), rows that went away left out. */
export function arrange<T extends Row>(latest: readonly T[], hold: Hold | null): { rows: T[]; fresh: Set<string> } {
  if (!hold) return { rows: [...latest], fresh: new Set() };
  const byId = new Map(latest.map((r) => [r.peer_id, r]));
  const kept = hold.order.flatMap((id) => byId.get(id) ?? []);
  const added = latest.filter((r) => !(r.peer_id in hold.seen));
  const fresh = new Set(
    latest.filter((r) => hold.seen[r.peer_id] === undefined || r.last_activity_ms > hold.seen[r.peer_id]).map((r) => r.peer_id),
  );
  return { rows: [...kept, ...added], fresh };
}

/** Whether `latest` is still the list the hold was taken on (not another account's). */
export function sameList(hold: Hold, latest: readonly Row[]): boolean {
  return hold.order.length === 0 || latest.length === 0 || latest.some((r) => r.peer_id in hold.seen);
}
