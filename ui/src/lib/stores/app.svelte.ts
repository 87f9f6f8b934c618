// The window's state: accounts, the open conversation and its log, the login dialog.
// Loaded once from the backend, then kept current by the views each engine event
// carries (built in the core): an event is applied in place, without asking back.
// Missed events (the window fell behind) are said, and what they touched is read again
// from the store; a backend switch reloads everything.
import {
  api,
  type AccountView,
  type AiEvent,
  type AppInfo,
  type ConversationView,
  type EngineEvent,
  type EngineLagged,
  type LoginState,
  type MessageView,
  type PageCursor,
  type PeerAiState,
  type ViewChanges,
} from "../ipc";
import { setActiveLocale, t } from "../i18n/index.svelte";
import { describeError } from "../errors";

/** Messages fetched per page of the log. */
export const PAGE_SIZE = 80;

export interface LoginUi {
  id: string | null;
  /** The name the dialog starts with. */
  alias: string;
  /** Every state seen, newest last; the dialog shows the last and the QR of the last `qr_ready`. */
  state: LoginState | null;
  qrUrl: string | null;
  refreshes: number;
  error: string | null;
}

export interface Upload {
  key: string;
  name: string;
  /** 0–100, or null while unknown. */
  percent: number | null;
  /** `uploading`: the engine sends it to the CDN; `sent`: delivered. */
  phase: "uploading" | "sent";
  error: string | null;
  done: boolean;
  cancelled: boolean;
  outbox_id: number | null;
}

export type View = "home" | "settings" | "search";

function errorText(err: unknown): string {
  return describeError(err).sentence;
}

export class AppStore {
  info = $state<AppInfo | null>(null);
  loadError = $state<string | null>(null);
  view = $state<View>("home");
  accounts = $state<AccountView[]>([]);
  selectedAccount = $state<string | null>(null);
  conversations = $state<ConversationView[]>([]);
  selectedPeer = $state<string | null>(null);
  /** The open conversation, newest first (the log renders bottom-up). */
  messages = $state<MessageView[]>([]);
  older = $state<PageCursor | null>(null);
  loadingOlder = $state(false);
  /** A message to scroll to and highlight (from search). */
  focusMessage = $state<number | null>(null);
  login = $state<LoginUi | null>(null);
  uploads = $state<Upload[]>([]);
  /** AI turns under way, by `account/peer` (lower case): how long each has run, in ms. */
  aiWorking = $state<Record<string, number>>({});
  /** Upload progress of outbound files by outbox id, 0–100. */
  uploadProgress = $state<Record<number, number>>({});
  actionError = $state<string | null>(null);
  /** The technical text behind `actionError`, shown under "Details". */
  actionDetails = $state<string | null>(null);
  /** How many engine events the window skipped when it last fell behind (shown until
   * dismissed). */
  skippedEvents = $state<number | null>(null);
  /** The accounts, and the selected account's conversations, have been listed once. */
  firstScreenLoaded = $state(false);
  private firstPaintReported = false;
  /** Paging back to a search hit: no page may be dropped meanwhile. */
  private seeking = false;
  /** Counts `reset`s: callbacks scheduled for an earlier window do nothing. */
  private mounts = 0;
  private generation = 0;

  get currentAccount(): AccountView | undefined {
    return this.accounts.find((a) => a.account_id === this.selectedAccount);
  }

  get currentConversation(): ConversationView | undefined {
    return this.conversations.find((c) => c.peer_id === this.selectedPeer);
  }

  /** Whether AI replies are on by default, per account. */
  get aiAccounts(): Record<string, boolean> {
    return Object.fromEntries(this.accounts.map((a) => [a.account_id, a.ai_enabled]));
  }

  /** The open conversation's AI state. */
  get aiPeer(): PeerAiState | null {
    return this.currentConversation?.ai ?? null;
  }

  /** Every listed conversation's AI state, by peer id (for the list's rows). */
  get aiPeers(): Record<string, PeerAiState> {
    return Object.fromEntries(this.conversations.map((c) => [c.peer_id, c.ai]));
  }

  async start(): Promise<() => void> {
    const stops: (() => void)[] = [];
    const listen = async (p: Promise<() => void>) => stops.push(await p);
    await Promise.all([
      listen(api.onLocaleChanged((locale) => this.patchInfo({ locale }))),
      listen(api.onSecretsStatusChanged((secrets) => this.patchInfo({ secrets }))),
      listen(api.onBackendChanged(() => void this.reloadAll())),
      listen(api.onEngineEvent((event, changes) => void this.handle(event, changes))),
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
    this.accounts = [];
    this.selectedAccount = null;
    this.conversations = [];
    this.selectedPeer = null;
    this.messages = [];
    this.older = null;
    this.loadingOlder = false;
    this.focusMessage = null;
    this.login = null;
    this.uploads = [];
    this.uploadProgress = {};
    this.aiWorking = {};
    this.actionError = null;
    this.skippedEvents = null;
    this.firstScreenLoaded = false;
    this.firstPaintReported = false;
    this.seeking = false;
    this.mounts += 1;
    this.generation += 1;
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
        this.selectedAccount = null;
        this.selectedPeer = null;
        this.messages = [];
      }
      if (restore) this.selectedAccount = restore.account_id;
      if (info.engine_ready) await this.reloadAccounts();
      const listed = this.conversations.find(
        (c) => restore && c.peer_id.toLowerCase() === restore.peer_id.toLowerCase(),
      );
      if (restore && listed && this.selectedAccount === restore.account_id) {
        await this.openConversation(listed.peer_id);
      }
    } catch (err) {
      this.loadError = errorText(err);
    }
  }

  /** The window fell behind and skipped events: it says how many, and reads again
   * only what they touched (everything when the engine can no longer tell). */
  async catchUp(lagged: EngineLagged) {
    this.skippedEvents = (this.skippedEvents ?? 0) + lagged.missed;
    const touched = lagged.touched;
    if (!touched) return this.reloadAll();
    try {
      const accounts = new Set(touched.accounts);
      if (touched.every_account || accounts.size > 0) {
        const asked = this.accountPushes;
        const listed = await api.listAccounts();
        const fresh = new Map(listed.map((a) => [a.account_id, a]));
        const wanted = (id: string) =>
          (touched.every_account || accounts.has(id)) && (this.accountPushedAt[id] ?? 0) <= asked;
        // Touched rows are replaced (or dropped when gone); the others are kept as shown.
        const kept = this.accounts
          .filter((a) => !wanted(a.account_id) || fresh.has(a.account_id))
          .map((a) => (wanted(a.account_id) ? fresh.get(a.account_id)! : a));
        const known = new Set(kept.map((a) => a.account_id));
        this.accounts = [...kept, ...listed.filter((a) => wanted(a.account_id) && !known.has(a.account_id))];
        if (!this.accounts.some((a) => a.account_id === this.selectedAccount)) {
          // The account on screen is gone: as when it is removed while shown.
          this.selectedAccount = this.accounts[0]?.account_id ?? null;
          this.selectedPeer = null;
          this.messages = [];
          this.announceOpen();
          await this.reloadConversations();
          return;
        }
      }
      const account = this.selectedAccount;
      if (!account) return;
      const peers = new Set(
        touched.conversations.filter((c) => c.account_id === account).map((c) => c.peer_id.toLowerCase()),
      );
      if (touched.every_account || accounts.has(account) || peers.size > 0) {
        const list = await api.listConversations(account);
        if (account !== this.selectedAccount) return;
        const wanted = (peer: string) => touched.every_account || peers.has(peer.toLowerCase());
        const fresh = list.filter((c) => wanted(c.peer_id));
        const rest = this.conversations.filter((c) => !wanted(c.peer_id));
        this.conversations = [...rest, ...fresh].sort(
          (a, b) => b.last_activity_ms - a.last_activity_ms || a.peer_id.localeCompare(b.peer_id),
        );
      }
      const peer = this.selectedPeer;
      if (peer && peers.has(peer.toLowerCase()) && this.isOpen(account, peer)) {
        const page = await api.conversationPage(account, peer, null, PAGE_SIZE);
        if (!this.isOpen(account, peer)) return;
        const newestShown = this.messages[0];
        const oldestRead = page.messages.at(-1);
        const gap =
          page.older !== null &&
          newestShown !== undefined &&
          oldestRead !== undefined &&
          (oldestRead.create_time_ms - newestShown.create_time_ms || oldestRead.id - newestShown.id) > 0;
        if (gap) {
          // More arrived than a page holds: the log starts again from the newest page.
          this.messages = page.messages;
          this.older = page.older;
        } else {
          for (const message of [...page.messages].reverse()) this.putMessage(message);
        }
      }
    } catch (err) {
      this.actionError = errorText(err);
    }
  }

  private reloadingAccounts: Promise<void> = Promise.resolve();

  /** Reloads the accounts (and the selected account's conversations). Calls run one
   * after another, so an answer read before a status change never lands after it. */
  reloadAccounts(): Promise<void> {
    this.reloadingAccounts = this.reloadingAccounts
      .catch(() => {})
      .then(() => this.reloadAccountsNow());
    return this.reloadingAccounts;
  }

  /** Counts pushed account views, so a list read before one cannot undo it. */
  private accountPushes = 0;
  private accountPushedAt: Record<string, number> = {};

  private async reloadAccountsNow() {
    try {
      const asked = this.accountPushes;
      const listed = await api.listAccounts();
      const current = new Map(this.accounts.map((a) => [a.account_id, a]));
      this.accounts = listed.map((a) => {
        const pushed = current.get(a.account_id);
        return pushed && (this.accountPushedAt[a.account_id] ?? 0) > asked ? pushed : a;
      });
    } catch (err) {
      this.actionError = errorText(err);
      return;
    }
    if (!this.accounts.some((a) => a.account_id === this.selectedAccount)) {
      this.selectedAccount = this.accounts[0]?.account_id ?? null;
      this.selectedPeer = null;
      this.messages = [];
      this.announceOpen();
    }
    await this.reloadConversations();
    this.firstScreenLoaded = true;
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

  async reloadConversations() {
    const account = this.selectedAccount;
    if (!account) {
      this.conversations = [];
      return;
    }
    const list = await api.listConversations(account);
    if (account === this.selectedAccount) this.conversations = list;
  }

  async selectAccount(account_id: string) {
    if (this.selectedAccount === account_id) return;
    this.selectedAccount = account_id;
    this.selectedPeer = null;
    this.messages = [];
    this.older = null;
    this.view = "home";
    this.announceOpen();
    await this.reloadConversations();
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
    this.selectedPeer = peer_id;
    this.focusMessage = focus;
    this.view = "home";
    this.uploads = [];
    this.announceOpen();
    const page = await api.conversationPage(account, peer_id, null, PAGE_SIZE);
    if (account !== this.selectedAccount || peer_id !== this.selectedPeer) return;
    this.messages = page.messages;
    this.older = page.older;
    // Jumping to an older message: page back until it is loaded (the log drops no
    // pages meanwhile).
    this.seeking = focus !== null;
    try {
      while (focus !== null && this.older && !this.messages.some((m) => m.id === focus)) {
        if (account !== this.selectedAccount || peer_id !== this.selectedPeer) return;
        await this.loadOlder();
      }
    } finally {
      this.seeking = false;
    }
    await this.markRead();
  }

  async loadOlder() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer || !this.older || this.loadingOlder) return;
    this.loadingOlder = true;
    try {
      const page = await api.conversationPage(account, peer, this.older, PAGE_SIZE);
      if (account !== this.selectedAccount || peer !== this.selectedPeer) return;
      const known = new Set(this.messages.map((m) => m.id));
      this.messages = [...this.messages, ...page.messages.filter((m) => !known.has(m.id))];
      this.older = page.older;
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Forgets the `count` oldest loaded messages (far above what the log shows); they
   * are paged in again from the store when the user scrolls back up. */
  dropOldest(count: number) {
    if (count <= 0 || this.loadingOlder || this.seeking || count >= this.messages.length) return;
    const kept = this.messages.slice(0, this.messages.length - count);
    // Never the message a search jumped to.
    if (this.focusMessage !== null && !kept.some((m) => m.id === this.focusMessage)) return;
    const oldest = kept[kept.length - 1];
    this.messages = kept;
    this.older = { create_time_ms: oldest.create_time_ms, id: oldest.id };
  }

  async markRead() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    const conversation = this.conversations.find((c) => c.peer_id === peer);
    if (conversation && conversation.unread_count === 0) return;
    this.apply(await api.markRead(account, peer));
  }

  private isOpen(account_id: string, peer_id: string): boolean {
    return (
      this.selectedAccount === account_id &&
      this.selectedPeer !== null &&
      this.selectedPeer.toLowerCase() === peer_id.toLowerCase() &&
      this.view === "home"
    );
  }

  /** One engine event: its changed views are applied in place; only what a view does
   * not carry (login and upload progress, AI turns) is read from the event itself. */
  async handle(event: EngineEvent, changes: ViewChanges | null = null) {
    if (changes) this.apply(changes);
    switch (event.type) {
      case "delivery_updated":
        if (event.state === "delivered") {
          this.patchUploadByOutbox(event.outbox_id, { percent: 100, phase: "sent", done: true });
        } else if (event.state === "failed") {
          this.patchUploadByOutbox(event.outbox_id, { error: event.error ?? "failed" });
        }
        break;
      case "upload_progress": {
        const percent = event.total > 0 ? Math.floor((event.sent * 100) / event.total) : 0;
        this.uploadProgress = { ...this.uploadProgress, [event.outbox_id]: percent };
        this.patchUploadByOutbox(event.outbox_id, { percent, phase: "uploading" });
        break;
      }
      case "login_progress":
        this.applyLogin(event.login_id, event.state);
        if (event.state.state === "confirmed") await this.reloadAccounts();
        break;
      case "ai": {
        const ai = event.event;
        this.trackAiTurn(ai);
        // A switch for a whole account or for everyone changes every listed row: the
        // owner's own action, so one reload is fine here.
        if (ai.kind === "settings_changed" && ai.peer_id === null) {
          if (ai.account_id === null) await this.reloadAccounts();
          else if (ai.account_id === this.selectedAccount) await this.reloadConversations();
        }
        break;
      }
    }
  }

  /** Puts changed views in place of the window's copies. */
  apply(changes: ViewChanges) {
    for (const account of changes.accounts) {
      this.accountPushes += 1;
      this.accountPushedAt[account.account_id] = this.accountPushes;
      const known = this.accounts.some((a) => a.account_id === account.account_id);
      this.accounts = known
        ? this.accounts.map((a) => (a.account_id === account.account_id ? account : a))
        : [...this.accounts, account];
      if (this.selectedAccount === null) this.selectedAccount = account.account_id;
    }
    if (changes.removed_account !== null) {
      const gone = changes.removed_account;
      this.accounts = this.accounts.filter((a) => a.account_id !== gone);
      if (this.selectedAccount === gone) {
        this.selectedAccount = this.accounts[0]?.account_id ?? null;
        this.selectedPeer = null;
        this.messages = [];
        this.conversations = [];
        this.announceOpen();
        void this.reloadConversations();
      }
    }
    const conversation = changes.conversation;
    if (conversation && conversation.account_id === this.selectedAccount) {
      const rest = this.conversations.filter(
        (c) => c.peer_id.toLowerCase() !== conversation.peer_id.toLowerCase(),
      );
      this.conversations = [...rest, conversation].sort(
        (a, b) => b.last_activity_ms - a.last_activity_ms || a.peer_id.localeCompare(b.peer_id),
      );
    }
    const message = changes.message;
    if (message && this.isOpen(message.account_id, message.peer_id)) this.putMessage(message);
  }

  /** Puts a message of the open conversation in its place (newest first), replacing
   * the copy shown. One older than everything loaded waits for paging. */
  private putMessage(message: MessageView) {
    const newer = (a: MessageView, b: MessageView) =>
      b.create_time_ms - a.create_time_ms || b.id - a.id;
    if (this.messages.some((m) => m.id === message.id)) {
      this.messages = this.messages.map((m) => (m.id === message.id ? message : m));
      return;
    }
    const oldest = this.messages.at(-1);
    if (this.older && oldest && newer(message, oldest) > 0) return;
    this.messages = [...this.messages, message].sort(newer);
  }

  /** Downloads a received message's failed media again; it shows as pending until the
   * engine says how it went. */
  async retryMedia(message: MessageView) {
    await this.run(async () => {
      if (!(await api.retryMedia(message.id))) return;
      this.messages = this.messages.map((m) =>
        m.id === message.id ? { ...m, media_state: "pending", error: null } : m,
      );
    });
  }

  /** Keeps `aiWorking` in step with the AI's turns, from the events alone. */
  private trackAiTurn(ai: AiEvent) {
    if (!("peer_id" in ai) || !("account_id" in ai) || ai.account_id === null || ai.peer_id === null) return;
    const key = `${ai.account_id}/${ai.peer_id.toLowerCase()}`;
    if (ai.kind === "run_started" || ai.kind === "still_working") {
      this.aiWorking = { ...this.aiWorking, [key]: ai.kind === "still_working" ? ai.elapsed_ms : 0 };
    } else if (ai.kind === "run_finished" || ai.kind === "run_failed" || ai.kind === "no_reply") {
      const { [key]: _, ...rest } = this.aiWorking;
      this.aiWorking = rest;
    }
  }

  /** How long the open conversation's AI turn has run (ms), or null when none runs. */
  get openAiWorking(): number | null {
    if (!this.selectedAccount || !this.selectedPeer) return null;
    return this.aiWorking[`${this.selectedAccount}/${this.selectedPeer.toLowerCase()}`] ?? null;
  }

  // --- login ------------------------------------------------------------------------

  openLogin(alias = "") {
    this.login = { id: null, alias, state: null, qrUrl: null, refreshes: 0, error: null };
  }

  async beginLogin(alias: string) {
    if (!this.login) this.openLogin();
    const login = this.login!;
    login.error = null;
    login.state = null;
    login.qrUrl = null;
    login.refreshes = 0;
    try {
      login.id = await api.startLogin(alias.trim() === "" ? null : alias);
    } catch (err) {
      login.error = errorText(err);
    }
  }

  private applyLogin(loginId: string, state: LoginState) {
    const login = this.login;
    // Events may come before `startLogin` returns the id: adopt the first one seen.
    if (!login || (login.id !== null && login.id !== loginId)) return;
    login.id = loginId;
    login.state = state;
    if (state.state === "qr_ready") login.qrUrl = state.url;
    if (state.state === "refreshed") login.refreshes = state.n;
  }

  async submitCode(code: string) {
    const login = this.login;
    if (!login?.id) return;
    try {
      await api.submitLoginCode(login.id, code);
      login.error = null;
    } catch (err) {
      login.error = errorText(err);
    }
  }

  async closeLogin() {
    const login = this.login;
    this.login = null;
    if (login?.id && !(login.state && isFinal(login.state))) {
      await api.cancelLogin(login.id).catch(() => false);
    }
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
      this.actionError = errorText(err);
      return false;
    }
  }

  private patchUpload(key: string, change: Partial<Upload>) {
    this.uploads = this.uploads.map((u) => (u.key === key ? { ...u, ...change } : u));
  }

  private patchUploadByOutbox(outbox_id: number, change: Partial<Upload>) {
    if (!this.uploads.some((u) => u.outbox_id === outbox_id)) return;
    this.uploads = this.uploads.map((u) => (u.outbox_id === outbox_id ? { ...u, ...change } : u));
  }

  private upload(key: string): Upload | undefined {
    return this.uploads.find((u) => u.key === key);
  }

  /** Stops a file: once queued, it is discarded. */
  async cancelUpload(key: string) {
    const upload = this.upload(key);
    if (!upload) return;
    if (upload.done || upload.error) {
      this.uploads = this.uploads.filter((u) => u.key !== key);
      return;
    }
    this.patchUpload(key, { cancelled: true, error: t("composer.cancelled") });
    if (upload.outbox_id !== null) await api.discardOutbound(upload.outbox_id).catch(() => false);
  }

  /** Sends dropped or picked files one by one, each with its own progress line. */
  async sendFiles(paths: string[]) {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    for (const path of paths) {
      const name = path.split(/[\\/]/).pop() ?? path;
      const key = `${Date.now()}-${Math.random()}`;
      this.uploads = [
        ...this.uploads,
        { key, name, percent: null, phase: "uploading", error: null, done: false, cancelled: false, outbox_id: null },
      ];
      const patch = (change: Partial<Upload>) =>
        (this.uploads = this.uploads.map((u) => (u.key === key ? { ...u, ...change } : u)));
      try {
        const queued = await api.sendFile(account, peer, path);
        patch({ outbox_id: queued.outbox_id });
      } catch (err) {
        patch({ error: errorText(err) });
      }
    }
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

  dismissUpload(key: string) {
    this.uploads = this.uploads.filter((u) => u.key !== key);
  }

  async search(query: string, here: boolean): Promise<MessageView[]> {
    if (query.trim() === "") return [];
    return api.searchMessages(
      query,
      here ? this.selectedAccount : null,
      here ? this.selectedPeer : null,
      100,
    );
  }

  /** Opens a conversation of any account (a notification was clicked, a search hit
   * chosen), at `focus` if given. */
  async showConversation(account_id: string, peer_id: string, focus: number | null = null) {
    if (this.selectedAccount !== account_id) {
      this.selectedAccount = account_id;
      await this.reloadConversations();
    }
    await this.openConversation(peer_id, focus);
  }

  async jumpTo(message: MessageView) {
    await this.showConversation(message.account_id, message.peer_id, message.id);
  }
}

export function isFinal(state: LoginState): boolean {
  return ["confirmed", "already_bound", "cancelled", "failed"].includes(state.state);
}

export const app = new AppStore();
