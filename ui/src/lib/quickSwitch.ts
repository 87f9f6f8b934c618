// The quick switcher's matching: conversations of every account, by peer name (the
// owner's, else the server's), id or the owner's note.
import type { ConversationView } from "./ipc";

/** How well `c` matches `query` (lower is better), or null when it does not. */
function rank(c: ConversationView, query: string): number | null {
  const name = (c.display_name ?? "").toLowerCase();
  const id = c.peer_id.toLowerCase();
  if (query === "") return 3;
  if (name.startsWith(query)) return 0;
  if (name.includes(query)) return 1;
  if (id.includes(query) || (c.note ?? "").toLowerCase().includes(query)) return 2;
  return null;
}

/** The matches for `query`, best first and, among equals, most recently active first. */
export function matchConversations(all: readonly ConversationView[], query: string, limit = 30): ConversationView[] {
  const q = query.trim().toLowerCase();
  return all
    .flatMap((c) => {
      const r = rank(c, q);
      return r === null ? [] : [{ c, r }];
    })
    .sort((a, b) => a.r - b.r || b.c.last_activity_ms - a.c.last_activity_ms)
    .slice(0, limit)
    .map((m) => m.c);
}
