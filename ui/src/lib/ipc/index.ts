// The one door from the UI to the backend. Everything crosses typed, through the
// generated bindings; failures arrive as IpcError {code, message, details?}.
import { commands, events } from "./bindings";
import type { AppInfo, IpcError, Locale, Result, SecretStoreStatus } from "./bindings";

export type { AppInfo, IpcError, Locale, SecretStoreStatus };

/** An IPC failure thrown to callers, carrying the backend's structured error. */
export class BackendError extends Error {
  readonly code: IpcError["code"];
  readonly details: IpcError["details"];
  constructor(error: IpcError) {
    super(error.message);
    this.name = "BackendError";
    this.code = error.code;
    this.details = error.details;
  }
}

function unwrap<T>(result: Result<T, IpcError>): T {
  if (result.status === "error") throw new BackendError(result.error);
  return result.data;
}

export const api = {
  appInfo: async (): Promise<AppInfo> => unwrap(await commands.appInfo()),
  setLocale: async (locale: Locale): Promise<Locale> => unwrap(await commands.setLocale(locale)),
  onLocaleChanged: (handler: (locale: Locale) => void) =>
    events.localeChanged.listen((event) => handler(event.payload.locale)),
  onSecretsStatusChanged: (handler: (status: SecretStoreStatus) => void) =>
    events.secretsStatusChanged.listen((event) => handler(event.payload.status)),
};
