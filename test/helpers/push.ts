import assert from "node:assert/strict";
import { createECDH, createPublicKey, generateKeyPairSync, randomBytes, verify } from "node:crypto";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import ece from "http_ece";
import webpush from "web-push";

// Local stand-ins for the push services the server talks to, each checking what a real one checks:
// a browser-like Web Push endpoint that verifies the VAPID JWT and decrypts the payload with the
// subscription's private key, and fakes of FCM's HTTP v1 (with its OAuth token endpoint) and of
// APNs over HTTP/2. Each records what it received.

export interface Received {
  /** The subscription, FCM token or APNs device token it was for. */
  to: string;
  payload: Record<string, any>;
  headers: Record<string, string | string[] | undefined>;
}

/** What the next request for `to` gets: a status, or a promise the answer waits for. */
type Behaviour = { status: number; body?: string } | { hold: Promise<void> };

class Recorder {
  readonly received: Received[] = [];
  readonly errors: string[] = [];
  private readonly behaviour = new Map<string, Behaviour[]>();
  private waiters: (() => void)[] = [];

  /** Answers the next request(s) for `to` this way (in order), then 201/200 again. */
  plan(to: string, ...answers: Behaviour[]) {
    this.behaviour.set(to, [...(this.behaviour.get(to) ?? []), ...answers]);
  }

  protected next(to: string): Behaviour | undefined {
    return this.behaviour.get(to)?.shift();
  }

  protected record(received: Received) {
    this.received.push(received);
    for (const wake of this.waiters.splice(0)) wake();
  }

  protected fail(error: string) {
    this.errors.push(error);
    for (const wake of this.waiters.splice(0)) wake();
  }

  for(to: string): Received[] {
    return this.received.filter((item) => item.to === to);
  }

  /** Waits until `to` has received `count` pushes (or fails after timeoutMs). */
  async waitFor(to: string, count = 1, timeoutMs = 15_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.for(to).length < count) {
      assert.deepEqual(this.errors, [], "the fake refused a request");
      const left = deadline - Date.now();
      assert.ok(left > 0, `${to} received ${this.for(to).length} of ${count} pushes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    assert.deepEqual(this.errors, [], "the fake refused a request");
    return this.for(to);
  }
}

async function listen(server: Server | http2.Http2Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readBody(request: IncomingMessage | http2.Http2ServerRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function decodeJwt(jwt: string) {
  const [header, claims, signature] = jwt.split(".");
  return {
    header: JSON.parse(Buffer.from(header!, "base64url").toString()),
    claims: JSON.parse(Buffer.from(claims!, "base64url").toString()),
    signed: Buffer.from(`${header}.${claims}`),
    signature: Buffer.from(signature!, "base64url"),
  };
}

/** Verifies an ES256 JWT (raw r||s signature) against a P-256 key. */
function es256Valid(jwt: ReturnType<typeof decodeJwt>, key: Parameters<typeof verify>[2]): boolean {
  return verify("sha256", jwt.signed, { key: key as never, dsaEncoding: "ieee-p1363" }, jwt.signature);
}

export interface Subscriber {
  /** The token a browser would register: its PushSubscription as JSON. */
  token: string;
  id: string;
}

/** A push service with browsers behind it: subscriptions are made here, pushes decrypted. */
export class WebPushEndpoint extends Recorder {
  readonly vapid = webpush.generateVAPIDKeys();
  readonly subject = "mailto:ops@example.test";
  private readonly keys = new Map<string, { ecdh: ReturnType<typeof createECDH>; auth: Buffer }>();
  private server = createServer((request, response) => {
    this.handle(request)
      .then(async ({ status, hold }) => {
        if (hold) await hold;
        response.writeHead(status).end();
      })
      .catch((error: Error) => {
        this.fail(error.message);
        response.writeHead(400).end();
      });
  });
  url = "";

  async start() {
    this.url = await listen(this.server);
    return this;
  }

  env(): Record<string, string> {
    return {
      VAPID_PUBLIC_KEY: this.vapid.publicKey,
      VAPID_PRIVATE_KEY: this.vapid.privateKey,
      VAPID_SUBJECT: this.subject,
    };
  }

  /** What PushManager.subscribe gives a page: an endpoint and the browser's keys. */
  subscribe(): Subscriber {
    const id = randomBytes(6).toString("hex");
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.keys.set(id, { ecdh, auth });
    const token = JSON.stringify({
      endpoint: `${this.url}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
    });
    return { token, id };
  }

  private async handle(request: IncomingMessage): Promise<{ status: number; hold?: Promise<void> }> {
    const id = request.url!.replace("/push/", "");
    const keys = this.keys.get(id);
    const body = await readBody(request);
    if (!keys) return { status: 404 };
    // VAPID (RFC 8292): "vapid t=<JWT>, k=<public key>", the JWT signed by that key for our origin.
    const match = /^vapid t=([^,]+), k=(.+)$/.exec(request.headers.authorization ?? "");
    if (!match) throw new Error(`no VAPID authorization: ${request.headers.authorization}`);
    if (match[2] !== this.vapid.publicKey) throw new Error("VAPID key is not the configured one");
    const point = Buffer.from(match[2]!, "base64url");
    const key = createPublicKey({
      key: {
        kty: "EC",
        crv: "P-256",
        x: point.subarray(1, 33).toString("base64url"),
        y: point.subarray(33, 65).toString("base64url"),
      },
      format: "jwk",
    });
    const jwt = decodeJwt(match[1]!);
    if (jwt.header.alg !== "ES256" || !es256Valid(jwt, key))
      throw new Error("VAPID JWT signature is invalid");
    if (
      jwt.claims.aud !== this.url ||
      jwt.claims.sub !== this.subject ||
      jwt.claims.exp * 1000 < Date.now()
    ) {
      throw new Error(`VAPID claims are wrong: ${JSON.stringify(jwt.claims)}`);
    }
    if (request.headers["content-encoding"] !== "aes128gcm") throw new Error("payload is not aes128gcm");
    const plain = ece.decrypt(body, { version: "aes128gcm", privateKey: keys.ecdh, authSecret: keys.auth });
    this.record({ to: id, payload: JSON.parse(plain.toString("utf8")), headers: request.headers });
    const planned = this.next(id);
    if (planned && "hold" in planned) return { status: 201, hold: planned.hold };
    return { status: planned?.status ?? 201 };
  }

  async stop() {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** FCM HTTP v1 and Google's OAuth token endpoint. */
export class FakeFcm extends Recorder {
  private readonly keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  readonly email = "push@test-project.iam.gserviceaccount.com";
  private readonly accessToken = randomBytes(12).toString("hex");
  tokenRequests = 0;
  url = "";
  private server = createServer((request, response) => {
    this.handle(request)
      .then(({ status, body }) =>
        response.writeHead(status, { "content-type": "application/json" }).end(body),
      )
      .catch((error: Error) => {
        this.fail(error.message);
        response.writeHead(400).end();
      });
  });

  async start() {
    this.url = await listen(this.server);
    return this;
  }

  /** FCM_URL and a service-account file whose token_uri is this fake. */
  env(): Record<string, string> {
    const file = path.join(tmpdir(), `fcm-${randomBytes(4).toString("hex")}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        type: "service_account",
        project_id: "test-project",
        client_email: this.email,
        private_key: this.keys.privateKey.export({ type: "pkcs8", format: "pem" }),
        token_uri: `${this.url}/token`,
      }),
    );
    return { FCM_SERVICE_ACCOUNT_FILE: file, FCM_URL: this.url };
  }

  private async handle(request: IncomingMessage): Promise<{ status: number; body: string }> {
    const body = (await readBody(request)).toString();
    if (request.url === "/token") {
      const form = new URLSearchParams(body);
      if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer")
        throw new Error("grant_type");
      const jwt = decodeJwt(form.get("assertion")!);
      const valid = verify("RSA-SHA256", jwt.signed, this.keys.publicKey, jwt.signature);
      if (!valid || jwt.header.alg !== "RS256") throw new Error("service-account JWT signature is invalid");
      const { iss, aud, scope } = jwt.claims;
      if (
        iss !== this.email ||
        aud !== `${this.url}/token` ||
        scope !== "https://www.googleapis.com/auth/firebase.messaging"
      ) {
        throw new Error(`service-account JWT claims are wrong: ${JSON.stringify(jwt.claims)}`);
      }
      this.tokenRequests++;
      return {
        status: 200,
        body: JSON.stringify({ access_token: this.accessToken, expires_in: 3599, token_type: "Bearer" }),
      };
    }
    if (request.url !== "/v1/projects/test-project/messages:send") return { status: 404, body: "{}" };
    if (request.headers.authorization !== `Bearer ${this.accessToken}`) throw new Error("wrong bearer token");
    const payload = JSON.parse(body);
    const to = payload.message.token as string;
    this.record({ to, payload, headers: request.headers });
    const planned = this.next(to);
    if (planned && "status" in planned) return { status: planned.status, body: planned.body ?? "{}" };
    return {
      status: 200,
      body: JSON.stringify({ name: `projects/test-project/messages/${randomBytes(4).toString("hex")}` }),
    };
  }

  async stop() {
    this.server.closeAllConnections();
    this.server.close();
  }
}

/** APNs' HTTP/2 API (cleartext h2, as a local fake can be without certificates). */
export class FakeApns extends Recorder {
  private readonly keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  readonly keyId = "ABC123DEFG";
  readonly teamId = "TEAM123456";
  readonly topic = "com.example.chat";
  url = "";
  private server = http2.createServer();

  async start() {
    this.server.on("stream", (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        try {
          const answer = this.handle(headers, Buffer.concat(chunks).toString());
          stream.respond({ ":status": answer.status, "apns-id": String(headers["apns-id"]) });
          stream.end(answer.body ?? "");
        } catch (error) {
          this.fail((error as Error).message);
          stream.respond({ ":status": 400 });
          stream.end(JSON.stringify({ reason: "BadRequest" }));
        }
      });
    });
    this.url = await listen(this.server);
    return this;
  }

  env(): Record<string, string> {
    const file = path.join(tmpdir(), `apns-${randomBytes(4).toString("hex")}.p8`);
    writeFileSync(file, this.keys.privateKey.export({ type: "pkcs8", format: "pem" }));
    return {
      APNS_KEY_FILE: file,
      APNS_KEY_ID: this.keyId,
      APNS_TEAM_ID: this.teamId,
      APNS_TOPIC: this.topic,
      APNS_URL: this.url,
    };
  }

  private handle(headers: http2.IncomingHttpHeaders, body: string): { status: number; body?: string } {
    const match = /^\/3\/device\/([0-9a-f]+)$/.exec(String(headers[":path"]));
    if (headers[":method"] !== "POST" || !match)
      throw new Error(`unexpected ${headers[":method"]} ${headers[":path"]}`);
    const auth = /^bearer (.+)$/.exec(String(headers.authorization));
    if (!auth) throw new Error("no provider token");
    const jwt = decodeJwt(auth[1]!);
    if (jwt.header.alg !== "ES256" || jwt.header.kid !== this.keyId || jwt.claims.iss !== this.teamId) {
      throw new Error(`provider token is wrong: ${JSON.stringify(jwt)}`);
    }
    if (!es256Valid(jwt, this.keys.publicKey)) throw new Error("provider token signature is invalid");
    if (headers["apns-topic"] !== this.topic) throw new Error("wrong apns-topic");
    this.record({ to: match[1]!, payload: JSON.parse(body), headers: headers as Received["headers"] });
    const planned = this.next(match[1]!);
    if (planned && "status" in planned) return planned;
    return { status: 200 };
  }

  async stop() {
    this.server.close();
  }
}
