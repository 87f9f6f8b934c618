// The search panel's query and hits (kept while the panel is closed, so coming back
// shows them again).
import { api, type SearchView } from "../ipc";

export class SearchStore {
  query = $state("");
  /** Only the open conversation. */
  here = $state(false);
  /** The last query's peers (by name, note or id) and message hits, best first; null
   * before a query. */
  results = $state<SearchView | null>(null);
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
