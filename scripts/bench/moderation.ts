import { type Rule, RuleSet } from "../../src/resolvers/moderation/matcher.js";

// The moderation matcher alone, in this process: the cost of checking one message with 10 and with
// 10,000 keyword rules (the bar: about the same), Chinese and English text, and what
// compiling the rules takes (each instance does it on every change).

const MESSAGES = [
  "今天下午三点在会议室开会，请大家准时参加，带上上周的报告。",
  "Hey, are we still on for dinner tonight? I booked a table for 7pm at the usual place.",
  "这个周末我们去爬山吧 let's go hiking this weekend if the weather is good 天气好的话",
  "ｆｕｌｌ－ｗｉｄｔｈ ｔｅｘｔ and ＭＩＸＥＤ Case with numbers 12345 and 六七八九十",
];

function keywordRules(count: number): Rule[] {
  // Half Chinese (three random ideographs), half English words: none occur in the messages.
  return Array.from({ length: count }, (_, i) => ({
    id: String(i),
    pattern:
      i % 2 === 0
        ? Array.from({ length: 3 }, (_, k) =>
            String.fromCodePoint(0x4e00 + ((i * 7919 + k * 104729) % 20000)),
          ).join("")
        : `zx${i.toString(36)}q`,
    kind: "KEYWORD",
    action: i % 3 === 0 ? "BLOCK" : "REPLACE",
    scopes: ["DIRECT", "GROUP"],
  }));
}

function measure(rules: Rule[], rounds: number) {
  const started = performance.now();
  const set = new RuleSet(rules);
  const compileMs = performance.now() - started;
  for (let i = 0; i < 1000; i++) set.check("DIRECT", MESSAGES[i % MESSAGES.length]!); // warm up
  const begin = performance.now();
  let hits = 0;
  for (let i = 0; i < rounds; i++) hits += set.check("DIRECT", MESSAGES[i % MESSAGES.length]!).length;
  return {
    rules: rules.length,
    compileMs: Math.round(compileMs),
    usPerMessage: ((performance.now() - begin) * 1000) / rounds,
    hits,
  };
}

export function runModeration(rounds = 200_000) {
  const few = measure(keywordRules(10), rounds);
  const many = measure(keywordRules(10_000), rounds);
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    workload: "moderation",
    rounds,
    averageMessageCharacters: Math.round(
      MESSAGES.reduce((sum, text) => sum + text.length, 0) / MESSAGES.length,
    ),
    keywords10: { ...few, usPerMessage: round(few.usPerMessage) },
    keywords10000: { ...many, usPerMessage: round(many.usPerMessage) },
    ratio10000vs10: round(many.usPerMessage / few.usPerMessage),
  };
}
