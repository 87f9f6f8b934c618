// What the official Node client does with a file it uploads (docs/protocol.md §7.1): read the whole
// file, MD5 it, AES-128-ECB encrypt it in one go. Run by `cargo bench -p ilink --bench
// media`, which compares it with ilink's streaming code.
//
//   node media_node.js FILE KEY_HEX
//
// Prints one JSON line: the time of each step (ms, excluding Node's start-up), the MD5s
// of plaintext and ciphertext (for a correctness check), and the peak resident memory
// (VmHWM, kB) of this process.
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const [file, keyHex] = process.argv.slice(2);
if (!file || !/^[0-9a-f]{32}$/.test(keyHex || '')) {
  console.error('usage: node media_node.js FILE KEY_HEX');
  process.exit(2);
}
const ms = (from) => Number(process.hrtime.bigint() - from) / 1e6;

let t = process.hrtime.bigint();
const plain = fs.readFileSync(file);
const readMs = ms(t);

t = process.hrtime.bigint();
const md5 = crypto.createHash('md5').update(plain).digest('hex');
const md5Ms = ms(t);

t = process.hrtime.bigint();
const cipher = crypto.createCipheriv('aes-128-ecb', Buffer.from(keyHex, 'hex'), null);
const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
const encMs = ms(t);

const status = fs.readFileSync('/proc/self/status', 'utf8');
const hwm = /VmHWM:\s*(\d+)\s*kB/.exec(status);
console.log(JSON.stringify({
  read_ms: readMs,
  md5_ms: md5Ms,
  enc_ms: encMs,
  md5,
  ct_md5: crypto.createHash('md5').update(ct).digest('hex'),
  ct_len: ct.length,
  vmhwm_kb: hwm ? Number(hwm[1]) : null,
}));
