// The accounts in the sidebar: listed once, then kept current by the account views
// engine events carry.
import { api, type AccountView } from "../ipc";
import { PushedMeanwhile } from "./pushedMeanwhile";

/** What the window learns of an account without asking: a new view, or that it is gone. */
type AccountChange = { view: AccountView } | { removed: string };

export class AccountsStore {
  list = $state<AccountView[]>([]);
  private pushed = new PushedMeanwhile<AccountChange>((change) => this.place(change));
  private reloading: Promise<void> = Promise.resolve();

  find(account_id: string | null): AccountView | undefined {
    return this.list.find((a) => a.account_id === account_id);
  }

  /** Reads the list again. Calls run one after another, so an answer read before a
   * status change never lands after it. */
  reload(): Promise<void> {
    this.reloading = this.reloading.catch(() => {}).then(() => this.reloadNow());
    return this.reloading;
  }

  private reloadNow() {
    return this.read((listed) => (this.list = listed));
  }

  /** Reads again only the accounts `touched` names (after missed events): their rows
   * are replaced, added or dropped; the others stay as shown. */
  async refresh(touched: (account_id: string) => boolean) {
    await this.read((listed) => {
      const fresh = new Map(listed.map((a) => [a.account_id, a]));
      const kept = this.list
        .filter((a) => !touched(a.account_id) || fresh.has(a.account_id))
        .map((a) => (touched(a.account_id) ? fresh.get(a.account_id)! : a));
      const known = new Set(kept.map((a) => a.account_id));
      this.list = [...kept, ...listed.filter((a) => touched(a.account_id) && !known.has(a.account_id))];
    });
  }

  /** Reads the accounts; `land` puts them in place, then what was pushed while they
   * were read goes back over them (the list may be older). */
  private read(land: (listed: AccountView[]) => void) {
    return this.pushed.around(() => api.listAccounts(), land);
  }

  /** Puts pushed views in place (a new account is added at the end). */
  apply(views: AccountView[]) {
    for (const view of views) this.pushed.push({ view });
  }

  remove(account_id: string) {
    this.pushed.push({ removed: account_id });
  }

  private place(change: AccountChange) {
    if ("removed" in change) {
      this.list = this.list.filter((a) => a.account_id !== change.removed);
      return;
    }
    const { view } = change;
    const known = this.list.some((a) => a.account_id === view.account_id);
    this.list = known ? this.list.map((a) => (a.account_id === view.account_id ? view : a)) : [...this.list, view];
  }

  reset() {
    this.list = [];
    this.reloading = Promise.resolve();
  }
}

export const accounts = new AccountsStore();
