// The accounts in the sidebar: listed once, then kept current by the account views
// engine events carry.
import { api, type AccountView } from "../ipc";

export class AccountsStore {
  list = $state<AccountView[]>([]);
  /** Counts pushed views, so a list read before one cannot undo it. */
  private pushes = 0;
  private pushedAt: Record<string, number> = {};
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

  private async reloadNow() {
    const asked = this.pushes;
    const listed = await api.listAccounts();
    const current = new Map(this.list.map((a) => [a.account_id, a]));
    this.list = listed.map((a) => {
      const pushed = current.get(a.account_id);
      return pushed && (this.pushedAt[a.account_id] ?? 0) > asked ? pushed : a;
    });
  }

  /** Reads again only the accounts `touched` names (after missed events): their rows
   * are replaced, added or dropped; the others stay as shown. A view pushed while the
   * list was being read is kept. */
  async refresh(touched: (account_id: string) => boolean) {
    const asked = this.pushes;
    const listed = await api.listAccounts();
    const wanted = (id: string) => touched(id) && (this.pushedAt[id] ?? 0) <= asked;
    const fresh = new Map(listed.map((a) => [a.account_id, a]));
    const kept = this.list
      .filter((a) => !wanted(a.account_id) || fresh.has(a.account_id))
      .map((a) => (wanted(a.account_id) ? fresh.get(a.account_id)! : a));
    const known = new Set(kept.map((a) => a.account_id));
    this.list = [...kept, ...listed.filter((a) => wanted(a.account_id) && !known.has(a.account_id))];
  }

  /** Puts pushed views in place (a new account is added at the end). */
  apply(views: AccountView[]) {
    for (const view of views) {
      this.pushes += 1;
      this.pushedAt[view.account_id] = this.pushes;
      const known = this.list.some((a) => a.account_id === view.account_id);
      this.list = known
        ? this.list.map((a) => (a.account_id === view.account_id ? view : a))
        : [...this.list, view];
    }
  }

  remove(account_id: string) {
    this.list = this.list.filter((a) => a.account_id !== account_id);
  }

  reset() {
    this.list = [];
    this.pushes = 0;
    this.pushedAt = {};
    this.reloading = Promise.resolve();
  }
}

export const accounts = new AccountsStore();
