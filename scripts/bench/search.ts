import pg from "pg";
import { type Config, loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/client.js";
import { applyMigrations, readMigrations } from "../../src/db/migrate.js";
import { createLogger } from "../../src/logger.js";
import { searchSteps } from "../../src/resolvers/search.js";
import { adminToken, type BenchServer, type BenchStorage, request, round, summary } from "./harness.js";
import { RARE, seedSql } from "./search-seed.js";

// searchMessages over a large store (search-seed.ts, written as SQL before the server starts): a
// few users search for common and rare words, Chinese of one to four characters and English, in all
// their history or one conversation, one request at a time through the GraphQL API. Searchers are in
// 52 chats (~4.4% of all messages each); light users, in ~9 (~0.7%). In services mode it then prints
// the plans (EXPLAIN ANALYZE) of both of the resolver's steps for some of the cases.

export interface SearchOptions {
  messages: number;
  /** Requests per case and user. */
  repeat: number;
}

const SEARCHERS = 10;
const QUERY = `query($q: String!, $in: ChatTarget, $after: String) {
  searchMessages(query: $q, conversation: $in, after: $after) {
    edges { node { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Case {
  name: string;
  query: string;
  /** Search one conversation: the user's first group, or their first direct chat. */
  conversation?: "group" | "direct";
  /** Ask for the second page. */
  secondPage?: boolean;
}

const CASES: Case[] = [
  { name: "Chinese, common, 2 characters", query: "我们" },
  { name: "Chinese, common, 1 character", query: "好" },
  { name: "Chinese, medium, 2 characters", query: "医院" },
  { name: "Chinese, medium, 3 characters", query: "二维码" },
  { name: "Chinese, rare, 4 characters", query: RARE.chinese[0] },
  { name: "Chinese, rare, 1 character", query: RARE.character[0] },
  { name: "English, common word", query: "the" },
  { name: "English, common, 2 letters", query: "ok" },
  { name: "English, medium word", query: "meeting" },
  { name: "English, rare word, other case", query: RARE.english[0].toUpperCase() },
  { name: "English, two words", query: "please review" },
  { name: "Chinese, common, second page", query: "我们", secondPage: true },
  { name: "Chinese, common, in a group", query: "我们", conversation: "group" },
  { name: "Chinese, rare, in a group", query: RARE.character[0], conversation: "group" },
  { name: "English, medium, in a direct chat", query: "meeting", conversation: "direct" },
];

interface Searcher {
  username: string;
  kind: "searcher" | "light";
  group: string;
  peer: string;
  token?: string;
}

/** Migrates the fresh storage, writes the store, and names the users who search. */
export function prepareSearch(options: SearchOptions, found: Searcher[]) {
  return async (storage: BenchStorage) => {
    const log = createLogger("error");
    const config = { databaseUrl: storage.databaseUrl, dataDir: storage.dataDir, databasePoolSize: 2 };
    const db = await openDatabase(config as Config);
    try {
      const started = performance.now();
      await db.withMigrationLock(async (session) => {
        await applyMigrations(session, readMigrations(), log);
        await session.exec(seedSql({ messages: options.messages, searchers: SEARCHERS }));
      });
      await db.withMigrationLock((session) => session.exec("VACUUM ANALYZE"));
      console.error(
        `search: seeded ${options.messages} messages in ${round((performance.now() - started) / 1000)} s`,
      );
      const users = await db.query<Searcher & { kind: "searcher" | "light" }>({
        text: `SELECT u.username, CASE WHEN u.username LIKE 'searcher%' THEN 'searcher' ELSE 'light' END AS kind,
            (SELECT c."chatId"::text FROM "Conversation" c WHERE c."userId" = u.id AND c."chatType" = 'GROUP' ORDER BY c."chatId" LIMIT 1) AS "group",
            (SELECT p.username FROM "Conversation" c JOIN "User" p ON p.id = c."peerId"
              WHERE c."userId" = u.id AND c."chatType" = 'DIRECT' ORDER BY p.username LIMIT 1) AS peer
          FROM "User" u WHERE u.username IN ('searcher1', 'searcher2', 'searcher3', 'searcher4', 'seed5', 'seed777')
          ORDER BY u.username`,
        values: [],
      });
      found.push(...users);
    } finally {
      await db.close();
    }
  };
}

export async function runSearch(server: BenchServer, options: SearchOptions, searchers: Searcher[]) {
  const admin = await adminToken(server.url);
  for (const searcher of searchers) {
    const data = await request(
      server.url,
      `mutation($u: String!) { adminIssueUserToken(username: $u, deviceName: "bench") { token } }`,
      { u: searcher.username },
      admin,
    );
    searcher.token = data.adminIssueUserToken.token;
  }
  const variables = async (searcher: Searcher, test: Case) => {
    const conversation =
      test.conversation === "group"
        ? { group: searcher.group }
        : test.conversation === "direct"
          ? { user: searcher.peer }
          : undefined;
    const base = { q: test.query, in: conversation };
    if (!test.secondPage) return base;
    const first = await request(server.url, QUERY, base, searcher.token);
    return { ...base, after: first.searchMessages.pageInfo.endCursor };
  };

  const all: number[] = [];
  const cases = [];
  for (const test of CASES) {
    const latencies: Record<Searcher["kind"], number[]> = { searcher: [], light: [] };
    let found = 0;
    for (const searcher of searchers) {
      const input = await variables(searcher, test);
      for (let i = 0; i < options.repeat; i++) {
        const start = performance.now();
        const data = await request(server.url, QUERY, input, searcher.token);
        latencies[searcher.kind].push(performance.now() - start);
        if (i === 0) found += data.searchMessages.edges.length;
      }
    }
    const both = [...latencies.searcher, ...latencies.light];
    all.push(...both);
    const sorted = (list: number[]) => [...list].sort((a, b) => a - b);
    cases.push({
      case: test.name,
      query: test.query,
      found,
      latencyMs: summary(sorted(both)),
      searcherMs: summary(sorted(latencies.searcher)),
      lightMs: summary(sorted(latencies.light)),
    });
  }
  const result = {
    workload: "search",
    mode: server.mode,
    messages: options.messages,
    requests: all.length,
    latencyMs: summary(all.sort((a, b) => a - b)),
    cases,
  };
  if (server.databaseUrl) await printPlans(server.databaseUrl, searchers);
  return result;
}

/**
 * The plans of both steps for some cases, as the resolver runs them (services mode); step 2 runs
 * only when step 1 did not fill the page, but its plan is printed for every case.
 */
async function printPlans(databaseUrl: string, searchers: Searcher[]) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // The server's window: the bench passes its environment on to the server.
    const window = BigInt(loadConfig().searchRecentWindow);
    const [{ top }] = (await client.query(`SELECT max(id) + 1 AS top FROM "Message"`)).rows;
    const below = BigInt(top);
    for (const [username, query] of [
      ["searcher1", "我们"],
      ["searcher1", "二维码"],
      ["searcher1", RARE.character[0]],
      ["seed5", "meeting"],
    ] as const) {
      const searcher = searchers.find((each) => each.username === username)!;
      const [{ id, chats }] = (
        await client.query(
          `SELECT u.id, array_agg(c."chatId") AS chats FROM "User" u JOIN "Conversation" c ON c."userId" = u.id
          WHERE u.username = $1 GROUP BY u.id`,
          [searcher.username],
        )
      ).rows;
      const steps = searchSteps({
        userId: id,
        query,
        chats,
        senderId: null,
        types: null,
        recentFrom: below - window,
        below,
        limit: 21,
      });
      for (const [step, statement] of Object.entries(steps)) {
        const plan = await client.query({
          text: `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${statement.text}`,
          values: statement.values,
        });
        console.log(`--- plan: ${username} "${query}", step ${step}`);
        console.log(plan.rows.map((row) => row["QUERY PLAN"]).join("\n"));
      }
    }
  } finally {
    await client.end();
  }
}
