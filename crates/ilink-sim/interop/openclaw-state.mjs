// Writes an OpenClaw state folder with the official plugin's own storage code
// (@tencent-weixin/openclaw-weixin 2.4.9: auth/accounts.js, storage/sync-buf.js,
// messaging/inbound.js, auth/pairing.js), making the same calls, in the same order, as
// its QR login (channel.js), its poll loop (monitor/monitor.js) and its message handler
// (messaging/process-message.js). Weixin Desk's import tests read what it leaves.
//
//   OPENCLAW_STATE_DIR=DIR node openclaw-state.mjs SIM_URL login
//       QR login through the plugin, the sim's phone confirming; prints
//       {"account_id", "bot_id", "user_id"}
//   OPENCLAW_STATE_DIR=DIR node openclaw-state.mjs SIM_URL poll ACCOUNT_ID
//       one long-poll from the stored cursor; the new cursor and each message's context
//       token stored; prints {"texts": [...]}
//   OPENCLAW_STATE_DIR=DIR node openclaw-state.mjs SIM_URL pair ACCOUNT_ID USER_ID
//       the user added to the account's allow-list (the framework's pairing store)

import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";

import { PKG, routeToSim } from "./plugin-env.mjs";

const [baseArg, command, ...rest] = process.argv.slice(2);
if (!baseArg || !process.env.OPENCLAW_STATE_DIR || !command) {
  console.error("usage: OPENCLAW_STATE_DIR=DIR node openclaw-state.mjs SIM_URL login|poll|pair …");
  process.exit(2);
}
const baseUrl = baseArg.endsWith("/") ? baseArg : `${baseArg}/`;
// The plugin's log lines stay out of the state folder (and out of the user's /tmp/openclaw).
process.env.OPENCLAW_TMP_DIR ??= path.join(os.tmpdir(), "openclaw-state-log");
const realFetch = routeToSim(baseUrl);

const api = await import(`${PKG}/api/api.js`);
const accounts = await import(`${PKG}/auth/accounts.js`);
const pairing = await import(`${PKG}/auth/pairing.js`);
const syncBuf = await import(`${PKG}/storage/sync-buf.js`);
const inbound = await import(`${PKG}/messaging/inbound.js`);
const { normalizeAccountId } = await import("openclaw/plugin-sdk/account-id");

async function control(method, route, body) {
  const res = await realFetch(new URL(`_sim/${route}`, baseUrl), {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `/_sim/${route}: ${res.status} ${text}`);
  return api.parseWeixinApiJson(text);
}

if (command === "login") {
  const login = await import(`${PKG}/auth/login-qr.js`);
  await control("POST", "knobs", { qr_hold_ms: 300 });
  const started = await login.startWeixinLoginWithQr({ force: true });
  assert.ok(started.qrcodeUrl, `no QR: ${started.message}`);
  const { qrcode } = await control("GET", "qr/latest");
  const waiting = login.waitForWeixinLogin({ sessionKey: started.sessionKey, timeoutMs: 30_000 });
  await control("POST", `qr/${qrcode}/confirm`, {});
  const done = await waiting;
  assert.equal(done.connected, true, `login: ${done.message}`);
  // channel.js, after a confirmed login.
  const id = normalizeAccountId(done.accountId);
  accounts.saveWeixinAccount(id, { token: done.botToken, baseUrl: done.baseUrl, userId: done.userId });
  accounts.registerWeixinAccountId(id);
  if (done.userId) {
    accounts.clearStaleAccountsForUserId(id, done.userId, inbound.clearContextTokensForAccount);
  }
  console.log(JSON.stringify({ account_id: id, bot_id: done.accountId, user_id: done.userId }));
} else if (command === "poll") {
  const [id] = rest;
  const account = accounts.resolveWeixinAccount({}, id);
  assert.ok(account.token, `no token stored for ${id}`);
  const syncFile = syncBuf.getSyncBufFilePath(id);
  const cursor = syncBuf.loadGetUpdatesBuf(syncFile) ?? "";
  const resp = await api.getUpdates({
    baseUrl: account.baseUrl,
    token: account.token,
    get_updates_buf: cursor,
    timeoutMs: 10_000,
  });
  assert.ok(!resp.ret && !resp.errcode, `getupdates: ${JSON.stringify(resp)}`);
  // monitor.js: the cursor is saved before the messages are handled.
  if (resp.get_updates_buf != null && resp.get_updates_buf !== "") {
    syncBuf.saveGetUpdatesBuf(syncFile, resp.get_updates_buf);
  }
  const texts = [];
  for (const msg of resp.msgs ?? []) {
    // process-message.js keeps each message's context token for replies.
    if (msg.context_token) inbound.setContextToken(id, msg.from_user_id ?? "", msg.context_token);
    texts.push(msg.item_list?.find((i) => i.text_item)?.text_item.text ?? "");
  }
  console.log(JSON.stringify({ texts }));
} else if (command === "pair") {
  const [id, userId] = rest;
  await pairing.registerUserInFrameworkStore({ accountId: id, userId });
  console.log(JSON.stringify({ paired: userId }));
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}
