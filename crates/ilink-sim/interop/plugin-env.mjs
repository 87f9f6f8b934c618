// What every script here needs to run the official plugin's own code against a local
// ilink-sim: the three OpenClaw framework modules it imports resolve to the stand-ins in
// framework-stub/, and its requests to the fixed production host (and to
// `https://<redirect_host>`) go to the sim instead, like a hosts-file entry. The
// requests themselves are untouched.

import { register } from "node:module";

register("./framework-stub/hooks.mjs", import.meta.url);

/** The plugin's own modules, by path under its dist/src. */
export const PKG = "@tencent-weixin/openclaw-weixin/dist/src";

const FIXED_HOST = "https://ilinkai.weixin.qq.com/";

/** Sends the plugin's requests for the production host to the sim at `baseUrl`. */
export function routeToSim(baseUrl) {
  const simOrigin = new URL(baseUrl);
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    let url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (url.startsWith(FIXED_HOST)) {
      url = baseUrl + url.slice(FIXED_HOST.length);
    } else if (url.startsWith("https://") && new URL(url).hostname === simOrigin.hostname) {
      url = `http://${url.slice("https://".length)}`;
    }
    return realFetch(url, init);
  };
  return realFetch;
}
