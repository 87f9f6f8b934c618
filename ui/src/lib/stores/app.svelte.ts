// The window's state: accounts, the open conversation and its log, the login dialog.
// Loaded from the backend and kept current by engine events; the store (SQLite) is
// the truth, so anything uncertain is simply reloaded.
import {
  api,
  type AccountView,
  type AiEvent,
  type AppInfo,
  type ConversationView,
  type Cursor,
  type EngineEvent,
  type LoginState,
  type MediaUrls,
  type MessageView,
  type PeerAiState,
} from "../ipc";
import { setActiveLocale, t } from "../i18n/index.svelte";
import { fileSize } from "../format";
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
  /** `reading`: bytes go to the app; `uploading`: the engine sends them to the CDN. */
  phase: "reading" | "uploading" | "sent";
  error: string | null;
  done: boolean;
  cancelled: boolean;
  uploadId: string | null;
  outboxId: number | null;
}

/** Bytes per chunk when a picked or dropped file is handed to the app. */
export const CHUNK_BYTES = 512 * 1024;

/** A slice of a file as bytes (FileReader: every webview has it). */
function readSlice(blob: Blob): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.onerror = () => reject(reader.error ?? new Error("unreadable"));
    reader.readAsArrayBuffer(blob);
  });
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
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
  older = $state<Cursor | null>(null);
  loadingOlder = $state(false);
  /** A message to scroll to and highlight (from search). */
  focusMessage = $state<number | null>(null);
  login = $state<LoginUi | null>(null);
  uploads = $state<Upload[]>([]);
  /** Whether AI replies are on by default, per account. */
  aiAccounts = $state<Record<string, boolean>>({});
  /** The open conversation's AI state. */
  aiPeer = $state<PeerAiState | null>(null);
  /** AI turns under way, by `account/peer` (lower case): how long each has run, in ms. */
  aiWorking = $state<Record<string, number>>({});
  /** Every listed conversation's AI state, by peer id (for the list's rows). */
  aiPeers = $state<Record<string, PeerAiState>>({});
  /** Upload progress of outbound files by outbox id, 0–100. */
  uploadProgress = $state<Record<number, number>>({});
  actionError = $state<string | null>(null);
  /** The technical text behind `actionError`, shown under "Details". */
  actionDetails = $state<string | null>(null);
  /** The accounts, and the selected account's conversations, have been listed once. */
  firstScreenLoaded = $state(false);
  private firstPaintReported = false;
  /** Paging back to a search hit: no page may be dropped meanwhile. */
  private seeking = false;
  /** Counts `reset`s: callbacks scheduled for an earlier window do nothing. */
  private mounts = 0;
  private generation = 0;

  get currentAccount(): AccountView | undefined {
    return this.accounts.find((a) => a.accountId === this.selectedAccount);
  }

  get currentConversation(): ConversationView | undefined {
    return this.conversations.find((c) => c.peerId === this.selectedPeer);
  }

  async start(): Promise<() => void> {
    const stops: (() => void)[] = [];
    const listen = async (p: Promise<() => void>) => stops.push(await p);
    await Promise.all([
      listen(api.onLocaleChanged((locale) => this.patchInfo({ locale }))),
      listen(api.onSecretsStatusChanged((secrets) => this.patchInfo({ secrets }))),
      listen(api.onBackendChanged(() => void this.reloadAll())),
      listen(api.onEngineEvent((event, media) => void this.handle(event, media))),
      listen(api.onEngineLagged(() => void this.reloadAll())),
    ]);
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
    this.aiAccounts = {};
    this.aiPeer = null;
    this.aiPeers = {};
    this.statusEvents = 0;
    this.statusSeen = {};
    this.actionError = null;
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
      const modeChanged = this.info && this.info.mode.kind !== info.mode.kind;
      this.info = info;
      this.loadError = null;
      if (modeChanged) {
        this.selectedAccount = null;
        this.selectedPeer = null;
        this.messages = [];
      }
      if (info.engineReady) await this.reloadAccounts();
    } catch (err) {
      this.loadError = errorText(err);
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

  /** Counts status events, so a list read before one cannot undo it. */
  private statusEvents = 0;
  private statusSeen: Record<string, number> = {};

  private async reloadAccountsNow() {
    try {
      const asked = this.statusEvents;
      const listed = await api.listAccounts();
      const current = new Map(this.accounts.map((a) => [a.accountId, a]));
      this.accounts = listed.map((a) => {
        const mine = current.get(a.accountId);
        return mine && (this.statusSeen[a.accountId] ?? 0) > asked ? { ...a, status: mine.status } : a;
      });
    } catch (err) {
      this.actionError = errorText(err);
      return;
    }
    void this.reloadAiAccounts();
    if (!this.accounts.some((a) => a.accountId === this.selectedAccount)) {
      this.selectedAccount = this.accounts[0]?.accountId ?? null;
      this.selectedPeer = null;
      this.messages = [];
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

  async reloadAiAccounts() {
    const entries = await Promise.all(
      this.accounts.map(async (a) => {
        try {
          return [a.accountId, (await api.aiAccount(a.accountId)).enabled] as const;
        } catch {
          return [a.accountId, false] as const;
        }
      }),
    );
    this.aiAccounts = Object.fromEntries(entries);
  }

  async reloadAiPeer() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) {
      this.aiPeer = null;
      return;
    }
    try {
      const state = await api.aiPeer(account, peer);
      if (account === this.selectedAccount && peer === this.selectedPeer) {
        this.aiPeer = state;
        this.aiPeers = { ...this.aiPeers, [peer]: state };
      }
    } catch {
      this.aiPeer = null;
    }
  }

  async setAccountAi(accountId: string, enabled: boolean) {
    await this.run(() => api.setAiAccountEnabled(accountId, enabled));
    await this.reloadAiAccounts();
    await this.reloadAiPeer();
    await this.reloadAiPeers();
  }

  async setPeerAi(enabled: boolean | null) {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    await this.run(() => api.setAiPeerEnabled(account, peer, enabled));
    await this.reloadAiPeer();
  }

  async resumeAi() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    await this.run(() => api.resumeAiPeer(account, peer));
    await this.reloadAiPeer();
  }

  async reloadConversations() {
    const account = this.selectedAccount;
    if (!account) {
      this.conversations = [];
      return;
    }
    const list = await api.listConversations(account);
    if (account === this.selectedAccount) this.conversations = list;
    await this.reloadAiPeers();
  }

  /** The AI state of every listed conversation (one small read each). */
  async reloadAiPeers() {
    const account = this.selectedAccount;
    const peers = this.conversations.map((c) => c.peerId);
    if (!account) return;
    const entries = await Promise.all(
      peers.map(async (peer) => {
        try {
          return [peer, await api.aiPeer(account, peer)] as const;
        } catch {
          return null;
        }
      }),
    );
    if (account !== this.selectedAccount) return;
    this.aiPeers = Object.fromEntries(entries.filter((e) => e !== null));
  }

  async selectAccount(accountId: string) {
    if (this.selectedAccount === accountId) return;
    this.selectedAccount = accountId;
    this.selectedPeer = null;
    this.messages = [];
    this.older = null;
    this.view = "home";
    await this.reloadConversations();
  }

  async openConversation(peerId: string, focus: number | null = null) {
    const account = this.selectedAccount;
    if (!account) return;
    this.selectedPeer = peerId;
    this.focusMessage = focus;
    this.view = "home";
    this.uploads = [];
    this.aiPeer = null;
    void this.reloadAiPeer();
    const page = await api.conversationPage(account, peerId, null, PAGE_SIZE);
    if (account !== this.selectedAccount || peerId !== this.selectedPeer) return;
    this.messages = page.messages;
    this.older = page.older;
    // Jumping to an older message: page back until it is loaded (the log drops no
    // pages meanwhile).
    this.seeking = focus !== null;
    try {
      while (focus !== null && this.older && !this.messages.some((m) => m.id === focus)) {
        if (account !== this.selectedAccount || peerId !== this.selectedPeer) return;
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
    this.older = { createTimeMs: oldest.createTimeMs, id: oldest.id };
  }

  private refreshing: Promise<void> = Promise.resolve();

  /** Reloads the newest page of the open conversation and merges it in. Calls run one
   * after another, so an older answer never overwrites a newer one. */
  refreshNewest(): Promise<void> {
    this.refreshing = this.refreshing.catch(() => {}).then(() => this.refreshNewestNow());
    return this.refreshing;
  }

  private async refreshNewestNow() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    const page = await api.conversationPage(account, peer, null, PAGE_SIZE);
    if (account !== this.selectedAccount || peer !== this.selectedPeer) return;
    const fresh = new Map(page.messages.map((m) => [m.id, m]));
    const oldest = page.messages.at(-1);
    // Keep loaded history older than the fresh page; the fresh page replaces the rest.
    const history = oldest
      ? this.messages.filter(
          (m) =>
            !fresh.has(m.id) &&
            (m.createTimeMs < oldest.createTimeMs ||
              (m.createTimeMs === oldest.createTimeMs && m.id < oldest.id)),
        )
      : this.messages;
    this.messages = [...page.messages, ...history];
    if (!this.older && page.older && history.length === 0) this.older = page.older;
  }

  async markRead() {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    const conversation = this.conversations.find((c) => c.peerId === peer);
    if (conversation && conversation.unreadCount === 0) return;
    await api.markRead(account, peer);
    this.conversations = this.conversations.map((c) =>
      c.peerId === peer ? { ...c, unreadCount: 0 } : c,
    );
    this.accounts = await api.listAccounts();
  }

  private isOpen(accountId: string, peerId: string): boolean {
    return (
      this.selectedAccount === accountId &&
      this.selectedPeer !== null &&
      this.selectedPeer.toLowerCase() === peerId.toLowerCase() &&
      this.view === "home"
    );
  }

  async handle(event: EngineEvent, media: MediaUrls | null = null) {
    switch (event.type) {
      case "message_received": {
        if (this.isOpen(event.account_id, event.peer_id)) {
          await this.refreshNewest();
          if (typeof document === "undefined" || document.hasFocus()) await this.markRead();
        }
        await this.reloadAccounts();
        break;
      }
      case "account_status_changed":
        if (!this.accounts.some((a) => a.accountId === event.account_id)) {
          // A new account (just logged in) not listed yet: list again after this.
          await this.reloadAccounts();
          break;
        }
        this.statusEvents += 1;
        this.statusSeen[event.account_id] = this.statusEvents;
        this.accounts = this.accounts.map((a) =>
          a.accountId === event.account_id ? { ...a, status: event.status } : a,
        );
        break;
      case "delivery_updated": {
        if (event.state === "delivered") {
          this.patchUploadByOutbox(event.outbox_id, { percent: 100, phase: "sent", done: true });
        } else if (event.state === "failed") {
          this.patchUploadByOutbox(event.outbox_id, { error: event.error ?? "failed" });
        }
        if (event.account_id === this.selectedAccount && (event.state === "delivered" || event.state === "queued")) {
          await this.reloadConversations();
        }
        if (!this.isOpen(event.account_id, event.peer_id)) break;
        const known = this.messages.some((m) => m.id === event.message_row_id);
        if (known) {
          this.messages = this.messages.map((m) =>
            m.id === event.message_row_id
              ? { ...m, delivery: event.state, error: event.error, outboxId: event.outbox_id }
              : m,
          );
        } else {
          await this.refreshNewest();
        }
        break;
      }
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
      case "media_ready":
      case "media_failed": {
        if (!this.isOpen(event.account_id, event.peer_id)) break;
        if (!this.messages.some((m) => m.id === event.message_row_id)) {
          // Not loaded yet (a refresh is under way): read it again after that one.
          await this.refreshNewest();
          break;
        }
        this.messages = this.messages.map((m) =>
          m.id !== event.message_row_id
            ? m
            : event.type === "media_ready"
              ? {
                  ...m,
                  mediaState: "ready",
                  mediaPath: event.path,
                  mediaUrl: media?.mediaUrl ?? null,
                  thumbUrl: media?.thumbUrl ?? null,
                }
              : { ...m, mediaState: "failed", error: event.reason },
        );
        break;
      }
      case "ai": {
        const ai = event.event;
        this.trackAiTurn(ai);
        if (ai.kind === "settings_changed") {
          if (ai.account_id === null || ai.peer_id === null) await this.reloadAiAccounts();
          await this.reloadAiPeer();
          await this.reloadAiPeers();
        } else if (ai.kind === "takeover_started" || ai.kind === "takeover_ended") {
          if (this.isOpen(ai.account_id, ai.peer_id)) await this.reloadAiPeer();
          if (ai.account_id === this.selectedAccount) await this.reloadAiPeers();
        }
        break;
      }
      case "account_removed":
      case "account_renamed":
      case "account_replaced":
        await this.reloadAccounts();
        break;
    }
  }

  /** Downloads a received message's failed media again; it shows as pending until the
   * engine says how it went. */
  async retryMedia(message: MessageView) {
    await this.run(async () => {
      if (!(await api.retryMedia(message.id))) return;
      this.messages = this.messages.map((m) =>
        m.id === message.id ? { ...m, mediaState: "pending", error: null } : m,
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
      await this.refreshNewest();
      return true;
    } catch (err) {
      this.actionError = errorText(err);
      return false;
    }
  }

  private patchUpload(key: string, change: Partial<Upload>) {
    this.uploads = this.uploads.map((u) => (u.key === key ? { ...u, ...change } : u));
  }

  private patchUploadByOutbox(outboxId: number, change: Partial<Upload>) {
    if (!this.uploads.some((u) => u.outboxId === outboxId)) return;
    this.uploads = this.uploads.map((u) => (u.outboxId === outboxId ? { ...u, ...change } : u));
  }

  private upload(key: string): Upload | undefined {
    return this.uploads.find((u) => u.key === key);
  }

  /** Sends picked or dropped files (the webview has their bytes, not their paths), one
   * after another, each with its own progress line, cancel button and error. */
  async sendFileObjects(files: File[]) {
    const account = this.selectedAccount;
    const peer = this.selectedPeer;
    if (!account || !peer) return;
    const max = this.info?.maxUploadBytes ?? 0;
    const entries = files.map((file) => ({
      file,
      key: `${Date.now()}-${Math.random()}`,
    }));
    this.uploads = [
      ...this.uploads,
      ...entries.map(({ file, key }) => ({
        key,
        name: file.name,
        percent: 0,
        phase: "reading" as const,
        error: null,
        done: false,
        cancelled: false,
        uploadId: null,
        outboxId: null,
      })),
    ];
    for (const { file, key } of entries) {
      if (this.upload(key)?.cancelled) continue;
      if (file.size === 0) {
        this.patchUpload(key, { error: t("composer.fileEmpty") });
        continue;
      }
      if (max > 0 && file.size > max) {
        this.patchUpload(key, {
          error: t("composer.fileTooLarge", { size: fileSize(file.size), limit: fileSize(max) }),
        });
        continue;
      }
      try {
        const uploadId = await api.beginUpload(file.name, file.size);
        this.patchUpload(key, { uploadId });
        for (let offset = 0; offset < file.size; offset += CHUNK_BYTES) {
          if (this.upload(key)?.cancelled) {
            await api.cancelUpload(uploadId);
            break;
          }
          let bytes: Uint8Array;
          try {
            bytes = await readSlice(file.slice(offset, offset + CHUNK_BYTES));
          } catch (err) {
            await api.cancelUpload(uploadId);
            throw new Error(`cannot read the file: ${errorText(err)}`);
          }
          const written = await api.appendUpload(uploadId, toBase64(bytes));
          this.patchUpload(key, { percent: Math.floor((written * 100) / file.size) });
        }
        if (this.upload(key)?.cancelled) continue;
        const queued = await api.finishUpload(uploadId, account, peer);
        this.patchUpload(key, { outboxId: queued.outboxId, phase: "uploading", percent: 0 });
        await this.refreshNewest();
      } catch (err) {
        this.patchUpload(key, { error: errorText(err) });
      }
    }
  }

  /** Stops a file: while it is read, nothing is sent; once queued, it is discarded. */
  async cancelUpload(key: string) {
    const upload = this.upload(key);
    if (!upload) return;
    if (upload.done || upload.error) {
      this.uploads = this.uploads.filter((u) => u.key !== key);
      return;
    }
    this.patchUpload(key, { cancelled: true, error: t("composer.cancelled") });
    if (upload.outboxId !== null) await api.discardOutbound(upload.outboxId).catch(() => false);
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
        { key, name, percent: null, phase: "uploading", error: null, done: false, cancelled: false, uploadId: null, outboxId: null },
      ];
      const patch = (change: Partial<Upload>) =>
        (this.uploads = this.uploads.map((u) => (u.key === key ? { ...u, ...change } : u)));
      try {
        const queued = await api.sendFile(account, peer, path);
        patch({ outboxId: queued.outboxId });
        await this.refreshNewest();
      } catch (err) {
        patch({ error: errorText(err) });
      }
    }
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

  async jumpTo(message: MessageView) {
    if (this.selectedAccount !== message.accountId) {
      this.selectedAccount = message.accountId;
      await this.reloadConversations();
    }
    await this.openConversation(message.peerId, message.id);
  }
}

export function isFinal(state: LoginState): boolean {
  return ["confirmed", "already_bound", "cancelled", "failed"].includes(state.state);
}

export const app = new AppStore();
