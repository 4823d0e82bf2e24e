import { createSign } from "node:crypto";
import { readFileSync } from "node:fs";
import { dead, failed, type Notification, type ProviderAdapter, type Recipient, sent } from "./provider.js";

// Firebase Cloud Messaging, HTTP v1: POST <FCM_URL>/v1/projects/<project>/messages:send with an
// OAuth 2 access token, which we get from Google's token endpoint for a JWT signed with the
// service account's key (RFC 7523), and keep until shortly before it expires.

interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  token_uri?: string;
}

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token";

export function fcmAdapter(file: string, baseUrl: string, timeoutMs: number): ProviderAdapter {
  const account = JSON.parse(readFileSync(file, "utf8")) as ServiceAccount;
  if (!account.project_id || !account.client_email || !account.private_key) {
    throw new Error(`${file} is not a service-account key (project_id, client_email, private_key)`);
  }
  const tokenUri = account.token_uri ?? DEFAULT_TOKEN_URI;
  const sendUrl = `${baseUrl}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`;
  let access: { token: string; until: number } | undefined;
  let pending: Promise<string> | undefined;

  const accessToken = async (): Promise<string> => {
    if (access && access.until > Date.now()) return access.token;
    pending ??= (async () => {
      const response = await fetch(tokenUri, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
          assertion: serviceAccountJwt(account, tokenUri),
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) throw new Error(`FCM token endpoint: HTTP ${response.status}`);
      const body = (await response.json()) as { access_token: string; expires_in?: number };
      // A minute early, so a token never runs out between here and FCM.
      access = { token: body.access_token, until: Date.now() + ((body.expires_in ?? 3600) - 60) * 1000 };
      return body.access_token;
    })().finally(() => {
      pending = undefined;
    });
    return pending;
  };

  return {
    provider: "FCM",
    async send(recipient: Recipient, notification: Notification) {
      try {
        const response = await fetch(sendUrl, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${await accessToken()}` },
          body: JSON.stringify({
            message: {
              token: recipient.token,
              notification: { title: notification.title, body: notification.body },
              data: { id: notification.id, ...notification.data },
              android: {
                collapse_key: notification.collapseKey,
                priority: "HIGH",
                notification: { tag: notification.collapseKey },
              },
              apns: { headers: { "apns-collapse-id": notification.collapseKey } },
            },
          }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (response.ok) {
          await response.body?.cancel();
          return sent;
        }
        const text = await response.text();
        if (response.status === 401) access = undefined;
        // UNREGISTERED (404): the app was uninstalled or the token expired.
        if (response.status === 404 || text.includes("UNREGISTERED")) return dead(`HTTP ${response.status}`);
        return failed(`HTTP ${response.status} ${text.slice(0, 200)}`);
      } catch (error) {
        return failed((error as Error).message);
      }
    },
  };
}

function serviceAccountJwt(account: ServiceAccount, audience: string): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url({ alg: "RS256", typ: "JWT" });
  const claims = base64url({
    iss: account.client_email,
    scope: SCOPE,
    aud: audience,
    iat: now,
    exp: now + 3600,
  });
  const signature = createSign("RSA-SHA256")
    .update(`${header}.${claims}`)
    .sign(account.private_key, "base64url");
  return `${header}.${claims}.${signature}`;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
