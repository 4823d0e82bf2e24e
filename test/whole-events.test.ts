import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { envelop, useEngine, useSchema } from "@envelop/core";
import { buildSchema, execute, parse, subscribe, validate } from "graphql";
import { STREAM_BROKEN, useWholeEventsOnly } from "../src/delivery/whole-events.js";
import { AppError } from "../src/errors.js";

// The rule itself, on a stream whose second event's content fails to render as it would with the
// database away; the fault suite (faults.test.ts) shows the whole server resuming through it.

const schema = buildSchema(`
  type Query { ok: Boolean }
  type Event { cursor: String! text: String }
  type Subscription { events: Event! }
`);

async function* events(failWith: Error) {
  // Each source event is the root value its selection runs on.
  yield { events: { cursor: "1", text: () => "first" } };
  yield {
    events: {
      cursor: "2",
      text: () => {
        throw failWith;
      },
    },
  };
  yield { events: { cursor: "3", text: () => "third" } };
}

async function read(failWith: Error) {
  const getEnveloped = envelop({
    plugins: [useEngine({ parse, validate, execute, subscribe }), useSchema(schema), useWholeEventsOnly()],
  });
  const { subscribe: run, schema: enveloped } = getEnveloped();
  const stream = (await run({
    schema: enveloped,
    document: parse("subscription { events { cursor text } }"),
    rootValue: { events: () => events(failWith) },
  })) as AsyncIterable<{ data?: { events: { cursor: string; text: string | null } }; errors?: unknown[] }>;
  const seen: string[] = [];
  try {
    for await (const result of stream) seen.push(`${result.data?.events.cursor}:${result.data?.events.text}`);
  } catch (error) {
    return { seen, ended: error as AppError };
  }
  return { seen, ended: undefined };
}

describe("events delivered whole", () => {
  it("ends the stream at an event that failed to render, so its cursor is never handed out without it", async () => {
    const { seen, ended } = await read(new Error("Connection terminated unexpectedly"));
    assert.deepEqual(seen, ["1:first"]);
    assert.equal(ended?.extensions.code, "INTERNAL");
    assert.equal(ended?.message, STREAM_BROKEN);
  });

  it("delivers an event whose field error is one the API names", async () => {
    const { seen, ended } = await read(new AppError("FORBIDDEN", "not yours"));
    assert.deepEqual(seen, ["1:first", "2:null", "3:third"]);
    assert.equal(ended, undefined);
  });
});
