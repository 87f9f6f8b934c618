import { describe, expect, it } from "vitest";
import { describeError, describeReason, describeWord, problemSentence } from "./errors";
import { BackendError, type Problem } from "./ipc";

// Every kind the backend classifies, with the words a person reads in each language.
const SENTENCES: Record<Problem, { en: string; zh: string }> = {
  no_network: {
    en: "Can't reach WeChat's server. Check the internet connection, then try again.",
    zh: "无法连接微信服务器。请检查网络连接，然后重试。",
  },
  dns: {
    en: "Can't find WeChat's server on the network (name lookup failed). Check the internet connection or the DNS settings, then try again.",
    zh: "在网络上找不到微信服务器（域名解析失败）。请检查网络连接或 DNS 设置，然后重试。",
  },
  tls: {
    en: "Can't set up a secure connection to the server. Check the system clock and any proxy, then try again.",
    zh: "无法与服务器建立安全连接。请检查系统时间和代理设置，然后重试。",
  },
  timeout: {
    en: "The server took too long to answer. Try again in a moment; if it keeps happening, check the connection.",
    zh: "服务器响应超时。请稍后重试；如果反复出现，请检查网络连接。",
  },
  server_down: {
    en: "WeChat's server is having trouble right now. Nothing is wrong on your side; try again in a few minutes.",
    zh: "微信服务器暂时出现故障，不是你这边的问题。请几分钟后重试。",
  },
  stale_token: {
    en: "This account's login has expired or was used on another device. Scan the QR code again to reconnect it.",
    zh: "该账号的登录已过期，或已在其他设备上登录。请重新扫码连接。",
  },
  keyring_unavailable: {
    en: "Your system keyring is locked or missing, so tokens are kept only until Weixin Desk quits. Unlock it or see Help.",
    zh: "系统密钥环已锁定或不存在，令牌只能保存到 Weixin Desk 退出为止。请解锁密钥环，或查看帮助。",
  },
  disk_full: {
    en: "The disk is full. Free some space; Weixin Desk picks up where it left off.",
    zh: "磁盘已满。请腾出一些空间，Weixin Desk 会从中断处继续。",
  },
  file_too_large: {
    en: "This file is too large to send. Send a smaller file or share it another way.",
    zh: "文件太大，无法发送。请发送较小的文件，或用其他方式分享。",
  },
  provider_auth: {
    en: "The AI provider refused the API key. Check the key in Settings → AI.",
    zh: "AI 服务商拒绝了 API 密钥。请在“设置 → AI”中检查密钥。",
  },
  provider_quota: {
    en: "The AI provider's quota or rate limit is used up. Check the plan or wait, then try again.",
    zh: "AI 服务商的额度或调用频率已用完。请检查套餐或稍候再试。",
  },
  provider_timeout: {
    en: "The AI provider did not answer in time. Try again; if it keeps happening, pick a faster model.",
    zh: "AI 服务商没有及时响应。请重试；如果反复出现，请换一个更快的模型。",
  },
  provider_unreachable: {
    en: "Can't reach the AI provider. Check that it is running and that its address is right, then try again.",
    zh: "连不上 AI 服务商。请确认它正在运行、地址填写无误，然后重试。",
  },
  other: {
    en: "Something went wrong. Try again; if it keeps happening, the details below help to report it.",
    zh: "出了点问题。请重试；如果反复出现，下面的详细信息有助于报告问题。",
  },
};

describe("errors in words", () => {
  for (const [problem, words] of Object.entries(SENTENCES) as [Problem, { en: string; zh: string }][]) {
    it(`${problem} reads as its sentence in both languages`, () => {
      expect(problemSentence(problem, "en")).toBe(words.en);
      expect(problemSentence(problem, "zh-CN")).toBe(words.zh);
    });
  }

  it("a classified backend failure shows the sentence, its words behind Details", () => {
    const err = new BackendError({
      code: "network",
      message: "could not get a QR code: tcp network error: Connection refused",
      problem: "no_network",
    });
    expect(describeError(err, "zh-CN")).toEqual({
      sentence: SENTENCES.no_network.zh,
      details: "could not get a QR code: tcp network error: Connection refused",
    });
    const withMore = new BackendError({ code: "secrets", message: "keyring failed", details: "SS error", problem: "keyring_unavailable" });
    expect(describeError(withMore, "en").details).toBe("keyring failed\nSS error");
  });

  it("an unclassified failure keeps its own words", () => {
    const err = new BackendError({ code: "invalid_argument", message: "cannot send an empty message" });
    expect(describeError(err, "en")).toEqual({ sentence: "cannot send an empty message", details: null });
    expect(describeError("plain", "en")).toEqual({ sentence: "plain", details: null });
    expect(describeReason("the login timed out", null, "en")).toEqual({ sentence: "the login timed out", details: null });
    expect(describeReason("dns error", "dns", "en").details).toBe("dns error");
  });

  it("a reason named by a word reads as its sentence, its stored words behind Details", () => {
    expect(describeWord("media.why", "gone", "CDN download failed with HTTP 404", "zh-CN")).toEqual({
      sentence: "微信服务器上已没有这个文件",
      details: "CDN download failed with HTTP 404",
    });
    // Details that only repeat the sentence are not offered.
    expect(describeWord("delivery.why", "cancelled", "cancelled", "en")).toEqual({ sentence: "cancelled", details: null });
    // Logged before there were words: the stored words are the sentence.
    expect(describeWord("later.why", null, "ret -2", "en")).toEqual({ sentence: "ret -2", details: null });
  });
});
