// The one door from the UI to the backend. Everything crosses typed, through the
// generated bindings; failures arrive as IpcError {code, message, details?}.
import { commands, events } from "./bindings";
import type {
  AccountAiSettings,
  AgentTarget,
  AccountView,
  AiGlobalView,
  AppInfo,
  ConnectionReport,
  GlobalAiSettings,
  MemoryView,
  PeerAiState,
  BackendChanged,
  ConversationView,
  Cursor,
  EngineEvent,
  IpcError,
  Locale,
  MediaUrls,
  MessagePageView,
  MessageView,
  Prefs,
  Queued,
  Result,
  SecretStoreStatus,
} from "./bindings";

// Every generated type, for the components (which never import the bindings directly).
export type * from "./bindings";

/** An IPC failure thrown to callers, carrying the backend's structured error. */
export class BackendError extends Error {
  readonly code: IpcError["code"];
  readonly details: IpcError["details"];
  /** The kind of failure, when the backend could tell (see `errors.ts`). */
  readonly problem: IpcError["problem"];
  constructor(error: IpcError) {
    super(error.message);
    this.name = "BackendError";
    this.code = error.code;
    this.details = error.details;
    this.problem = error.problem;
  }
}

function unwrap<T>(result: Result<T, IpcError>): T {
  if (result.status === "error") throw new BackendError(result.error);
  return result.data;
}

export const api = {
  appInfo: async (): Promise<AppInfo> => unwrap(await commands.appInfo()),
  setLocale: async (locale: Locale): Promise<Locale> => unwrap(await commands.setLocale(locale)),
  enterSandbox: async (): Promise<void> => {
    unwrap(await commands.enterSandbox());
  },
  setPrefs: async (prefs: Prefs): Promise<Prefs> => unwrap(await commands.setPrefs(prefs)),
  listAccounts: async (): Promise<AccountView[]> => unwrap(await commands.listAccounts()),
  startLogin: async (alias: string | null): Promise<string> =>
    unwrap(await commands.startLogin(alias)),
  submitLoginCode: async (loginId: string, code: string): Promise<void> => {
    unwrap(await commands.submitLoginCode(loginId, code));
  },
  cancelLogin: async (loginId: string): Promise<boolean> =>
    unwrap(await commands.cancelLogin(loginId)),
  qrSvg: async (text: string): Promise<string> => unwrap(await commands.qrSvg(text)),
  renameAccount: async (accountId: string, alias: string): Promise<void> => {
    unwrap(await commands.renameAccount(accountId, alias));
  },
  setAccountEnabled: async (accountId: string, enabled: boolean): Promise<void> => {
    unwrap(await commands.setAccountEnabled(accountId, enabled));
  },
  removeAccount: async (accountId: string, keepLog: boolean): Promise<void> => {
    unwrap(await commands.removeAccount(accountId, keepLog));
  },
  listConversations: async (accountId: string): Promise<ConversationView[]> =>
    unwrap(await commands.listConversations(accountId)),
  conversationPage: async (
    accountId: string,
    peerId: string,
    before: Cursor | null,
    limit: number,
  ): Promise<MessagePageView> =>
    unwrap(await commands.conversationPage(accountId, peerId, before, limit)),
  markRead: async (accountId: string, peerId: string): Promise<void> => {
    unwrap(await commands.markRead(accountId, peerId));
  },
  markAccountRead: async (accountId: string): Promise<void> => {
    unwrap(await commands.markAccountRead(accountId));
  },
  sendText: async (accountId: string, peerId: string, text: string): Promise<Queued> =>
    unwrap(await commands.sendText(accountId, peerId, text)),
  sendFile: async (accountId: string, peerId: string, path: string): Promise<Queued> =>
    unwrap(await commands.sendFile(accountId, peerId, path)),
  retryOutbound: async (outboxId: number): Promise<boolean> =>
    unwrap(await commands.retryOutbound(outboxId)),
  retryMedia: async (messageId: number): Promise<boolean> => unwrap(await commands.retryMedia(messageId)),
  discardOutbound: async (outboxId: number): Promise<boolean> =>
    unwrap(await commands.discardOutbound(outboxId)),
  messageRaw: async (messageId: number): Promise<string | null> =>
    unwrap(await commands.messageRaw(messageId)),
  searchMessages: async (
    query: string,
    accountId: string | null,
    peerId: string | null,
    limit: number,
  ): Promise<MessageView[]> =>
    unwrap(await commands.searchMessages(query, accountId, peerId, limit)),
  openMedia: async (path: string, reveal: boolean): Promise<void> => {
    unwrap(await commands.openMedia(path, reveal));
  },
  /** The first screen is painted (the shell prints the start-up time when asked to). */
  reportFirstPaint: (): Promise<boolean> => commands.reportFirstPaint(),
  /** Asks where with the native save dialog and copies the file there; `null` if cancelled. */
  saveMediaAs: async (path: string, suggestedName: string | null): Promise<string | null> =>
    unwrap(await commands.saveMediaAs(path, suggestedName)),
  beginUpload: async (name: string, size: number): Promise<string> =>
    unwrap(await commands.beginUpload(name, size)),
  appendUpload: async (uploadId: string, chunk: string): Promise<number> =>
    unwrap(await commands.appendUpload(uploadId, chunk)),
  finishUpload: async (uploadId: string, accountId: string, peerId: string): Promise<Queued> =>
    unwrap(await commands.finishUpload(uploadId, accountId, peerId)),
  cancelUpload: async (uploadId: string): Promise<boolean> =>
    unwrap(await commands.cancelUpload(uploadId)),
  aiGlobal: async (): Promise<AiGlobalView> => unwrap(await commands.aiGlobal()),
  setAiGlobal: async (settings: GlobalAiSettings): Promise<AgentTarget | null> =>
    unwrap(await commands.setAiGlobal(settings)),
  setAiPaused: async (paused: boolean): Promise<void> => {
    unwrap(await commands.setAiPaused(paused));
  },
  setAiKey: async (key: string | null): Promise<void> => {
    unwrap(await commands.setAiKey(key));
  },
  testAiConnection: async (): Promise<ConnectionReport> => unwrap(await commands.testAiConnection()),
  aiAccount: async (accountId: string): Promise<AccountAiSettings> =>
    unwrap(await commands.aiAccount(accountId)),
  setAiAccount: async (accountId: string, settings: AccountAiSettings): Promise<void> => {
    unwrap(await commands.setAiAccount(accountId, settings));
  },
  setAiAccountEnabled: async (accountId: string, enabled: boolean): Promise<void> => {
    unwrap(await commands.setAiAccountEnabled(accountId, enabled));
  },
  aiPeer: async (accountId: string, peerId: string): Promise<PeerAiState> =>
    unwrap(await commands.aiPeer(accountId, peerId)),
  setAiPeerEnabled: async (accountId: string, peerId: string, enabled: boolean | null): Promise<void> => {
    unwrap(await commands.setAiPeerEnabled(accountId, peerId, enabled));
  },
  setAiPeerPersona: async (accountId: string, peerId: string, persona: string | null): Promise<void> => {
    unwrap(await commands.setAiPeerPersona(accountId, peerId, persona));
  },
  resumeAiPeer: async (accountId: string, peerId: string): Promise<void> => {
    unwrap(await commands.resumeAiPeer(accountId, peerId));
  },
  aiMemory: async (accountId: string, peerId: string): Promise<MemoryView> =>
    unwrap(await commands.aiMemory(accountId, peerId)),
  setAiMemorySummary: async (accountId: string, peerId: string, summary: string): Promise<void> => {
    unwrap(await commands.setAiMemorySummary(accountId, peerId, summary));
  },
  resetAiMemory: async (accountId: string, peerId: string): Promise<void> => {
    unwrap(await commands.resetAiMemory(accountId, peerId));
  },
  setMuted: async (accountId: string, peerId: string, muted: boolean): Promise<void> => {
    unwrap(await commands.setMuted(accountId, peerId, muted));
  },
  onLocaleChanged: (handler: (locale: Locale) => void) =>
    events.localeChanged.listen((event) => handler(event.payload.locale)),
  onSecretsStatusChanged: (handler: (status: SecretStoreStatus) => void) =>
    events.secretsStatusChanged.listen((event) => handler(event.payload.status)),
  onBackendChanged: (handler: (change: BackendChanged) => void) =>
    events.backendChanged.listen((event) => handler(event.payload)),
  onEngineEvent: (handler: (event: EngineEvent, media: MediaUrls | null) => void) =>
    events.engineNotice.listen((event) => handler(event.payload.event, event.payload.media ?? null)),
  onEngineLagged: (handler: () => void) => events.engineLagged.listen(() => handler()),
};
