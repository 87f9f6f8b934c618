// The search panel's query and hits (kept while the panel is closed, so coming back
// shows them again).
import { api, type MessageView } from "../ipc";

export class SearchStore {
  query = $state("");
  /** Only the open conversation. */
  here = $state(false);
  /** Hits of the last query, best first; null before a query. */
  results = $state<MessageView[] | null>(null);
  private asked = 0;

  /** Runs the current query, in `scope` when narrowed; a later query's answer wins. */
  async run(scope: { account: string; peer: string } | null) {
    const ticket = ++this.asked;
    const query = this.query;
    if (query.trim() === "") {
      this.results = null;
      return;
    }
    const narrowed = this.here ? scope : null;
    const found = await api.searchMessages(query, narrowed?.account ?? null, narrowed?.peer ?? null, 100);
    if (ticket === this.asked) this.results = found;
  }

  reset() {
    this.query = "";
    this.here = false;
    this.results = null;
    this.asked += 1;
  }
}

export const search = new SearchStore();
