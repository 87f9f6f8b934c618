// One engine event in, each part of it to the one store that owns it: the changed
// views the core built go in place, and what no view carries (login, upload progress,
// AI turns) is read from the event itself. Nothing is asked back for an event.
import type { ConversationView, EngineEvent, ViewChanges } from "../ipc";
import { t } from "../i18n/index.svelte";
import { accounts } from "./accounts.svelte";
import { aiTurns } from "./aiTurns.svelte";
import { app } from "./app.svelte";
import { conversations } from "./conversations.svelte";
import { log } from "./log.svelte";
import { login } from "./login.svelte";
import { PushedMeanwhile } from "./pushedMeanwhile";
import { uploads } from "./uploads.svelte";

const pushed = new PushedMeanwhile<ViewChanges>(place);

/** Runs an action that answers with the views it changed: they go in place, then the
 * views pushed while it ran go back over them (the answer may be older than they are). */
export function applyAnswer(action: () => Promise<ViewChanges>): Promise<void> {
  return pushed.around(action, place);
}

/** As `applyAnswer`, for an action that answers with one conversation's row. */
export function applyRowAnswer(action: () => Promise<ConversationView | null>): Promise<void> {
  return applyAnswer(async () => ({ accounts: [], conversation: await action(), message: null, removed_account: null }));
}

/** Puts changed views in place of the window's copies. */
function place(changes: ViewChanges) {
  if (changes.accounts.length > 0) {
    accounts.apply(changes.accounts);
    void app.keepAnAccountSelected();
  }
  if (changes.removed_account !== null) {
    accounts.remove(changes.removed_account);
    void app.keepAnAccountSelected();
  }
  if (changes.conversation) conversations.apply(changes.conversation);
  if (changes.message) log.apply(changes.message);
}

export async function route(event: EngineEvent, changes: ViewChanges | null = null) {
  if (changes) pushed.push(changes);
  switch (event.type) {
    case "delivery_updated":
      uploads.onDelivery(event);
      break;
    case "upload_progress":
      uploads.onProgress(event);
      break;
    case "store_damaged":
      app.showProblem(t("error.storeDamaged"), event.detail);
      break;
    case "login_progress":
      login.apply(event.login_id, event.state);
      if (event.state.state === "confirmed") await app.reloadAccounts();
      break;
    case "ai": {
      const ai = event.event;
      aiTurns.track(ai);
      // A switch for a whole account or for everyone changes every listed row: the
      // owner's own action, so one reload is fine here.
      if (ai.kind === "settings_changed" && ai.peer_id === null) {
        if (ai.account_id === null) await app.reloadAccounts();
        else if (ai.account_id === conversations.account) await conversations.reload();
      }
      break;
    }
  }
}
