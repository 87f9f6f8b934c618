// The conversation list of the account on screen, newest activity first: listed when
// the account is chosen, then kept current by pushed conversation views.
import { api, type ConversationView, type PeerAiState } from "../ipc";
import { PushedMeanwhile } from "./pushedMeanwhile";

const byActivity = (a: ConversationView, b: ConversationView) =>
  b.last_activity_ms - a.last_activity_ms || a.peer_id.localeCompare(b.peer_id);

export class ConversationListStore {
  /** The account whose conversations are listed (the one on screen). */
  account = $state<string | null>(null);
  list = $state<ConversationView[]>([]);
  private pushed = new PushedMeanwhile<ConversationView>((view) => this.place(view));

  find(peer_id: string | null): ConversationView | undefined {
    return this.list.find((c) => c.peer_id === peer_id);
  }

  /** Every listed conversation's AI state, by peer id (for the list's rows). */
  get ai(): Record<string, PeerAiState> {
    return Object.fromEntries(this.list.map((c) => [c.peer_id, c.ai]));
  }

  /** Lists `account`'s conversations (none for null). */
  async show(account: string | null) {
    if (account !== this.account) this.list = [];
    this.account = account;
    await this.reload();
  }

  async reload() {
    const account = this.account;
    if (!account) {
      this.list = [];
      return;
    }
    await this.read(account, (list) => (this.list = list));
  }

  /** Reads again only the listed account's conversations `touched` names (after
   * missed events); the other rows stay as shown. */
  async refresh(touched: (peer_id: string) => boolean) {
    const account = this.account;
    if (!account) return;
    await this.read(account, (list) => {
      for (const view of list.filter((c) => touched(c.peer_id))) this.place(view);
    });
  }

  /** Reads the account's conversations; `land` puts them in place unless another
   * account is listed meanwhile, then the views pushed while they were read go back
   * over them (the list may be older than they are). */
  private read(account: string, land: (list: ConversationView[]) => void) {
    return this.pushed.around(
      () => api.listConversations(account),
      (list) => account === this.account && land(list),
    );
  }

  /** Puts a pushed view in its place; views of other accounts are not listed. */
  apply(view: ConversationView) {
    this.pushed.push(view);
  }

  private place(view: ConversationView) {
    if (view.account_id !== this.account) return;
    const rest = this.list.filter((c) => c.peer_id.toLowerCase() !== view.peer_id.toLowerCase());
    this.list = [...rest, view].sort(byActivity);
  }

  reset() {
    this.account = null;
    this.list = [];
  }
}

export const conversations = new ConversationListStore();
