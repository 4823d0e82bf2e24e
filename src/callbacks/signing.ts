import { createHmac, timingSafeEqual } from "node:crypto";

// Every call to the app server carries `X-Webhook-Signature: t=<unix seconds>,v1=<hex>`, where hex
// is HMAC-SHA256 under WEBHOOK_SECRET of `<t>.<raw body>` (Stripe's scheme). Signing the time with
// the body lets a receiver refuse a recorded call replayed later; README.md shows a receiver.

export const SIGNATURE_HEADER = "x-webhook-signature";

export function signatureHeader(secret: string, body: string, now = Date.now()): string {
  const timestamp = Math.floor(now / 1000);
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

/** What a receiver does: true when the signature is ours and at most `toleranceSeconds` old. */
export function verifySignature(
  secret: string,
  body: string,
  header: string | null | undefined,
  toleranceSeconds = 300,
  now = Date.now(),
): boolean {
  const parts = new Map(
    (header ?? "").split(",").map((part) => part.split("=", 2) as [string, string | undefined]),
  );
  const timestamp = Number(parts.get("t"));
  const given = Buffer.from(parts.get("v1") ?? "", "hex");
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, timestamp, body), "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

/** POSTs signed JSON; resolves with the response, rejects on a network error or the timeout. */
export function postSigned(
  url: string,
  secret: string,
  payload: unknown,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      [SIGNATURE_HEADER]: signatureHeader(secret, body),
      ...headers,
    },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
}
