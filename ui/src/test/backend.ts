// A fake backend for component tests: answers the real command names over mockIPC and
// records every call, so tests can assert what the UI asked for. Engine events are
// sent with `emitEngine`.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type {
  AccountView,
  AgentTarget,
  AppInfo,
  ConversationView,
  EngineEvent,
  IpcError,
  Locale,
  MessageView,
  PeerAiState,
  Prefs,
  Preset,
  ProviderConfig,
  ViewChanges,
} from "../lib/ipc";

export interface FakeBackend {
  calls: { cmd: string; args: unknown }[];
  info: AppInfo;
  accounts: AccountView[];
  conversations: ConversationView[];
  /** Per `${account}/${peer}`, newest first. */
  messages: Map<string, MessageView[]>;
  failNext?: IpcError;
  /** What the open dialog answers (`pick_files`). */
  picked: string[];
  aiAccounts: Record<string, boolean>;
  /** The AI state every listed conversation reports. */
  aiPeer: PeerAiState;
  aiHasKey: boolean;
  /** What set_ai_global answers: the gateway agent the saved settings reach. */
  aiAgent: AgentTarget | null;
  aiSummary: string;
  /** A name the server gave a peer (what clearing the owner's name falls back to). */
  serverNames: Record<string, string>;
  /** A peer's first text message, the naming hint. */
  firstTexts: Record<string, string>;
  /** Answers for commands the test wants to control. */
  answers: Record<string, (args: Record<string, unknown>) => unknown>;
  /** Commands whose answers wait until the promise settles (the test lets them through). */
  holds: Record<string, Promise<void>>;
}

export const defaultPrefs: Prefs = {
  notifications: true,
  do_not_disturb: false,
  muted: [],
  start_minimised: false,
  autostart: false,
  backend: { api_base: null, cdn_base: null, bot_agent: null, route_tag: null },
  send_interval_ms: null,
};

export function account(overrides: Partial<AccountView> = {}): AccountView {
  return {
    account_id: "bot1-im-bot",
    bot_id: "bot1@im.bot",
    alias: "Shop bot",
    user_id: "owner@im.wechat",
    base_url: "http://127.0.0.1:9/",
    enabled: true,
    lifecycle: "online",
    status: { state: "online" },
    unread: 0,
    undecodable: 0,
    ai_enabled: false,
    ...overrides,
  };
}

export function conversation(overrides: Partial<ConversationView> = {}): ConversationView {
  return {
    account_id: "bot1-im-bot",
    peer_id: "alice@im.wechat",
    display_name: "Alice",
    alias: null,
    note: null,
    last_activity_ms: Date.now(),
    unread_count: 0,
    last_text: "hi",
    last_item_kind: "text",
    window_closes_ms: Date.now() + 20 * 3600_000,
    window_age_unknown: false,
    replies_left: 10,
    scheduled: [],
    muted: false,
    ai: { enabled: null, effective: false, persona: null, takeover_until_ms: null },
    ...overrides,
  };
}

let nextId = 1;
export function message(overrides: Partial<MessageView> = {}): MessageView {
  const id = overrides.id ?? nextId++;
  return {
    id,
    account_id: "bot1-im-bot",
    peer_id: "alice@im.wechat",
    direction: "in",
    server_message_id: String(9_000_000_000_000_000_000n + BigInt(id)),
    create_time_ms: Date.now() - 60_000 + id,
    item_kind: "text",
    text: `message ${id}`,
    media_file_name: null,
    media_size: null,
    media_path: null,
    media_url: null,
    thumb_url: null,
    media_state: "none",
    media_failure: null,
    media_error: null,
    quote_text: null,
    quote_kind: null,
    quote_time_ms: null,
    quote_server_id: null,
    delivery: "received",
    failure: null,
    error: null,
    ai_generated: false,
    outbox_id: null,
    due_ms: null,
    ...overrides,
  };
}

export function fakeBackend(overrides: Partial<AppInfo> = {}): FakeBackend {
  const backend: FakeBackend = {
    calls: [],
    info: {
      version: "9.9.9",
      data_dir: "/home/tester/.local/share/weixin-desk",
      locale: "en",
      system_locale: "en-US",
      secrets: { kind: "persistent" },
      mode: { kind: "normal" },
      engine_ready: true,
      engine_error: null,
      prefs: defaultPrefs,
      open_conversation: null,
      ...overrides,
    },
    accounts: [],
    conversations: [],
    messages: new Map(),
    picked: [],
    aiAccounts: {},
    aiPeer: { enabled: null, effective: false, persona: null, takeover_until_ms: null },
    aiHasKey: false,
    aiAgent: null,
    aiSummary: "likes hiking",
    serverNames: {},
    firstTexts: {},
    answers: {},
    holds: {},
  };
  const withAccountAi = (a: AccountView): AccountView => ({
    ...a,
    ai_enabled: backend.aiAccounts[a.account_id] ?? a.ai_enabled,
  });
  const withPeerAi = peerAi;
  /** What the engine does after an AI switch: its settings event, with the changed views. */
  const aiChanged = (account_id: string, peer_id: string | null) => {
    const account = backend.accounts.find((a) => a.account_id === account_id);
    const listed = backend.conversations.find((c) => c.account_id === account_id && c.peer_id === peer_id);
    void emitEngine(
      { type: "ai", event: { kind: "settings_changed", account_id, peer_id } },
      noChanges({
        accounts: account && peer_id === null ? [withAccountAi(account)] : [],
        conversation: listed ? withPeerAi(listed) : null,
      }),
    );
  };
  current = backend;
  mockWindows("main");
  const respond = (cmd: string, args: Record<string, unknown>) => {
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
        return backend.accounts.map(withAccountAi);
      case "list_conversations":
        return backend.conversations.filter((c) => c.account_id === args.accountId).map(withPeerAi);
      case "conversation_page": {
        const all = backend.messages.get(`${args.accountId}/${args.peerId}`) ?? [];
        const before = args.before as { create_time_ms: number; id: number } | null;
        const start = before ? all.findIndex((m) => m.id === before.id) + 1 : 0;
        const limit = args.limit as number;
        const messages = all.slice(start, start + limit);
        const last = messages.at(-1);
        const older =
          start + limit < all.length && last ? { create_time_ms: last.create_time_ms, id: last.id } : null;
        return { messages, older };
      }
      case "mark_account_read":
        backend.conversations = backend.conversations.map((c) =>
          c.account_id === args.accountId ? { ...c, unread_count: 0 } : c,
        );
        backend.accounts = backend.accounts.map((a) => (a.account_id === args.accountId ? { ...a, unread: 0 } : a));
        return noChanges({
          accounts: backend.accounts.filter((a) => a.account_id === args.accountId).map(withAccountAi),
        });
      case "mark_read": {
        backend.conversations = backend.conversations.map((c) =>
          c.account_id === args.accountId && c.peer_id === args.peerId ? { ...c, unread_count: 0 } : c,
        );
        const read = backend.conversations.find(
          (c) => c.account_id === args.accountId && c.peer_id === args.peerId,
        );
        return noChanges({ conversation: read ? withPeerAi(read) : null });
      }
      case "send_text": {
        const key = `${args.accountId}/${args.peerId}`;
        const sent = message({
          account_id: args.accountId as string,
          peer_id: args.peerId as string,
          direction: "out",
          text: args.text as string,
          delivery: "queued",
          create_time_ms: Date.now(),
          outbox_id: 77,
        });
        backend.messages.set(key, [sent, ...(backend.messages.get(key) ?? [])]);
        // The engine announces the queued message.
        void emitEngine({
          type: "delivery_updated",
          outbox_id: 77,
          account_id: sent.account_id,
          peer_id: sent.peer_id,
          message_row_id: sent.id,
          state: "queued",
          error: null,
        });
        return { outbox_id: 77, message_row_id: sent.id };
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
      case "set_open_conversation":
      case "enter_sandbox":
        return null;
      case "set_muted": {
        const listed = backend.conversations.find(
          (c) => c.account_id === args.accountId && c.peer_id === args.peerId,
        );
        return listed ? withPeerAi({ ...listed, muted: args.muted as boolean }) : null;
      }
      case "search_messages":
        return { peers: [], messages: [] };
      // The owner's names and notes: the store keeps them, the changed row comes back.
      case "rename_peer":
      case "set_peer_note": {
        const i = backend.conversations.findIndex(
          (c) => c.account_id === args.accountId && c.peer_id === args.peerId,
        );
        if (i < 0) return null;
        const c = backend.conversations[i];
        const changed =
          cmd === "rename_peer"
            ? {
                ...c,
                alias: (args.name as string).trim() || null,
                display_name: (args.name as string).trim() || backend.serverNames[c.peer_id] || null,
              }
            : { ...c, note: (args.note as string).trim() || null };
        backend.conversations[i] = changed;
        return withPeerAi(changed);
      }
      case "peer_details": {
        const c = backend.conversations.find((c) => c.account_id === args.accountId && c.peer_id === args.peerId);
        if (!c) return null;
        return {
          account_id: c.account_id,
          peer_id: c.peer_id,
          display_name: c.display_name,
          alias: c.alias,
          note: c.note,
          first_text: backend.firstTexts[c.peer_id] ?? null,
          first_seen_ms: 0,
          last_seen_ms: c.last_activity_ms,
          window_age_unknown: c.window_age_unknown,
        };
      }
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
          has_api_key: backend.aiHasKey,
          presets: [
            provider("open_claw", "http://127.0.0.1:18789/v1", "openclaw/weixin"),
            provider("custom", "http://127.0.0.1:8000/v1", ""),
          ],
          agent: null,
          dedicated_agent_config: '{ agents: { list: [{ id: "weixin" }] } }',
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
        aiChanged(args.accountId as string, null);
        return null;
      case "ai_peer":
        return backend.aiPeer;
      case "set_ai_peer_enabled":
        backend.aiPeer = { ...backend.aiPeer, enabled: args.enabled as boolean, effective: args.enabled as boolean };
        aiChanged(args.accountId as string, args.peerId as string);
        return null;
      case "resume_ai_peer":
        backend.aiPeer = { ...backend.aiPeer, takeover_until_ms: null };
        aiChanged(args.accountId as string, args.peerId as string);
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
        aiChanged(args.accountId as string, args.peerId as string);
        return null;
      case "set_ai_global":
        return backend.aiAgent;
      case "set_ai_paused":
        return null;
      case "send_file": {
        // The engine refuses empty and oversized files with its reason.
        const path = args.path as string;
        if (path.endsWith("empty.txt")) {
          throw { code: "invalid_argument", message: "the file is empty" } satisfies IpcError;
        }
        const sent = backend.calls.filter((c) => c.cmd === "send_file").length;
        return { outbox_id: 500 + sent, message_row_id: null };
      }
      case "pick_files":
        return backend.picked;
      case "send_pasted_picture":
        return { outbox_id: 600, message_row_id: null };
      case "discard_outbound":
        return true;
      case "send_text_at":
      case "send_file_at":
        return { outbox_id: 900 + backend.calls.length, message_row_id: null };
      case "edit_scheduled":
        return null;
      case "retry_media":
        return true;
      case "report_first_paint":
        return false;
      default:
        throw { code: "internal", message: `unexpected command ${cmd}` } satisfies IpcError;
    }
  };
  mockIPC(
    (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      backend.calls.push({ cmd, args });
      const hold = backend.holds[cmd];
      return hold ? hold.then(() => respond(cmd, args)) : respond(cmd, args);
    },
    { shouldMockEvents: true },
  );
  return backend;
}

/** Changed views for an engine notice: nothing unless given. */
export function noChanges(changes: Partial<ViewChanges> = {}): ViewChanges {
  return { accounts: [], conversation: null, message: null, removed_account: null, ...changes };
}

let current: FakeBackend | null = null;

/** A listed conversation with the AI state the fake reports for it (`answers.ai_peer`
 * where the test gives one, else `aiPeer`). */
function peerAi(c: ConversationView): ConversationView {
  const backend = current;
  if (!backend) return c;
  const answer = backend.answers.ai_peer;
  const ai = answer ? (answer({ accountId: c.account_id, peerId: c.peer_id }) as PeerAiState) : backend.aiPeer;
  return { ...c, ai };
}

/** The views an event changed, read from the fake's state the way the shell reads
 * them from the store (the test first puts the new state in place). */
function changedViews(event: EngineEvent): Partial<ViewChanges> {
  const backend = current;
  if (!backend) return {};
  const accountOf = (id: string) => backend.accounts.filter((a) => a.account_id === id);
  const conversationOf = (account: string, peer: string) =>
    backend.conversations.find((c) => c.account_id === account && c.peer_id === peer) ?? null;
  const messageOf = (account: string, peer: string, id: number | null) =>
    (backend.messages.get(`${account}/${peer}`) ?? []).find((m) => m.id === id) ?? null;
  switch (event.type) {
    case "account_status_changed":
      return { accounts: accountOf(event.account_id).map((a) => ({ ...a, status: event.status })) };
    case "account_renamed":
      return { accounts: accountOf(event.account_id).map((a) => ({ ...a, alias: event.alias })) };
    case "message_received":
      return {
        accounts: accountOf(event.account_id),
        conversation: conversationOf(event.account_id, event.peer_id),
        message: messageOf(event.account_id, event.peer_id, event.message_row_id),
      };
    case "delivery_updated": {
      const sent = messageOf(event.account_id, event.peer_id, event.message_row_id);
      return {
        conversation: conversationOf(event.account_id, event.peer_id),
        message: sent && { ...sent, delivery: event.state, error: event.error, outbox_id: event.outbox_id },
      };
    }
    case "media_ready":
    case "media_failed":
      return { message: messageOf(event.account_id, event.peer_id, event.message_row_id) };
    case "ai": {
      const ai = event.event;
      if (ai.kind !== "takeover_started" && ai.kind !== "takeover_ended") return {};
      const listed = conversationOf(ai.account_id, ai.peer_id);
      return { conversation: listed && peerAi(listed) };
    }
    default:
      return {};
  }
}

/** An engine event as the shell forwards it, with the views it changed (given, or
 * read from the fake's state). */
export async function emitEngine(event: EngineEvent, changes?: Partial<ViewChanges>) {
  await emit("engine-notice", { event, changes: noChanges(changes ?? changedViews(event)) });
}
