import { describe, expect, it } from "vitest";
import { clockTime, dayTitle, daysAgo, listTime, timeAhead, uses12Hour } from "./timeLabel";

const EN = { today: "Today", yesterday: "Yesterday" };
const ZH = { today: "今天", yesterday: "昨天" };
// Thursday 5 March 2026, 14:05 local time.
const now = new Date(2026, 2, 5, 14, 5).getTime();
const at = (day: number, hour: number, minute = 0) => new Date(2026, 2, day, hour, minute).getTime();

describe("time labels", () => {
  it("Chinese always reads a 24-hour clock; other languages follow the system", () => {
    expect(uses12Hour("zh-CN", true)).toBe(false);
    expect(uses12Hour("en", true)).toBe(true);
    expect(uses12Hour("en", false)).toBe(false);
    expect(clockTime(at(5, 14, 5), "zh-CN", true)).toBe("14:05");
    expect(clockTime(at(5, 9, 5), "zh-CN", true)).toBe("09:05");
    expect(clockTime(at(5, 14, 5), "en", false)).toBe("14:05");
    expect(clockTime(at(5, 14, 5), "en", true)).toMatch(/^2:05\sPM$/);
  });

  it("the list shows the clock today, Yesterday, the weekday within a week, else the date", () => {
    expect(listTime(at(5, 8, 30), now, "en", EN, false)).toBe("08:30");
    expect(listTime(at(4, 23, 59), now, "en", EN, false)).toBe("Yesterday");
    expect(listTime(at(4, 23, 59), now, "zh-CN", ZH, false)).toBe("昨天");
    expect(listTime(at(2, 10), now, "en", EN, false)).toBe("Monday");
    expect(listTime(at(2, 10), now, "zh-CN", ZH, false)).toBe("星期一");
    expect(listTime(new Date(2026, 1, 20).getTime(), now, "en", EN, false)).toBe("Feb 20");
    expect(listTime(new Date(2026, 1, 20).getTime(), now, "zh-CN", ZH, false)).toBe("2月20日");
    expect(listTime(new Date(2025, 11, 31).getTime(), now, "en", EN, false)).toContain("2025");
  });

  it("day separators read Today, Yesterday, the weekday, else the full date", () => {
    expect(dayTitle(at(5, 0, 1), now, "en", EN)).toBe("Today");
    expect(dayTitle(at(4, 12), now, "zh-CN", ZH)).toBe("昨天");
    expect(dayTitle(at(-1, 12), now, "en", EN)).toBe("Friday");
    expect(dayTitle(at(-1, 12), now, "zh-CN", ZH)).toBe("星期五");
    expect(dayTitle(new Date(2026, 1, 1).getTime(), now, "en", EN)).toBe("February 1, 2026");
    expect(dayTitle(new Date(2026, 1, 1).getTime(), now, "zh-CN", ZH)).toBe("2026年2月1日");
  });

  it("counts calendar days, not 24-hour spans", () => {
    expect(daysAgo(at(4, 23, 59), at(5, 0, 1))).toBe(1);
    expect(daysAgo(at(5, 0, 1), at(5, 23, 59))).toBe(0);
  });

  it("a time ahead reads today, tomorrow, else its date (never Today for a later day)", () => {
    const words = { todayAt: (time: string) => `today ${time}`, tomorrowAt: (time: string) => `tomorrow ${time}` };
    expect(timeAhead(at(5, 18, 30), now, "en", words, false)).toBe("today 18:30");
    expect(timeAhead(at(6, 8, 30), now, "en", words, false)).toBe("tomorrow 08:30");
    expect(timeAhead(at(9, 8, 30), now, "en", words, false)).toBe("Mar 9 08:30");
    const zh = { todayAt: (time: string) => `今天 ${time}`, tomorrowAt: (time: string) => `明天 ${time}` };
    expect(timeAhead(at(6, 20, 0), now, "zh-CN", zh, true)).toBe("明天 20:00");
    expect(timeAhead(at(9, 20, 0), now, "zh-CN", zh, true)).toBe("3月9日 20:00");
  });
});
