// A fake backend for component tests: answers the real command names over mockIPC and
// records every call, so tests can assert what the UI asked for.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { AppInfo, IpcError, Locale } from "../lib/ipc";

export interface FakeBackend {
  calls: { cmd: string; args: unknown }[];
  info: AppInfo;
  failNext?: IpcError;
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
      ...overrides,
    },
  };
  mockIPC(
    (cmd, args) => {
      backend.calls.push({ cmd, args });
      if (backend.failNext) {
        const error = backend.failNext;
        backend.failNext = undefined;
        throw error;
      }
      switch (cmd) {
        case "app_info":
          return backend.info;
        case "set_locale": {
          const locale = (args as { locale: Locale }).locale;
          backend.info = { ...backend.info, locale };
          return locale;
        }
        default:
          throw { code: "internal", message: `unexpected command ${cmd}` } satisfies IpcError;
      }
    },
    { shouldMockEvents: true },
  );
  return backend;
}
