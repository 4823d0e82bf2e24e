import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rollUpMessageStats } from "../src/resolvers/message-stats.js";
import { trimHistories } from "../src/resolvers/rooms/messages.js";
import type { App } from "../src/server.js";
import { startApp, type TestServer } from "./helpers/app.js";
import { fails, ok } from "./helpers/client.js";
import { adminToken, signUp } from "./helpers/factories.js";
import { sendText } from "./helpers/messaging.js";
import { CREATE_ROOM, ROOM_HISTORY, SEND_ROOM } from "./helpers/rooms.js";

// Fresh storage for this file, so the counts are exactly what it sent.
let server: TestServer & { app: App };
let url: string;
let admin: string;
before(async () => {
  server = await startApp({ ROOM_HISTORY_LIMIT: "2" });
  url = server.url;
  admin = await adminToken(url);
});
after(() => server.stop());

const STATS = `query($from: DateTime!, $to: DateTime!) { adminMessageStats(from: $from, to: $to) { day type count } }`;
const SEND_CUSTOM = `mutation($to: String!) {
  sendMessage(to: { user: $to }, body: { custom: { event: "order/paid", fields: { id: "7" } } }) { id }
}`;
const today = () => new Date().toISOString().slice(0, 10);

async function stats(from = new Date(), to = new Date()) {
  return (await ok(url, STATS, { from: from.toISOString(), to: to.toISOString() }, admin)).adminMessageStats;
}

describe("adminMessageStats", () => {
  it("counts stored messages by UTC day and type, the same before and after they are rolled up", async () => {
    const [alice, bob] = [await signUp(url), await signUp(url)];
    await sendText(url, alice.token, bob.username, "one");
    await sendText(url, bob.token, alice.username, "two");
    await ok(url, SEND_CUSTOM, { to: bob.username }, alice.token);
    const expected = [
      { day: today(), type: "CUSTOM", count: 1 },
      { day: today(), type: "TEXT", count: 2 },
    ];
    assert.deepEqual(await stats(), expected);

    assert.equal(await rollUpMessageStats(server.app.services, 0), 3);
    assert.equal(await rollUpMessageStats(server.app.services, 0), 0, "nothing is counted twice");
    assert.deepEqual(await stats(), expected);

    // Rolled-up counts and messages not rolled up yet add together.
    await sendText(url, alice.token, bob.username, "three");
    assert.deepEqual(await stats(), [expected[0], { ...expected[1]!, count: 3 }]);
    const yesterday = new Date(Date.now() - 86_400_000);
    assert.deepEqual(await stats(yesterday, yesterday), []);
  });

  it("still counts room messages once the room's history is trimmed", async () => {
    const owner = await signUp(url);
    const room = (await ok(url, CREATE_ROOM, { name: "stats", owner: owner.username }, admin)).createRoom;
    const before = (await stats()).find((stat: { type: string }) => stat.type === "TEXT")?.count ?? 0;
    for (const text of ["r1", "r2", "r3", "r4"]) await ok(url, SEND_ROOM, { id: room.id, text }, owner.token);
    const counted = before + 4;
    const text = async () => (await stats()).find((stat: { type: string }) => stat.type === "TEXT").count;
    assert.equal(await text(), counted);

    // Not rolled up yet: the trim leaves the messages for the stats to count first.
    await trimHistories(server.app.services, 0n);
    assert.equal(await text(), counted);
    await rollUpMessageStats(server.app.services, 0);
    await trimHistories(server.app.services, 0n);
    assert.equal(await text(), counted);
    const history = await ok(url, ROOM_HISTORY, { id: room.id, last: 10 }, owner.token);
    assert.deepEqual(
      history.messages.edges.map((edge: any) => edge.node.body.text),
      ["r3", "r4"],
    );
  });

  it("is for the app server, over at most 366 days, from a day not after the last", async () => {
    const user = await signUp(url);
    const day = new Date().toISOString();
    await fails("FORBIDDEN", url, STATS, { from: day, to: day }, user.token);
    const earlier = new Date(Date.now() - 2 * 86_400_000).toISOString();
    await fails("BAD_USER_INPUT", url, STATS, { from: day, to: earlier }, admin);
    const longAgo = new Date(Date.now() - 366 * 86_400_000).toISOString();
    await fails("BAD_USER_INPUT", url, STATS, { from: longAgo, to: day }, admin);
    const yearAgo = new Date(Date.now() - 365 * 86_400_000).toISOString();
    await ok(url, STATS, { from: yearAgo, to: day }, admin);
  });
});
