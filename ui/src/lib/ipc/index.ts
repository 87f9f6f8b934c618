// The one door from the UI to the backend. Everything crosses typed, through the
// generated bindings; failures arrive as IpcError {code, message, details?}.
import { commands, events } from "./bindings";
import type {
  BackendChanged,
  EngineEvent,
  EngineLagged,
  IpcError,
  Locale,
  OpenConversation,
  Result,
  SecretStoreStatus,
  ViewChanges,
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

type Unwrapped<R> = [R] extends [Result<infer T, IpcError>] ? T : R;

/** Every command of the bindings, answering its value or throwing a `BackendError`. */
type Commands = {
  [K in keyof typeof commands]: (
    ...args: Parameters<(typeof commands)[K]>
  ) => Promise<Unwrapped<Awaited<ReturnType<(typeof commands)[K]>>>>;
};

function isResult(value: unknown): value is Result<unknown, IpcError> {
  if (typeof value !== "object" || value === null || !("status" in value)) return false;
  const { status } = value as { status: unknown };
  return (status === "ok" && "data" in value) || (status === "error" && "error" in value);
}

/** Derived from the generated bindings: a command is declared once, in Rust. */
const unwrapped = Object.fromEntries(
  Object.entries(commands).map(([name, command]) => [
    name,
    async (...args: unknown[]) => {
      const answer: unknown = await (command as (...a: unknown[]) => Promise<unknown>)(...args);
      return isResult(answer) ? unwrap(answer) : answer;
    },
  ]),
) as Commands;

export const api = {
  ...unwrapped,
  onLocaleChanged: (handler: (locale: Locale) => void) =>
    events.localeChanged.listen((event) => handler(event.payload.locale)),
  onSecretsStatusChanged: (handler: (status: SecretStoreStatus) => void) =>
    events.secretsStatusChanged.listen((event) => handler(event.payload.status)),
  onBackendChanged: (handler: (change: BackendChanged) => void) =>
    events.backendChanged.listen((event) => handler(event.payload)),
  onEngineEvent: (handler: (event: EngineEvent, changes: ViewChanges) => void) =>
    events.engineNotice.listen((event) => handler(event.payload.event, event.payload.changes)),
  onEngineLagged: (handler: (lagged: EngineLagged) => void) =>
    events.engineLagged.listen((event) => handler(event.payload)),
  onShowConversation: (handler: (open: OpenConversation) => void) =>
    events.showConversation.listen((event) => handler(event.payload.conversation)),
};
