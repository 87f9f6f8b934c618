// A fake backend for component tests: answers the real command names over mockIPC and
// records every call, so tests can assert what the UI asked for. Engine events are
// sent with `emitEngine`.
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type {
  AccountView,
  AgentTarget,
  AppInfo,
  ConversationView,
  EngineEvent,
  IpcError,
  Locale,
  MediaUrls,
  MessageView,
  Prefs,
  Preset,
  ProviderConfig,
} from "../lib/ipc";

export interface FakeBackend {
  calls: { cmd: string; args: unknown }[];
  info: AppInfo;
  accounts: AccountView[];
  conversations: ConversationView[];
  /** Per `${account}/${peer}`, newest first. */
  messages: Map<string, MessageView[]>;
  failNext?: IpcError;
  /** Bytes received per upload id (decoded from the base64 chunks). */
  uploads: Map<string, string>;
  aiAccounts: Record<string, boolean>;
  aiPeer: { enabled: boolean | null; effective: boolean; persona: string | null; takeover_until_ms: number | null };
  aiHasKey: boolean;
  /** What set_ai_global answers: the gateway agent the saved settings reach. */
  aiAgent: AgentTarget | null;
  aiSummary: string;
  /** Answers for commands the test wants to control. */
  answers: Record<string, (args: Record<string, unknown>) => unknown>;
}

export const defaultPrefs: Prefs = {
  notifications: true,
  doNotDisturb: false,
  muted: [],
  startMinimised: false,
  autostart: false,
  backend: { apiBase: null, cdnBase: null, botAgent: null, routeTag: null },
};

export function account(overrides: Partial<AccountView> = {}): AccountView {
  return {
    accountId: "bot1-im-bot",
    botId: "bot1@im.bot",
    alias: "Shop bot",
    userId: "owner@im.wechat",
    baseUrl: "http://127.0.0.1:9/",
    enabled: true,
    lifecycle: "online",
    status: { state: "online" },
    unread: 0,
    undecodable: 0,
    ...overrides,
  };
}

export function conversation(overrides: Partial<ConversationView> = {}): ConversationView {
  return {
    accountId: "bot1-im-bot",
    peerId: "alice@im.wechat",
    displayName: "Alice",
    lastActivityMs: Date.now(),
    unreadCount: 0,
    lastText: "hi",
    lastItemKind: "text",
    windowClosesMs: Date.now() + 20 * 3600_000,
    muted: false,
    ...overrides,
  };
}

let nextId = 1;
export function message(overrides: Partial<MessageView> = {}): MessageView {
  const id = overrides.id ?? nextId++;
  return {
    id,
    accountId: "bot1-im-bot",
    peerId: "alice@im.wechat",
    direction: "in",
    serverMessageId: String(9_000_000_000_000_000_000n + BigInt(id)),
    createTimeMs: Date.now() - 60_000 + id,
    itemKind: "text",
    text: `message ${id}`,
    mediaFileName: null,
    mediaSize: null,
    mediaPath: null,
    mediaUrl: null,
    thumbUrl: null,
    mediaState: "none",
    quoteText: null,
    delivery: "received",
    error: null,
    aiGenerated: false,
    outboxId: null,
    ...overrides,
  };
}

export function fakeBackend(overrides: Partial<AppInfo> = {}): FakeBackend {
  const backend: FakeBackend = {
    calls: [],
    info: {
      version: "9.9.9",
      dataDir: "/home/tester/.local/share/weixin-desk",
      locale: "en",
      systemLocale: "en-US",
      secrets: { kind: "persistent" },
      mode: { kind: "normal" },
      engineReady: true,
      engineError: null,
      prefs: defaultPrefs,
      maxUploadBytes: 100 * 1024 * 1024,
      ...overrides,
    },
    accounts: [],
    conversations: [],
    messages: new Map(),
    uploads: new Map(),
    aiAccounts: {},
    aiPeer: { enabled: null, effective: false, persona: null, takeover_until_ms: null },
    aiHasKey: false,
    aiAgent: null,
    aiSummary: "likes hiking",
    answers: {},
  };
  mockIPC(
    (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      backend.calls.push({ cmd, args });
      if (backend.failNext) {
        const error = backend.failNext;
        backend.failNext = undefined;
        throw error;
      }
      const answer = backend.answers[cmd];
      if (answer) return answer(args);
      switch (cmd) {
        case "app_info":
          return backend.info;
        case "set_locale": {
          const locale = args.locale as Locale;
          backend.info = { ...backend.info, locale };
          return locale;
        }
        case "set_prefs":
          backend.info = { ...backend.info, prefs: args.prefs as Prefs };
          return args.prefs;
        case "list_accounts":
          return backend.accounts;
        case "list_conversations":
          return backend.conversations.filter((c) => c.accountId === args.accountId);
        case "conversation_page": {
          const all = backend.messages.get(`${args.accountId}/${args.peerId}`) ?? [];
          const before = args.before as { createTimeMs: number; id: number } | null;
          const start = before ? all.findIndex((m) => m.id === before.id) + 1 : 0;
          const limit = args.limit as number;
          const messages = all.slice(start, start + limit);
          const last = messages.at(-1);
          const older =
            start + limit < all.length && last ? { createTimeMs: last.createTimeMs, id: last.id } : null;
          return { messages, older };
        }
        case "mark_account_read":
          backend.conversations = backend.conversations.map((c) =>
            c.accountId === args.accountId ? { ...c, unreadCount: 0 } : c,
          );
          backend.accounts = backend.accounts.map((a) => (a.accountId === args.accountId ? { ...a, unread: 0 } : a));
          return null;
        case "mark_read":
          backend.conversations = backend.conversations.map((c) =>
            c.accountId === args.accountId && c.peerId === args.peerId ? { ...c, unreadCount: 0 } : c,
          );
          return null;
        case "send_text": {
          const key = `${args.accountId}/${args.peerId}`;
          const sent = message({
            accountId: args.accountId as string,
            peerId: args.peerId as string,
            direction: "out",
            text: args.text as string,
            delivery: "queued",
            createTimeMs: Date.now(),
            outboxId: 77,
          });
          backend.messages.set(key, [sent, ...(backend.messages.get(key) ?? [])]);
          return { outboxId: 77, messageRowId: sent.id };
        }
        case "qr_svg":
          return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 29 29"><path d="M4 4h1v1H4V4"/></svg>';
        case "start_login":
          return "login-1";
        case "cancel_login":
          return true;
        case "submit_login_code":
        case "rename_account":
        case "set_account_enabled":
        case "remove_account":
        case "set_muted":
        case "enter_sandbox":
          return null;
        case "search_messages":
          return [];
        case "ai_global": {
          const provider = (preset: Preset, base_url: string, model: string): ProviderConfig => ({
            preset,
            base_url,
            model,
            vision: false,
            extra_headers: [],
            extra_body: "",
            max_tokens: null,
            allow_main_agent: false,
          });
          return {
            settings: {
              paused: false,
              provider: provider("custom", "http://127.0.0.1:8000/v1", "m"),
              history_messages: 20,
              history_tokens: 3000,
              split_limit: 1800,
            },
            hasApiKey: backend.aiHasKey,
            presets: [
              provider("open_claw", "http://127.0.0.1:18789/v1", "openclaw/weixin"),
              provider("custom", "http://127.0.0.1:8000/v1", ""),
            ],
            agent: null,
            dedicatedAgentConfig: '{ agents: { list: [{ id: "weixin" }] } }',
          };
        }
        case "ai_account":
          return {
            enabled: backend.aiAccounts[args.accountId as string] ?? false,
            persona: "",
            memory_scope: "per-account-per-peer",
            allow: [],
            block: ["spam@im.wechat"],
            quiet_hours: null,
            runs_per_peer_per_hour: 30,
            takeover_minutes: 30,
            error_notice: null,
            debug: false,
          };
        case "set_ai_account":
          return null;
        case "set_ai_account_enabled":
          backend.aiAccounts[args.accountId as string] = args.enabled as boolean;
          return null;
        case "ai_peer":
          return backend.aiPeer;
        case "set_ai_peer_enabled":
          backend.aiPeer = { ...backend.aiPeer, enabled: args.enabled as boolean, effective: args.enabled as boolean };
          return null;
        case "resume_ai_peer":
          backend.aiPeer = { ...backend.aiPeer, takeover_until_ms: null };
          return null;
        case "set_ai_key":
          backend.aiHasKey = args.key !== null;
          return null;
        case "ai_memory":
          return { scope_key: "per_peer:bot1-im-bot:alice@im.wechat", summary: backend.aiSummary, history: [{ role: "user", text: "hi" }] };
        case "set_ai_memory_summary":
          backend.aiSummary = args.summary as string;
          return null;
        case "reset_ai_memory":
          backend.aiSummary = "";
          return null;
        case "set_ai_peer_persona":
          backend.aiPeer = { ...backend.aiPeer, persona: args.persona as string | null };
          return null;
        case "set_ai_global":
          return backend.aiAgent;
        case "set_ai_paused":
          return null;
        case "begin_upload": {
          const id = `up-${backend.uploads.size + 1}`;
          backend.uploads.set(id, "");
          return id;
        }
        case "append_upload": {
          const id = args.uploadId as string;
          const next = (backend.uploads.get(id) ?? "") + atob(args.chunk as string);
          backend.uploads.set(id, next);
          return next.length;
        }
        case "finish_upload":
          return { outboxId: 500 + backend.calls.filter((c) => c.cmd === "finish_upload").length, messageRowId: null };
        case "cancel_upload":
          return backend.uploads.delete(args.uploadId as string);
        case "discard_outbound":
          return true;
        case "retry_media":
          return true;
        case "report_first_paint":
          return false;
        default:
          throw { code: "internal", message: `unexpected command ${cmd}` } satisfies IpcError;
      }
    },
    { shouldMockEvents: true },
  );
  return backend;
}

export async function emitEngine(event: EngineEvent, media: MediaUrls | null = null) {
  await emit("engine-notice", { event, media });
}
