// The open conversation's log, newest first (the log renders bottom-up): paged from the
// store, kept current by pushed message views.
import { api, type MessagePageView, type MessageView, type PageCursor } from "../ipc";
import { PushedMeanwhile } from "./pushedMeanwhile";

/** Messages fetched per page of the log. */
export const PAGE_SIZE = 80;

const newer = (a: MessageView, b: MessageView) => b.create_time_ms - a.create_time_ms || b.id - a.id;

export class OpenLogStore {
  account = $state<string | null>(null);
  /** The open conversation's peer; null when none is open. */
  peer = $state<string | null>(null);
  messages = $state<MessageView[]>([]);
  older = $state<PageCursor | null>(null);
  loadingOlder = $state(false);
  /** A message to scroll to and highlight (from search). */
  focus = $state<number | null>(null);
  /** Paging back to a search hit: no page may be dropped meanwhile. */
  private seeking = false;
  private pushed = new PushedMeanwhile<MessageView>((message) => this.place(message));

  private isShowing(account: string, peer: string): boolean {
    return this.account === account && this.peer === peer;
  }

  /** Opens a conversation at its newest page, or paged back to `focus`. False when
   * another conversation was opened meanwhile. */
  async open(account: string, peer: string, focus: number | null = null): Promise<boolean> {
    this.account = account;
    this.peer = peer;
    this.focus = focus;
    const shown = await this.read(account, peer, null, (page) => {
      if (!this.isShowing(account, peer)) return false;
      this.messages = page.messages;
      this.older = page.older;
      return true;
    });
    if (!shown) return false;
    // Jumping to an older message: page back until it is loaded (the log drops no
    // pages meanwhile).
    this.seeking = focus !== null;
    try {
      while (focus !== null && this.older && !this.messages.some((m) => m.id === focus)) {
        if (!this.isShowing(account, peer)) return false;
        await this.loadOlder();
      }
    } finally {
      this.seeking = false;
    }
    return this.isShowing(account, peer);
  }

  /** Reads the open conversation's newest page again (after missed events) and puts
   * its messages in place; when more arrived than a page holds, the log starts again
   * from that page. */
  async refreshNewest() {
    const { account, peer } = this;
    if (!account || !peer) return;
    await this.read(account, peer, null, (page) => {
      if (!this.isShowing(account, peer)) return;
      const newestShown = this.messages[0];
      const oldestRead = page.messages.at(-1);
      const gap =
        page.older !== null && newestShown !== undefined && oldestRead !== undefined && newer(oldestRead, newestShown) < 0;
      if (gap) {
        this.messages = page.messages;
        this.older = page.older;
      } else {
        for (const message of [...page.messages].reverse()) this.place(message);
      }
    });
  }

  /** No conversation open. */
  close() {
    this.peer = null;
    this.messages = [];
    this.older = null;
  }

  async loadOlder() {
    const account = this.account;
    const peer = this.peer;
    if (!account || !peer || !this.older || this.loadingOlder) return;
    this.loadingOlder = true;
    try {
      await this.read(account, peer, this.older, (page) => {
        // Over as the page lands: the log may ask for the next one at once.
        this.loadingOlder = false;
        if (!this.isShowing(account, peer)) return;
        const known = new Set(this.messages.map((m) => m.id));
        this.messages = [...this.messages, ...page.messages.filter((m) => !known.has(m.id))];
        this.older = page.older;
      });
    } catch (err) {
      this.loadingOlder = false;
      throw err;
    }
  }

  /** Forgets the `count` oldest loaded messages (far above what the log shows); they
   * are paged in again from the store when the user scrolls back up. */
  dropOldest(count: number) {
    if (count <= 0 || this.loadingOlder || this.seeking || count >= this.messages.length) return;
    const kept = this.messages.slice(0, this.messages.length - count);
    // Never the message a search jumped to.
    if (this.focus !== null && !kept.some((m) => m.id === this.focus)) return;
    const oldest = kept[kept.length - 1];
    this.messages = kept;
    this.older = { create_time_ms: oldest.create_time_ms, id: oldest.id };
  }

  /** Downloads a message's failed media again; it shows as pending until the engine
   * says how it went (unless it already has). */
  async retryMedia(id: number) {
    await this.pushed.around(
      () => api.retryMedia(id),
      (retried) => retried && this.patch(id, { media_state: "pending", error: null }),
    );
  }

  /** Reads a page of the conversation; `land` puts it in place, then the messages
   * pushed while it was read go back over it (the page may be older than they are). */
  private read<V>(account: string, peer: string, before: PageCursor | null, land: (page: MessagePageView) => V) {
    return this.pushed.around(() => api.conversationPage(account, peer, before, PAGE_SIZE), land);
  }

  /** Puts a pushed message of the open conversation in its place, replacing the copy
   * shown. One older than everything loaded waits for paging. */
  apply(message: MessageView) {
    this.pushed.push(message);
  }

  private place(message: MessageView) {
    if (
      this.account !== message.account_id ||
      this.peer === null ||
      this.peer.toLowerCase() !== message.peer_id.toLowerCase()
    ) {
      return;
    }
    if (this.messages.some((m) => m.id === message.id)) {
      this.patch(message.id, message);
      return;
    }
    const oldest = this.messages.at(-1);
    if (this.older && oldest && newer(message, oldest) > 0) return;
    this.messages = [...this.messages, message].sort(newer);
  }

  patch(id: number, change: Partial<MessageView>) {
    this.messages = this.messages.map((m) => (m.id === id ? { ...m, ...change } : m));
  }

  reset() {
    this.account = null;
    this.close();
    this.loadingOlder = false;
    this.focus = null;
    this.seeking = false;
  }
}

export const log = new OpenLogStore();
