// The login dialog: the QR code and every state of one login, from the engine's
// login events.
import { api, type LoginState } from "../ipc";
import { describeError } from "../errors";

export interface LoginUi {
  id: string | null;
  /** The name the dialog starts with. */
  alias: string;
  /** The last state seen; the dialog shows it and the QR of the last `qr_ready`. */
  state: LoginState | null;
  qrUrl: string | null;
  refreshes: number;
  error: string | null;
}

export function isFinal(state: LoginState): boolean {
  return ["confirmed", "already_bound", "cancelled", "failed"].includes(state.state);
}

export class LoginStore {
  current = $state<LoginUi | null>(null);

  open(alias = "") {
    this.current = { id: null, alias, state: null, qrUrl: null, refreshes: 0, error: null };
  }

  async begin(alias: string) {
    if (!this.current) this.open();
    const login = this.current!;
    login.error = null;
    login.state = null;
    login.qrUrl = null;
    login.refreshes = 0;
    try {
      login.id = await api.startLogin(alias.trim() === "" ? null : alias);
    } catch (err) {
      login.error = describeError(err).sentence;
    }
  }

  apply(loginId: string, state: LoginState) {
    const login = this.current;
    // Events may come before `startLogin` returns the id: adopt the first one seen.
    if (!login || (login.id !== null && login.id !== loginId)) return;
    login.id = loginId;
    login.state = state;
    if (state.state === "qr_ready") login.qrUrl = state.url;
    if (state.state === "refreshed") login.refreshes = state.n;
  }

  async submitCode(code: string) {
    const login = this.current;
    if (!login?.id) return;
    try {
      await api.submitLoginCode(login.id, code);
      login.error = null;
    } catch (err) {
      login.error = describeError(err).sentence;
    }
  }

  async close() {
    const login = this.current;
    this.current = null;
    if (login?.id && !(login.state && isFinal(login.state))) {
      await api.cancelLogin(login.id).catch(() => false);
    }
  }

  reset() {
    this.current = null;
  }
}

export const login = new LoginStore();
