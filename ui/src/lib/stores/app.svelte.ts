// The window's session: what the app is (info), which screen and conversation are on
// it, and the actions that span several stores. The data lives in one store per domain
// (accounts, conversations, log, uploads, login, AI turns, search); `router.ts` sends
// each engine event to the store that applies it in place. Missed events (the window
// fell behind) are said, and what they touched is read again from the store; a backend
// switch reloads everything.
import {
  api,
  type AccountView,
  type AppInfo,
  type ConversationView,
  type EngineLagged,
  type MessageView,
  type PeerAiState,
} from "../ipc";
import { setActiveLocale } from "../i18n/index.svelte";
import { describeError } from "../errors";
import { accounts } from "./accounts.svelte";
import { aiTurns } from "./aiTurns.svelte";
import { conversations } from "./conversations.svelte";
import { log } from "./log.svelte";
import { login } from "./login.svelte";
import { applyAnswer, applyRowAnswer, route } from "./router";
import { search } from "./search.svelte";
import { uploads } from "./uploads.svelte";

export type View = "home" | "settings" | "search";

/** What the open conversation's header is editing: the owner's name for the peer or
 * the note (started from the header or from the list's context menu). */
export type PeerEdit = "name" | "note" | null;

export class AppStore {
  info = $state<AppInfo | null>(null);
  loadError = $state<string | null>(null);
  view = $state<View>("home");
  peerEdit = $state<PeerEdit>(null);
  actionError = $state<string | null>(null);
  /** The technical text behind `actionError`, shown under "Details". */
  actionDetails = $state<string | null>(null);
  /** How many engine events the window skipped when it last fell behind (shown until
   * dismissed). */
  skippedEvents = $state<number | null>(null);
  /** The accounts, and the selected account's conversations, have been listed once. */
  firstScreenLoaded = $state(false);
  private firstPaintReported = false;
  /** Counts `reset`s: callbacks scheduled for an earlier window do nothing. */
  private mounts = 0;
  private generation = 0;

  /** The account on screen: the one whose conversations are listed. */
  get selectedAccount(): string | null {
    return conversations.account;
  }

  /** The open conversation's peer. */
  get selectedPeer(): string | null {
    return log.peer;
  }

  get currentAccount(): AccountView | undefined {
    return accounts.find(this.selectedAccount);
  }

  get currentConversation(): ConversationView | undefined {
    return conversations.find(this.selectedPeer);
  }

  /** The open conversation's AI state. */
  get aiPeer(): PeerAiState | null {
    return this.currentConversation?.ai ?? null;
  }

  /** How long the open conversation's AI turn has run (ms), or null when none runs. */
  get openAiWorking(): number | null {
    return aiTurns.elapsed(this.selectedAccount, this.selectedPeer);
  }

  async start(): Promise<() => void> {
    const stops: (() => void)[] = [];
    const listen = async (p: Promise<() => void>) => stops.push(await p);
    await Promise.all([
      listen(api.onLocaleChanged((locale) => this.patchInfo({ locale }))),
      listen(api.onSecretsStatusChanged((secrets) => this.patchInfo({ secrets }))),
      listen(api.onBackendChanged(() => void this.reloadAll())),
      listen(api.onEngineEvent((event, changes) => void route(event, changes))),
      listen(api.onEngineLagged((lagged) => void this.catchUp(lagged))),
      listen(api.onShowConversation((open) => void this.showConversation(open.account_id, open.peer_id))),
    ]);
    // Messages that arrived in the open conversation while the window was in the
    // background are read once the user comes back to it.
    const readOnFocus = () => {
      if (this.view === "home") void this.markRead().catch(() => {});
    };
    if (typeof window !== "undefined") {
      window.addEventListener("focus", readOnFocus);
      stops.push(() => window.removeEventListener("focus", readOnFocus));
    }
    await this.reloadAll();
    return () =>
      stops.forEach((stop) => {
        // The event system may already be gone (window closing, tests tearing down).
        try {
          const done = stop() as unknown;
          if (done instanceof Promise) done.catch(() => {});
        } catch {
          /* already gone */
        }
      });
  }

  /** Back to the state of a fresh window (tests mount the app many times). */
  reset() {
    this.info = null;
    this.loadError = null;
    this.view = "home";
    this.peerEdit = null;
    this.actionError = null;
    this.actionDetails = null;
    this.skippedEvents = null;
    this.firstScreenLoaded = false;
    this.firstPaintReported = false;
    this.mounts += 1;
    this.generation += 1;
    for (const store of [accounts, conversations, log, uploads, login, aiTurns, search]) store.reset();
  }

  private patchInfo(patch: Partial<AppInfo>) {
    if (patch.locale) setActiveLocale(patch.locale);
    if (this.info) this.info = { ...this.info, ...patch };
  }

  /** Everything from scratch: after start-up, a backend switch or missed events. */
  async reloadAll() {
    const generation = ++this.generation;
    try {
      const info = await api.appInfo();
      if (generation !== this.generation) return;
      setActiveLocale(info.locale);
      // A new window (the last one was closed to the tray) opens where the user left.
      const restore = this.info === null ? info.open_conversation : null;
      const modeChanged = this.info && this.info.mode.kind !== info.mode.kind;
      this.info = info;
      this.loadError = null;
      if (modeChanged) {
        conversations.reset();
        log.reset();
      }
      if (restore) conversations.account = restore.account_id;
      if (info.engine_ready) await this.reloadAccounts();
      const listed = conversations.list.find(
        (c) => restore && c.peer_id.toLowerCase() === restore.peer_id.toLowerCase(),
      );
      if (restore && listed && this.selectedAccount === restore.account_id) {
        await this.openConversation(listed.peer_id);
      }
    } catch (err) {
      this.loadError = describeError(err).sentence;
    }
  }

  /** The window fell behind and skipped events: it says how many, and reads again
   * only what they touched (everything when the engine can no longer tell). */
  async catchUp(lagged: EngineLagged) {
    this.skippedEvents = (this.skippedEvents ?? 0) + lagged.missed;
    const touched = lagged.touched;
    if (!touched) return this.reloadAll();
    const touchedAccounts = new Set(touched.accounts);
    const account = this.selectedAccount;
    const peers = new Set(
      touched.conversations.filter((c) => c.account_id === account).map((c) => c.peer_id.toLowerCase()),
    );
    try {
      if (touched.every_account || touchedAccounts.size > 0) {
        await accounts.refresh((id) => touched.every_account || touchedAccounts.has(id));
        // The account on screen is gone: as when it is removed while shown.
        const listing = this.keepAnAccountSelected();
        if (listing) return await listing;
      }
      if (touched.every_account || peers.size > 0) {
        await conversations.refresh((peer) => touched.every_account || peers.has(peer.toLowerCase()));
      }
      const peer = this.selectedPeer;
      if (peer && peers.has(peer.toLowerCase()) && log.account === account) await log.refreshNewest();
    } catch (err) {
      this.showError(err);
    }
  }

  /** Reloads the accounts, and the selected account's conversations. */
  async reloadAccounts() {
    try {
      await accounts.reload();
    } catch (err) {
      this.showError(err);
      return;
    }
    await (this.keepAnAccountSelected() ?? conversations.reload());
    this.firstScreenLoaded = true;
  }

  /** After the account list changed: if the account on screen is gone (or none was
   * chosen), the first one is shown: the listing of its conversations, or null when
   * nothing changed. */
  keepAnAccountSelected(): Promise<void> | null {
    if (accounts.find(this.selectedAccount)) return null;
    log.close();
    const listing = conversations.show(accounts.list[0]?.account_id ?? null).catch((err) => this.showError(err));
    this.announceOpen();
    return listing;
  }

  /** Tells the shell the first screen is on screen: after two animation frames, i.e.
   * once the browser has painted it (the shell prints the time when asked to). */
  reportFirstPaint() {
    if (this.firstPaintReported) return;
    this.firstPaintReported = true;
    const mount = this.mounts;
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        // Not for a window torn down meanwhile (tests mount the app many times).
        if (mount === this.mounts) void api.reportFirstPaint().catch(() => false);
      }),
    );
  }

  // AI switches: the engine's settings events bring the changed views back.
  async setAccountAi(account_id: string, enabled: boolean) {
    await this.run(() => api.setAiAccountEnabled(account_id, enabled));
  }

  async setPeerAi(enabled: boolean | null) {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    await this.run(() => api.setAiPeerEnabled(account, peer, enabled));
  }

  async resumeAi() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    await this.run(() => api.resumeAiPeer(account, peer));
  }

  async selectAccount(account_id: string) {
    if (this.selectedAccount === account_id) return;
    log.close();
    this.view = "home";
    const listing = conversations.show(account_id);
    this.announceOpen();
    await listing;
  }

  /** Tells the shell which conversation is on screen (its messages are read as they
   * arrive while the window has focus). */
  announceOpen() {
    const open =
      this.selectedAccount && this.selectedPeer && this.view === "home"
        ? { account_id: this.selectedAccount, peer_id: this.selectedPeer }
        : null;
    void api.setOpenConversation(open).catch(() => {});
  }

  async openConversation(peer_id: string, focus: number | null = null) {
    const account = this.selectedAccount;
    if (!account) return;
    if (this.selectedPeer !== peer_id) this.peerEdit = null;
    this.view = "home";
    uploads.clear();
    const opening = log.open(account, peer_id, focus);
    this.announceOpen();
    if (await opening) await this.markRead();
  }

  async markRead() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    if (conversations.find(peer)?.unread_count === 0) return;
    await applyAnswer(() => api.markRead(account, peer));
  }

  /** Downloads a received message's failed media again; it shows as pending until the
   * engine says how it went. */
  async retryMedia(message: MessageView) {
    await this.run(() => log.retryMedia(message.id));
  }

  // --- actions ----------------------------------------------------------------------

  async run(action: () => Promise<unknown>) {
    try {
      this.actionError = null;
      await action();
    } catch (err) {
      this.showError(err);
    }
  }

  /** Shows a problem the engine found in the banner, its technical text under Details. */
  showProblem(sentence: string, details: string | null) {
    this.actionError = sentence;
    this.actionDetails = details;
  }

  /** Shows a failed action's sentence in the banner, its technical text under Details. */
  showError(err: unknown) {
    const shown = describeError(err);
    this.actionError = shown.sentence;
    this.actionDetails = shown.details;
  }

  async sendText(text: string): Promise<boolean> {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer || text.trim() === "") return false;
    try {
      this.actionError = null;
      await api.sendText(account, peer, text);
      return true;
    } catch (err) {
      this.actionError = describeError(err).sentence;
      return false;
    }
  }

  /** Sends dropped or picked files to the open conversation. */
  async sendFiles(paths: string[]) {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (account && peer) await uploads.send(account, peer, paths);
  }

  /** Asks which files to send (the desktop's open dialog, shown by the shell). */
  async pickAndSendFiles() {
    await this.run(async () => {
      const paths = await api.pickFiles();
      if (paths.length > 0) await this.sendFiles(paths);
    });
  }

  /** Sends the picture on the clipboard (read by the shell, never by the page). */
  async sendPastedPicture() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    await this.run(() => api.sendPastedPicture(account, peer));
  }

  // --- the owner's names and notes for peers (never sent to WeChat) ---------------

  /** Opens a conversation with its header editing the name or the note. */
  async editPeer(peer_id: string, what: "name" | "note") {
    if (this.selectedPeer !== peer_id || this.view !== "home") await this.openConversation(peer_id);
    this.peerEdit = what;
  }

  /** Saves the owner's name for a peer (blank clears it); the changed row comes back
   * and goes in place (the engine's event brings the same view). */
  async renamePeer(account_id: string, peer_id: string, name: string) {
    await this.run(() => applyRowAnswer(() => api.renamePeer(account_id, peer_id, name)));
  }

  async setPeerNote(account_id: string, peer_id: string, note: string) {
    await this.run(() => applyRowAnswer(() => api.setPeerNote(account_id, peer_id, note)));
  }

  /** Runs the search panel's query, narrowed to the open conversation when asked. */
  async runSearch() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    await this.run(() => search.run(account && peer ? { account, peer } : null));
  }

  /** Opens a conversation of any account (a notification was clicked, a search hit
   * chosen), at `focus` if given. */
  async showConversation(account_id: string, peer_id: string, focus: number | null = null) {
    if (this.selectedAccount !== account_id) {
      log.close();
      await conversations.show(account_id);
    }
    await this.openConversation(peer_id, focus);
  }

  async jumpTo(message: MessageView) {
    await this.showConversation(message.account_id, message.peer_id, message.id);
  }
}

export const app = new AppStore();
