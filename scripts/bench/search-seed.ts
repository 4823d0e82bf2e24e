// The search bench's store, written straight into the database as SQL (sending a million messages
// through the API would take most of an hour): users, direct chats and groups with their
// conversations, and `messages` text messages of chat-like Chinese, English or mixed text.

/** Words, the front of each list far more often than the back (see the generator). */
const CHINESE = `我们 好的 今天 明天 你好 谢谢 没问题 会议 时间 项目 北京 上海 吃饭 周末 下班 开会 文件 客户 需求 测试 上线
  晚上 一起 可以 知道 觉得 工作 问题 已经 还是 因为 所以 这个 那个 什么 怎么 为什么 现在 以后 刚才 电话 邮件 报告 数据
  服务器 数据库 接口 版本 发布 设计 方案 产品 用户 反馈 咖啡 火锅 电影 地铁 高铁 机场 酒店 天气 下雨 周一 周五 春节 假期
  老板 同事 朋友 家人 孩子 学校 医院 银行 超市 快递 外卖 红包 照片 视频 链接 二维码 密码 账号 登录 注册 手机 电脑 网络
  信号 充电 的 了 吗 呢 吧 啊 嗯 哈哈 好 是 不 在 有 我 你 他 她`;
const ENGLISH = `ok the a to and is it you we i meeting today tomorrow thanks please can will call send file report
  review deploy release bug fix test server database client deadline lunch dinner coffee weekend project team update
  check done sure yes no maybe later soon morning night great good nice cool lol haha plan design issue merge branch
  build ticket customer feedback slides budget invoice flight hotel train weather rain photo video link password login
  phone laptop network battery Beijing Shanghai London Monday Friday holiday boss friend family school hospital bank
  delivery order price discount gift`;

/** Rare words, each planted in one message of so many: what a search for something specific finds. */
export const RARE = {
  chinese: ["量子纠缠", 5000],
  english: ["Zebrafish", 4000],
  character: ["鲸", 3000],
} as const;

const words = (list: string) => `ARRAY['${list.trim().split(/\s+/).join("','")}']`;

export interface SeedOptions {
  messages: number;
  /** Users in many chats (40 direct chats, and 12 of the 120 groups): the ones who search. */
  searchers: number;
  /** Everyone else: 2,000 users in ~6,000 direct chats and the groups of ~50. */
  users?: number;
}

/** The script; the searchers are `searcher1`...; the others `seed1`.... */
export function seedSql({ messages, searchers, users = 2000 }: SeedOptions): string {
  const [chinese, chineseEvery] = RARE.chinese;
  const [english, englishEvery] = RARE.english;
  const [character, characterEvery] = RARE.character;
  return `
CREATE TEMP TABLE seed_vocab AS SELECT ${words(CHINESE)} AS zh, ${words(ENGLISH)} AS en;

INSERT INTO "User" (id, username, "passwordHash", nickname, "updatedAt")
SELECT gen_random_uuid(), 'seed' || i, 'bench: no password', 'seed ' || i, now() FROM generate_series(1, ${users}) i;
INSERT INTO "User" (id, username, "passwordHash", nickname, "updatedAt")
SELECT gen_random_uuid(), 'searcher' || i, 'bench: no password', 'searcher ' || i, now() FROM generate_series(1, ${searchers}) i;
CREATE TEMP TABLE seed_users AS SELECT substr(username, 5)::int AS n, id FROM "User" WHERE username LIKE 'seed%';
CREATE TEMP TABLE seed_searchers AS SELECT substr(username, 9)::int AS n, id FROM "User" WHERE username LIKE 'searcher%';

-- Direct chats between the others, the searchers' direct chats, and groups of ~50 with some searchers.
CREATE TEMP TABLE seed_chats (n serial, id uuid DEFAULT gen_random_uuid(), type "ChatType", members uuid[]);
INSERT INTO seed_chats (type, members)
SELECT 'DIRECT', ARRAY[a.id, b.id] FROM generate_series(1, ${users * 3}) i
JOIN seed_users a ON a.n = 1 + (i * 7) % ${users} JOIN seed_users b ON b.n = 1 + (i * 13 + 1 + i / ${users}) % ${users}
WHERE a.id <> b.id;
INSERT INTO seed_chats (type, members)
SELECT 'DIRECT', ARRAY[s.id, u.id] FROM seed_searchers s CROSS JOIN generate_series(1, 40) k
JOIN seed_users u ON u.n = 1 + (s.n * 97 + k * 31) % ${users};
INSERT INTO seed_chats (type, members)
SELECT 'GROUP', ARRAY(SELECT u.id FROM seed_users u WHERE u.n % 120 = g % 120 OR (u.n + g) % 97 = 0 LIMIT 49)
  || ARRAY(SELECT s.id FROM seed_searchers s WHERE (s.n + g) % 10 = 0)
FROM generate_series(1, 120) g;
-- One direct chat a pair.
DELETE FROM seed_chats a USING seed_chats b
WHERE a.type = 'DIRECT' AND b.type = 'DIRECT' AND a.n > b.n
  AND least(a.members[1], a.members[2]) = least(b.members[1], b.members[2])
  AND greatest(a.members[1], a.members[2]) = greatest(b.members[1], b.members[2]);
INSERT INTO "Chat" (id, type, "directKey")
SELECT id, type, CASE WHEN type = 'DIRECT'
  THEN least(members[1]::text, members[2]::text) || ':' || greatest(members[1]::text, members[2]::text) END
FROM seed_chats;
INSERT INTO "Group" (id, name, "maxMembers", "memberCount", "ownerId", "updatedAt")
SELECT id, 'group ' || n, 500, cardinality(members), members[1], now() FROM seed_chats WHERE type = 'GROUP';
INSERT INTO "GroupMember" ("groupId", "userId", role)
SELECT c.id, m, CASE WHEN m = c.members[1] THEN 'OWNER'::"GroupRole" ELSE 'MEMBER'::"GroupRole" END
FROM seed_chats c, unnest(c.members) m WHERE c.type = 'GROUP';
INSERT INTO "Conversation" ("userId", "chatId", "chatType", "peerId", "updatedAt")
SELECT m, c.id, c.type, CASE WHEN c.type = 'DIRECT' THEN (SELECT x FROM unnest(c.members) x WHERE x <> m) END, now()
FROM seed_chats c, unnest(c.members) m;

-- Messages, oldest first, 60% in direct chats and 40% in groups. Half Chinese (words run together),
-- a fifth English, the rest mixed; each word drawn with a skew to the front of its list.
CREATE TEMP TABLE seed_direct AS SELECT row_number() OVER (ORDER BY n) AS k, id, members FROM seed_chats WHERE type = 'DIRECT';
CREATE TEMP TABLE seed_group AS SELECT row_number() OVER (ORDER BY n) AS k, id, members FROM seed_chats WHERE type = 'GROUP';
CREATE INDEX ON seed_direct (k);
CREATE INDEX ON seed_group (k);
ANALYZE seed_direct;
ANALYZE seed_group;
CREATE TEMP TABLE seed_counts AS SELECT (SELECT count(*) FROM seed_direct) AS directs, (SELECT count(*) FROM seed_group) AS groups;
INSERT INTO "Message" ("chatId", "chatType", "senderId", "recipientId", type, body, "searchText", "createdAt")
SELECT c.id, pick.type, s.sender,
  CASE WHEN pick.type = 'DIRECT' THEN (SELECT x FROM unnest(c.members) x WHERE x <> s.sender) END,
  'TEXT', jsonb_build_object('text', t.text || rare.suffix), t.text || rare.suffix,
  now() - make_interval(secs => (${messages} - i) * 2)
FROM generate_series(1, ${messages}) i
CROSS JOIN LATERAL (SELECT CASE WHEN random() < 0.6 THEN 'DIRECT'::"ChatType" ELSE 'GROUP'::"ChatType" END AS type,
  random() AS r, i AS i2) pick
CROSS JOIN LATERAL (
  SELECT d.id, d.members FROM seed_direct d
  WHERE pick.type = 'DIRECT' AND d.k = 1 + floor(pick.r * (SELECT directs FROM seed_counts))::int
  UNION ALL
  SELECT g.id, g.members FROM seed_group g
  WHERE pick.type = 'GROUP' AND g.k = 1 + floor(pick.r * (SELECT groups FROM seed_counts))::int
) c
CROSS JOIN LATERAL (SELECT c.members[1 + floor(random() * cardinality(c.members))::int] AS sender, pick.i2) s
CROSS JOIN LATERAL (
  SELECT CASE kind
    WHEN 0 THEN (SELECT string_agg(v.zh[1 + floor(power(random(), 2.5) * cardinality(v.zh))::int], '')
      FROM seed_vocab v, generate_series(1, 2 + (s.i2 % 9)) x)
    WHEN 1 THEN (SELECT string_agg(v.en[1 + floor(power(random(), 2.5) * cardinality(v.en))::int], ' ')
      FROM seed_vocab v, generate_series(1, 2 + (s.i2 % 11)) x)
    ELSE (SELECT btrim(replace(string_agg(CASE WHEN random() < 0.7 THEN v.zh[1 + floor(power(random(), 2.5) * cardinality(v.zh))::int]
        ELSE ' ' || v.en[1 + floor(power(random(), 2.5) * cardinality(v.en))::int] || ' ' END, ''), '  ', ' '))
      FROM seed_vocab v, generate_series(1, 3 + (s.i2 % 7)) x)
  END AS text
  FROM (SELECT CASE WHEN random() < 0.5 THEN 0 WHEN random() < 0.6 THEN 1 ELSE 2 END AS kind) k
) t
CROSS JOIN LATERAL (SELECT CASE WHEN i % ${chineseEvery} = 17 THEN '${chinese}'
  WHEN i % ${englishEvery} = 23 THEN ' ${english}' WHEN i % ${characterEvery} = 29 THEN '${character}' ELSE '' END AS suffix) rare
ORDER BY i;
UPDATE "Chat" ch SET "lastMessageAt" = now() WHERE type = 'GROUP';
`;
}
