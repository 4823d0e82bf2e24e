import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { get, request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { App } from "../src/server.js";
import { startApp, type TestServer } from "./helpers/app.js";
import { eventually, fails, ok, upload, uploaded } from "./helpers/client.js";
import { signUp } from "./helpers/factories.js";
import { SEND } from "./helpers/messaging.js";

const MAX_UPLOAD = 64 * 1024;
let server: TestServer & { app: App };
let url: string;
before(async () => {
  server = await startApp({ MAX_UPLOAD_BYTES: String(MAX_UPLOAD) });
  url = server.url;
});
after(() => server.stop());

const origin = () => new URL(url).origin;

describe("uploadFile", () => {
  it("stores a file with its size and sha256 and serves it back to the uploader", async () => {
    const alice = await signUp(url);
    const bytes = Buffer.from("a picture, honestly");
    const attachment = await uploaded(url, alice.token, { bytes, name: "cat.png", type: "image/png" });
    assert.equal(attachment.size, bytes.length);
    assert.equal(attachment.name, "cat.png");
    assert.equal(attachment.mimeType, "image/png");
    assert.equal(attachment.sha256, createHash("sha256").update(bytes).digest("hex"));
    const download = await fetch(origin() + attachment.url);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get("content-type"), "image/png");
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), bytes);

    // Seeking and caches: a byte range, and a conditional request for what the client has.
    const range = await fetch(origin() + attachment.url, { headers: { range: "bytes=2-8" } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get("content-range"), `bytes 2-8/${bytes.length}`);
    assert.equal(range.headers.get("content-type"), "image/png");
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), bytes.subarray(2, 9));
    const etag = download.headers.get("etag");
    assert.ok(etag);
    // Through node:http: fetch adds "cache-control: no-cache" to a conditional request it is given,
    // which a cache revalidating its copy does not send.
    const revalidated = await new Promise<number>((resolve, reject) =>
      get(origin() + attachment.url, { headers: { "if-none-match": etag } }, (response) => {
        response.resume();
        resolve(response.statusCode!);
      }).on("error", reject),
    );
    assert.equal(revalidated, 304);
    const head = await fetch(origin() + attachment.url, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), String(bytes.length));
    assert.equal(head.headers.get("accept-ranges"), "bytes");
    const unsatisfiable = await fetch(origin() + attachment.url, { headers: { range: "bytes=100-200" } });
    assert.equal(unsatisfiable.status, 416);
    await unsatisfiable.body?.cancel();
  });

  it("refuses anonymous uploads and files over MAX_UPLOAD_BYTES", async () => {
    const anonymous = await upload(url, undefined, {
      bytes: Buffer.from("x"),
      name: "x.txt",
      type: "text/plain",
    });
    assert.equal(anonymous.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    const alice = await signUp(url);
    const big = await upload(url, alice.token, {
      bytes: Buffer.alloc(MAX_UPLOAD + 1),
      name: "big.bin",
      type: "application/octet-stream",
    });
    assert.equal(big.errors?.[0]?.extensions?.code, "LIMIT_EXCEEDED", JSON.stringify(big.errors));
  });

  it("writes an upload to disk as it arrives, and leaves nothing behind when it is cut off", async () => {
    const alice = await signUp(url);
    const spool = path.join(server.app.services.config.attachmentsDir, ".incoming");
    const spooledBytes = async () => {
      const names = await readdir(spool).catch(() => []);
      const sizes = await Promise.all(names.map((name) => stat(path.join(spool, name)).then((s) => s.size)));
      return sizes.reduce((sum, size) => sum + size, 0);
    };
    const bytes = Buffer.alloc(MAX_UPLOAD - 1, 7);
    const half = Math.floor(bytes.length / 2);
    // The parser may hold back a boundary's length at the end of what it has, never more.
    const halfOnDisk = async () => (await spooledBytes()) >= half - 256;
    const sendHalf = () => {
      const boundary = "----upload-test";
      const head = Buffer.from(
        [
          `--${boundary}`,
          'Content-Disposition: form-data; name="operations"',
          "",
          JSON.stringify({
            query: "mutation($file: File!) { uploadFile(file: $file) { size sha256 } }",
            variables: { file: null },
          }),
          `--${boundary}`,
          'Content-Disposition: form-data; name="map"',
          "",
          '{"0":["variables.file"]}',
          `--${boundary}`,
          'Content-Disposition: form-data; name="0"; filename="big.bin"',
          "Content-Type: application/octet-stream",
          "",
          "",
        ].join("\r\n"),
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      const answer = new Promise<Record<string, any>>((resolve, reject) => {
        const req = request(url, {
          method: "POST",
          headers: {
            authorization: `Bearer ${alice.token}`,
            "content-type": `multipart/form-data; boundary=${boundary}`,
          },
        });
        req.on("response", (response) => {
          let text = "";
          response.on("data", (chunk) => (text += chunk));
          response.on("end", () => resolve(JSON.parse(text)));
        });
        req.on("error", reject);
        req.write(Buffer.concat([head, bytes.subarray(0, half)]));
        pending = {
          finish: () => req.end(Buffer.concat([bytes.subarray(half), tail])),
          cut: () => req.destroy(),
        };
      });
      return answer;
    };
    let pending: { finish(): void; cut(): void } | undefined;

    // Half a file sent: that half is already on disk, not held by the server.
    const answer = sendHalf();
    await eventually(halfOnDisk, 10_000, "the first half on disk");
    pending!.finish();
    const { data, errors } = await answer;
    assert.equal(errors, undefined, JSON.stringify(errors));
    assert.equal(data?.uploadFile.size, bytes.length);
    assert.equal(data?.uploadFile.sha256, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(await spooledBytes(), 0, "the kept file moved out of the spool");

    // A client that goes away mid-file leaves no partial file behind.
    sendHalf().catch(() => {});
    await eventually(halfOnDisk, 10_000, "the first half on disk");
    pending!.cut();
    await eventually(async () => (await readdir(spool)).length === 0, 10_000, "the spool emptied");
  });

  it("refuses a plain value where the file belongs, in variables or written in the query", async () => {
    const alice = await signUp(url);
    const UPLOAD = "mutation($file: File!) { uploadFile(file: $file) { id } }";
    for (const file of ["not a file", 42, { name: "x.txt", size: 1 }]) {
      const message = await fails("BAD_USER_INPUT", url, UPLOAD, { file }, alice.token);
      assert.match(message, /multipart request/);
    }
    await fails("BAD_USER_INPUT", url, `mutation { uploadFile(file: "inline") { id } }`, {}, alice.token);
  });
});

describe("attachment messages", () => {
  it("sends image, voice, video and file messages that only the participants can download", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const eve = await signUp(url);
    const bodies: Record<string, any> = {};
    for (const [kind, extra] of [
      ["image", { width: 640, height: 480 }],
      ["voice", { duration: 7 }],
      ["video", { duration: 30, width: 1280, height: 720 }],
      ["file", {}],
    ] as const) {
      const file = await uploaded(url, alice.token, {
        bytes: Buffer.from(`${kind} bytes`),
        name: `${kind}.bin`,
        type: "application/octet-stream",
      });
      const sent = (
        await ok(
          url,
          SEND,
          { to: { user: bob.username }, body: { [kind]: { attachmentId: file.id, ...extra } } },
          alice.token,
        )
      ).sendMessage;
      bodies[kind] = sent.body;
      assert.equal(sent.body.attachmentId, file.id);
    }
    assert.equal(bodies.image.width, 640);
    assert.equal(bodies.voice.duration, 7);
    assert.equal(bodies.video.height, 720);
    assert.equal(bodies.file.attachment.name, "file.bin");

    // Bob reads his history and downloads with his own link.
    const history = await ok(
      url,
      `query($u: String!) { messages(conversation: { user: $u }) { edges { node { body { ... on FileBody { url } ... on ImageBody { url } } } } } }`,
      { u: alice.username },
      bob.token,
    );
    const bobUrl = history.messages.edges.at(-1).node.body.url;
    const fetched = await fetch(origin() + bobUrl);
    assert.equal(fetched.status, 200);
    assert.equal(await fetched.text(), "file bytes");

    // A tampered link, or one signed for someone else, is refused; Eve cannot send Alice's file either.
    const tampered = bobUrl.replace(
      /sig=([0-9a-f])/,
      (_: string, c: string) => `sig=${c === "0" ? "1" : "0"}`,
    );
    assert.equal((await fetch(origin() + tampered)).status, 403);
    const stolen = new URL(origin() + bobUrl);
    stolen.searchParams.set("user", eve.userId);
    assert.equal((await fetch(stolen)).status, 403);
    await fails(
      "NOT_FOUND",
      url,
      SEND,
      { to: { user: bob.username }, body: { file: { attachmentId: bodies.file.attachmentId } } },
      eve.token,
    );
    // Bob may pass on a file he received.
    await ok(
      url,
      SEND,
      { to: { user: eve.username }, body: { file: { attachmentId: bodies.file.attachmentId } } },
      bob.token,
    );
  });

  it("sends locations and custom messages, and checks their rules", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const place = (
      await ok(
        url,
        SEND,
        {
          to: { user: bob.username },
          body: { location: { latitude: 31.23, longitude: 121.47, address: "Shanghai" } },
        },
        alice.token,
      )
    ).sendMessage;
    assert.deepEqual(place.body, {
      __typename: "LocationBody",
      latitude: 31.23,
      longitude: 121.47,
      address: "Shanghai",
    });
    await fails(
      "BAD_USER_INPUT",
      url,
      SEND,
      { to: { user: bob.username }, body: { location: { latitude: 91, longitude: 0 } } },
      alice.token,
    );
    const gift = (
      await ok(
        url,
        SEND,
        {
          to: { user: bob.username },
          body: { custom: { event: "red-packet/v1", fields: { amount: "8.88" } } },
          ext: { theme: "gold" },
        },
        alice.token,
      )
    ).sendMessage;
    assert.equal(gift.body.event, "red-packet/v1");
    assert.deepEqual(gift.ext, { theme: "gold" });
    await fails(
      "BAD_USER_INPUT",
      url,
      SEND,
      { to: { user: bob.username }, body: { custom: { event: "has space" } } },
      alice.token,
    );
    await fails(
      "BAD_USER_INPUT",
      url,
      SEND,
      { to: { user: bob.username }, body: { custom: { event: "e", fields: { n: 1 } } } },
      alice.token,
    );
    const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
    await fails(
      "LIMIT_EXCEEDED",
      url,
      SEND,
      { to: { user: bob.username }, body: { custom: { event: "e", fields: seventeen } } },
      alice.token,
    );
    await fails(
      "LIMIT_EXCEEDED",
      url,
      SEND,
      { to: { user: bob.username }, body: { text: { text: "hi" } }, ext: { pad: "x".repeat(17_000) } },
      alice.token,
    );
  });

  it("forwards messages as one combined message the recipient can read, attachments included", async () => {
    const alice = await signUp(url);
    const bob = await signUp(url);
    const carol = await signUp(url);
    const file = await uploaded(url, alice.token, {
      bytes: Buffer.from("shared doc"),
      name: "doc.txt",
      type: "text/plain",
    });
    const first = (
      await ok(url, SEND, { to: { user: bob.username }, body: { text: { text: "look" } } }, alice.token)
    ).sendMessage;
    const second = (
      await ok(
        url,
        SEND,
        { to: { user: bob.username }, body: { file: { attachmentId: file.id } } },
        alice.token,
      )
    ).sendMessage;
    const COMBINED = `mutation($to: String!, $ids: [ID!]!) {
      sendMessage(to: { user: $to }, body: { combined: { title: "From Alice", summary: "2 messages", messageIds: $ids } }) {
        id body { ... on CombinedBody { title summary messageIds messages { id from { username } body { ... on TextBody { text } ... on FileBody { url } } } } }
      }
    }`;
    const forwarded = (await ok(url, COMBINED, { to: carol.username, ids: [first.id, second.id] }, bob.token))
      .sendMessage;
    assert.deepEqual(forwarded.body.messageIds, [first.id, second.id]);
    // Carol, who was not in the original chat, reads it through the combined message.
    const atCarol = (
      await ok(
        url,
        `query($id: ID!) { message(id: $id) { body { ... on CombinedBody { messages { from { username } body { ... on TextBody { text } ... on FileBody { url } } } } } } }`,
        { id: forwarded.id },
        carol.token,
      )
    ).message;
    assert.equal(atCarol.body.messages[0].body.text, "look");
    assert.equal(atCarol.body.messages[0].from.username, alice.username);
    const download = await fetch(origin() + atCarol.body.messages[1].body.url);
    assert.equal(await download.text(), "shared doc");
    // Nobody forwards what they cannot see.
    await fails("NOT_FOUND", url, COMBINED, { to: bob.username, ids: [first.id] }, carol.token);
    await fails(
      "LIMIT_EXCEEDED",
      url,
      COMBINED,
      { to: carol.username, ids: Array.from({ length: 301 }, (_, i) => String(i + 1)) },
      bob.token,
    );
  });
});

describe("upload spool", () => {
  it("removes at start what an instance killed mid-upload left, and nothing still arriving", async () => {
    const attachmentsDir = await mkdtemp(path.join(tmpdir(), "im-spool-"));
    const spool = path.join(attachmentsDir, ".incoming");
    await mkdir(spool);
    await writeFile(path.join(spool, "abandoned.upload"), "half a file");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(path.join(spool, "abandoned.upload"), twoHoursAgo, twoHoursAgo);
    await writeFile(path.join(spool, "arriving.upload"), "a file on its way");
    const restarted = await startApp({ ATTACHMENTS_DIR: attachmentsDir });
    try {
      await eventually(
        async () => !(await readdir(spool)).includes("abandoned.upload"),
        10_000,
        "the abandoned upload removed",
      );
      assert.deepEqual(await readdir(spool), ["arriving.upload"]);
    } finally {
      await restarted.stop();
      await rm(attachmentsDir, { recursive: true, force: true });
    }
  });
});
