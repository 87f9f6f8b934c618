// Drives a running ilink-sim with the official plugin's own request code
// (@tencent-weixin/openclaw-weixin 2.4.9, dist/src/api, cdn, messaging): nothing here
// builds an iLink request by hand. The bot comes from the plugin's QR login, with the
// sim's phone scripted through the /_sim/ control API. Exits 0 and prints one JSON
// summary line when every step succeeded.
//
//   node crates/ilink-sim/interop/run.mjs http://127.0.0.1:8787/ [CDN_BASE]
//
// CDN_BASE defaults to <base>c2c. Install first: npm ci --prefix crates/ilink-sim/interop

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { PKG, routeToSim } from "./plugin-env.mjs";

const [baseArg, cdnArg] = process.argv.slice(2);
if (!baseArg || !/^https?:\/\//.test(baseArg)) {
  console.error("usage: node run.mjs <sim base url> [cdn base url]");
  process.exit(2);
}
const baseUrl = baseArg.endsWith("/") ? baseArg : `${baseArg}/`;
const cdnBaseUrl = cdnArg ?? `${baseUrl}c2c`;

// Keep the plugin's state, config lookups and log file out of the user's ~/.openclaw.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ilink-sim-interop-"));
process.env.OPENCLAW_STATE_DIR = scratch;
process.env.OPENCLAW_TMP_DIR = path.join(scratch, "log");

// The plugin's framework modules resolve to framework-stub/, and its requests to the
// production host go to the sim (plugin-env.mjs).
routeToSim(baseUrl);
const api = await import(`${PKG}/api/api.js`);
const send = await import(`${PKG}/messaging/send.js`);
const upload = await import(`${PKG}/cdn/upload.js`);
const download = await import(`${PKG}/cdn/pic-decrypt.js`);
const login = await import(`${PKG}/auth/login-qr.js`);

/** The sim's control API; ids are read losslessly with the plugin's own parser. */
async function control(method, route, body) {
  const res = await fetch(new URL(`_sim/${route}`, baseUrl), {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `/_sim/${route}: ${res.status} ${text}`);
  return api.parseWeixinApiJson(text);
}

const steps = [];
function step(name, detail = {}) {
  steps.push({ step: name, ...detail });
}

await control("POST", "knobs", { poll_hold_ms: 500, qr_hold_ms: 300 });

// 0. QR login with the plugin's own flow; the sim's phone is scripted over /_sim/qr:
//    the session moves to the redirect host (scaned_but_redirect), then confirms.
const started = await login.startWeixinLoginWithQr({ force: true });
assert.ok(started.qrcodeUrl, `no QR: ${started.message}`);
const { qrcode } = await control("GET", "qr/latest");
assert.ok(started.qrcodeUrl.includes(qrcode), "the QR URL embeds the qrcode");
const waiting = login.waitForWeixinLogin({ sessionKey: started.sessionKey, timeoutMs: 30_000 });
await control("POST", `qr/${qrcode}/redirect`);
const { bot: confirmedBot } = await control("POST", `qr/${qrcode}/confirm`, {});
const loggedIn = await waiting;
assert.equal(loggedIn.connected, true, `login: ${loggedIn.message}`);
assert.equal(loggedIn.accountId, confirmedBot.bot_id);
// Without a trailing slash, as the real server sends `https://ilinkai.weixin.qq.com`.
assert.equal(loggedIn.baseUrl, baseUrl.replace(/\/+$/, ""), "baseurl points at the sim (E1)");
const bot = { bot_id: loggedIn.accountId, token: loggedIn.botToken, user_id: loggedIn.userId };
step("qr login (with scaned_but_redirect)", { bot_id: bot.bot_id });
const botPath = `bots/${encodeURIComponent(bot.bot_id)}`;
const opts = { baseUrl, token: bot.token };
const inboundFile = Buffer.from("第一行 first line\n".repeat(40));
const inboundImage = Buffer.from(Array.from({ length: 333 }, (_, i) => (i * 7) & 0xff));

// 1. Inbound: a text, an image (hex + raw-base64 key) and a file (base64-of-hex key,
//    with full_url), queued by the sim and read with the plugin's getUpdates.
const { message_id: textId } = await control("POST", `${botPath}/inject`, {
  peer_id: bot.user_id,
  text: "你好 from the sim",
});
await control("POST", `${botPath}/inject_media`, {
  peer_id: bot.user_id,
  kind: "image",
  bytes: inboundImage.toString("base64"),
  key_form: "hex_and_raw_base64",
  full_url: false,
});
await control("POST", `${botPath}/inject_media`, {
  peer_id: bot.user_id,
  kind: "file",
  name: "notes.txt",
  bytes: inboundFile.toString("base64"),
  key_form: "hex_base64",
  full_url: true,
});
const first = await api.getUpdates({ ...opts, get_updates_buf: "", timeoutMs: 10_000 });
assert.ok(!first.ret && !first.errcode, `getupdates failed: ${JSON.stringify(first)}`);
assert.equal(first.msgs?.length, 3, "three inbound messages");
const [textMsg, imageMsg, fileMsg] = first.msgs;
assert.equal(textMsg.message_id, textId, "message_id survives as an exact string");
assert.equal(textMsg.item_list[0].text_item.text, "你好 from the sim");
assert.equal(textMsg.from_user_id, bot.user_id);
assert.ok(first.get_updates_buf, "a cursor");
step("getupdates", { msgs: first.msgs.length, message_id: textMsg.message_id });

// 2. Inbound media through the plugin's CDN download and key parsing.
const image = imageMsg.item_list[0].image_item;
const imageKey = Buffer.from(image.aeskey, "hex").toString("base64");
const imagePlain = await download.downloadAndDecryptBuffer(
  image.media.encrypt_query_param,
  imageKey,
  cdnBaseUrl,
  "interop-image",
  image.media.full_url,
);
assert.ok(imagePlain.equals(inboundImage), "inbound image decrypts");
const file = fileMsg.item_list[0].file_item;
const filePlain = await download.downloadAndDecryptBuffer(
  file.media.encrypt_query_param,
  file.media.aes_key,
  cdnBaseUrl,
  "interop-file",
  file.media.full_url,
);
assert.ok(filePlain.equals(inboundFile), "inbound file decrypts");
step("cdn download", { image: imagePlain.length, file: filePlain.length });

// 3. notifystart, getconfig and a typing start/cancel, as the monitor loop does.
await api.notifyStart(opts);
const config = await api.getConfig({
  ...opts,
  ilinkUserId: bot.user_id,
  contextToken: fileMsg.context_token,
});
assert.equal(config.ret, 0);
assert.ok(config.typing_ticket, "a typing ticket");
for (const status of [1, 2]) {
  await api.sendTyping({
    ...opts,
    body: { ilink_user_id: bot.user_id, typing_ticket: config.typing_ticket, status },
  });
}
step("getconfig + sendtyping");

// 4. A text reply with the latest inbound context_token.
const contextToken = fileMsg.context_token;
const reply = await send.sendMessageWeixin({
  to: bot.user_id,
  text: "收到 — got it",
  opts: { ...opts, contextToken, runId: "0b7d1c1e-6f43-4c56-9d1a-5a7f2f1f0c11" },
});
assert.ok(reply.serverMessageId, "sendmessage returned message_id");
step("sendmessage", { server_message_id: reply.serverMessageId });

// 5. getuploadurl + CDN upload of a file, then the file message (caption first).
const outFile = path.join(scratch, "report.txt");
const outBytes = Buffer.from("interop upload ✓\n".repeat(100));
fs.writeFileSync(outFile, outBytes);
const uploadedFile = await upload.uploadFileAttachmentToWeixin({
  filePath: outFile,
  toUserId: bot.user_id,
  opts,
  cdnBaseUrl,
});
await send.sendFileMessageWeixin({
  to: bot.user_id,
  text: "the report",
  fileName: "report.txt",
  uploaded: uploadedFile,
  opts: { ...opts, contextToken },
});
step("getuploadurl + cdn upload + file message", {
  download_param: uploadedFile.downloadEncryptedQueryParam,
});

// 6. The same for an image (upload_full_url this time).
await control("POST", "knobs", { upload_url_mode: "full_url" });
const outImage = path.join(scratch, "pixel.png");
fs.writeFileSync(outImage, inboundImage);
const uploadedImage = await upload.uploadFileToWeixin({
  filePath: outImage,
  toUserId: bot.user_id,
  opts,
  cdnBaseUrl,
});
await send.sendImageMessageWeixin({
  to: bot.user_id,
  uploaded: uploadedImage,
  opts: { ...opts, contextToken },
});
await control("POST", "knobs", { upload_url_mode: "param" });
step("image upload (upload_full_url) + image message");

// 7. The cursor acknowledges: the next poll holds and comes back empty.
const second = await api.getUpdates({
  ...opts,
  get_updates_buf: first.get_updates_buf,
  timeoutMs: 10_000,
});
assert.ok(!second.ret && !second.errcode);
assert.equal(second.msgs?.length ?? 0, 0, "nothing redelivered");
step("getupdates with cursor");

// 8. notifystop, then a revoked token: getupdates answers errcode -14.
await api.notifyStop(opts);
await control("POST", `${botPath}/revoke`);
const stale = await api.getUpdates({
  ...opts,
  get_updates_buf: second.get_updates_buf ?? first.get_updates_buf,
  timeoutMs: 10_000,
});
assert.equal(stale.errcode, -14, `stale token: ${JSON.stringify(stale)}`);
step("stale token", { errcode: stale.errcode, ret: stale.ret ?? null });

fs.rmSync(scratch, { recursive: true, force: true });
console.log(
  JSON.stringify({
    ok: true,
    plugin: "@tencent-weixin/openclaw-weixin@2.4.9",
    node: process.version,
    bot_id: bot.bot_id,
    uploaded_file: uploadedFile.downloadEncryptedQueryParam,
    uploaded_image: uploadedImage.downloadEncryptedQueryParam,
    steps,
  }),
);
