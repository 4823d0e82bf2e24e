import { createHash, createPrivateKey, type KeyObject, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import type { PushConfig } from "../../config.js";
import { dead, failed, type Notification, type ProviderAdapter, type Recipient, sent } from "./provider.js";

// Apple Push Notification service: HTTP/2 POST /3/device/<token> on one long-lived connection,
// authenticated with a provider token (an ES256 JWT naming the key and team, RFC 7518 §3.4's
// raw r||s signature) that is renewed well inside Apple's hour.

type ApnsConfig = NonNullable<PushConfig["apns"]>;

const TOKEN_RENEW_MS = 40 * 60_000;

export function apnsAdapter(config: ApnsConfig, timeoutMs: number): ProviderAdapter {
  const key = createPrivateKey(readFileSync(config.keyFile, "utf8"));
  let session: http2.ClientHttp2Session | undefined;
  let provider: { jwt: string; at: number } | undefined;

  const connect = () => {
    if (session && !session.closed && !session.destroyed) return session;
    const opened = http2.connect(config.url);
    opened.on("error", () => opened.destroy());
    opened.on("close", () => {
      if (session === opened) session = undefined;
    });
    // An idle connection should not hold the process open at shutdown.
    opened.unref();
    session = opened;
    return opened;
  };
  const providerToken = () => {
    if (!provider || Date.now() - provider.at > TOKEN_RENEW_MS) {
      provider = { jwt: providerJwt(key, config.keyId, config.teamId), at: Date.now() };
    }
    return provider.jwt;
  };

  return {
    provider: "APNS",
    async send(recipient: Recipient, notification: Notification) {
      const { id, ...data } = { id: notification.id, ...notification.data };
      const body = JSON.stringify({
        aps: {
          alert: { title: notification.title, body: notification.body },
          sound: "default",
          "thread-id": notification.collapseKey,
        },
        id,
        ...data,
      });
      try {
        const { status, reason } = await request(connect(), timeoutMs, body, {
          ":method": "POST",
          ":path": `/3/device/${recipient.token}`,
          authorization: `bearer ${providerToken()}`,
          "apns-topic": config.topic,
          "apns-push-type": "alert",
          "apns-priority": "10",
          "apns-expiration": String(Math.floor(Date.now() / 1000) + 86_400),
          // The same notification sent again carries the same apns-id; a newer one for the same
          // conversation replaces it on the device.
          "apns-id": uuidOf(notification.id),
          "apns-collapse-id": notification.collapseKey,
          "content-type": "application/json",
        });
        if (status === 200) return sent;
        if (status === 410 || reason === "BadDeviceToken" || reason === "Unregistered") {
          return dead(`HTTP ${status} ${reason}`);
        }
        if (reason === "ExpiredProviderToken") provider = undefined;
        return failed(`HTTP ${status} ${reason}`);
      } catch (error) {
        return failed((error as Error).message);
      }
    },
    close() {
      session?.close();
    },
  };
}

function request(
  session: http2.ClientHttp2Session,
  timeoutMs: number,
  body: string,
  headers: http2.OutgoingHttpHeaders,
): Promise<{ status: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    stream.setTimeout(timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    let status = 0;
    let text = "";
    stream.on("response", (response) => {
      status = Number(response[":status"]);
    });
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      text += chunk;
    });
    stream.on("end", () => {
      let reason = "";
      try {
        reason = text ? String((JSON.parse(text) as { reason?: string }).reason ?? "") : "";
      } catch {}
      resolve({ status, reason });
    });
    stream.on("close", () => {
      if (status === 0) reject(new Error("APNs stream closed without an answer"));
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

function providerJwt(key: KeyObject, keyId: string, teamId: string): string {
  const header = Buffer.from(JSON.stringify({ alg: "ES256", kid: keyId })).toString("base64url");
  const claims = Buffer.from(JSON.stringify({ iss: teamId, iat: Math.floor(Date.now() / 1000) })).toString(
    "base64url",
  );
  const signature = sign("sha256", Buffer.from(`${header}.${claims}`), {
    key,
    dsaEncoding: "ieee-p1363",
  }).toString("base64url");
  return `${header}.${claims}.${signature}`;
}

/** A UUID (apns-id's form) that is always the same for the same notification id. */
function uuidOf(id: string): string {
  const hex = createHash("sha256").update(id).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
