import { AhoCorasick } from "@monyone/aho-corasick";
import type { ModerationAction, ModerationRule, ModerationScope } from "../../generated/prisma/client.js";

// The rules, compiled once per change and shared by every check: all keywords in one Aho-Corasick
// automaton (@monyone/aho-corasick), so a text costs one pass whether there are 10 keywords or
// 10,000. Text and keywords are compared folded (fold below), so full-width and half-width forms
// and upper and lower case match alike, and each match maps back to the text as written, which is
// what masking needs. Regular expressions (few, and checked for catastrophic backtracking when
// created) run one by one, case-insensitively.

export type Rule = Pick<ModerationRule, "id" | "pattern" | "kind" | "action" | "scopes">;

export interface Hit {
  rule: Rule;
  /** UTF-16 offsets into the text as written; end exclusive. */
  start: number;
  end: number;
}

const SEVERITY: Record<ModerationAction, number> = { BLOCK: 0, REPLACE: 1, REVIEW: 2 };

export class RuleSet {
  private readonly keywords: AhoCorasick | null;
  /** Folded keyword → its rules (two rules may fold to one keyword). */
  private readonly keywordRules = new Map<string, Rule[]>();
  private readonly expressions: { rule: Rule; regex: RegExp }[];
  readonly size: number;

  constructor(rules: readonly Rule[]) {
    const keywordRules = rules.filter((rule) => rule.kind === "KEYWORD");
    for (const rule of keywordRules) {
      const keyword = fold(rule.pattern).text;
      this.keywordRules.set(keyword, [...(this.keywordRules.get(keyword) ?? []), rule]);
    }
    this.keywords = keywordRules.length === 0 ? null : new AhoCorasick([...this.keywordRules.keys()]);
    this.expressions = rules
      .filter((rule) => rule.kind === "REGEX")
      .map((rule) => ({ rule, regex: compileRegex(rule.pattern) }));
    this.size = rules.length;
  }

  /** Every match of a rule that applies to `scope`, most severe action first. */
  check(scope: ModerationScope, text: string): Hit[] {
    if (this.size === 0 || text === "") return [];
    const hits: Hit[] = [];
    if (this.keywords) {
      const folded = fold(text);
      for (const match of this.keywords.matchInText(folded.text)) {
        const start = folded.starts[match.begin]!;
        const end = folded.ends[match.end - 1]!;
        for (const rule of this.keywordRules.get(match.keyword)!) {
          if (rule.scopes.includes(scope)) hits.push({ rule, start, end });
        }
      }
    }
    for (const { rule, regex } of this.expressions) {
      if (!rule.scopes.includes(scope)) continue;
      for (const match of text.matchAll(regex)) {
        if (match[0] === "") continue;
        hits.push({ rule, start: match.index, end: match.index + match[0].length });
      }
    }
    return hits.sort((a, b) => SEVERITY[a.rule.action] - SEVERITY[b.rule.action] || a.start - b.start);
  }
}

/** Case-insensitive, Unicode-aware, every match. */
export function compileRegex(pattern: string): RegExp {
  return new RegExp(pattern, "giu");
}

/** The text with every REPLACE hit's characters (code points) turned into '*'. */
export function mask(text: string, hits: readonly Hit[]): string {
  const masked = new Uint8Array(text.length);
  for (const hit of hits) if (hit.rule.action === "REPLACE") masked.fill(1, hit.start, hit.end);
  let result = "";
  for (let i = 0; i < text.length; ) {
    const codePoint = text.codePointAt(i)!;
    const width = codePoint > 0xffff ? 2 : 1;
    result += masked[i] ? "*" : String.fromCodePoint(codePoint);
    i += width;
  }
  return result;
}

interface Folded {
  text: string;
  /** For each UTF-16 unit of `text`, where the character it came from starts and ends in the original. */
  starts: number[];
  ends: number[];
}

const foldedCharacters = new Map<number, string>();

/**
 * NFKC (full-width letters and digits become ASCII, compatibility forms their plain ones) and lower
 * case, character by character, so every unit of the result knows the character it came from.
 */
function fold(text: string): Folded {
  const starts: number[] = [];
  const ends: number[] = [];
  let folded = "";
  for (let i = 0; i < text.length; ) {
    const codePoint = text.codePointAt(i)!;
    const width = codePoint > 0xffff ? 2 : 1;
    let piece: string;
    if (codePoint < 0x80)
      piece = codePoint >= 65 && codePoint <= 90 ? String.fromCharCode(codePoint + 32) : text[i]!;
    else {
      piece = foldedCharacters.get(codePoint) ?? "";
      if (piece === "") {
        piece = String.fromCodePoint(codePoint).normalize("NFKC").toLowerCase();
        if (foldedCharacters.size < 100_000) foldedCharacters.set(codePoint, piece);
      }
    }
    folded += piece;
    for (let k = 0; k < piece.length; k++) {
      starts.push(i);
      ends.push(i + width);
    }
    i += width;
  }
  return { text: folded, starts, ends };
}
