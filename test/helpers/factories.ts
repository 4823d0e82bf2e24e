import { ok } from "./client.js";
import { ADMIN, uniqueName } from "./env.js";

export interface SignedIn {
  token: string;
  username: string;
  userId: string;
  deviceId: string;
}

export const PASSWORD = "correct-horse";

/** Registers a new user with a random name; the first device is signed in. */
export async function signUp(
  url: string,
  options: { username?: string; platform?: string } = {},
): Promise<SignedIn> {
  const username = options.username ?? uniqueName();
  const data = await ok(
    url,
    `mutation($u: String!, $p: String!, $platform: String) {
      register(username: $u, password: $p, platform: $platform) { token user { id } device { id } }
    }`,
    { u: username, p: PASSWORD, platform: options.platform ?? "web" },
  );
  return {
    token: data.register.token,
    username,
    userId: data.register.user.id,
    deviceId: data.register.device.id,
  };
}

/** Another login (a new device) for an existing user. */
export async function signIn(
  url: string,
  username: string,
  platform = "web",
  deviceName?: string,
): Promise<SignedIn> {
  const data = await ok(
    url,
    `mutation($u: String!, $p: String!, $platform: String, $name: String) {
      login(username: $u, password: $p, platform: $platform, deviceName: $name) { token user { id } device { id } }
    }`,
    { u: username, p: PASSWORD, platform, name: deviceName },
  );
  return { token: data.login.token, username, userId: data.login.user.id, deviceId: data.login.device.id };
}

export async function adminToken(url: string): Promise<string> {
  const data = await ok(
    url,
    "mutation($id: String!, $secret: String!) { adminToken(clientId: $id, clientSecret: $secret) { token } }",
    { id: ADMIN.clientId, secret: ADMIN.clientSecret },
  );
  return data.adminToken.token;
}

/** Creates `count` users named `<prefix>-<n>` through the admin API (60 a call); returns their names. */
export async function createUsers(url: string, prefix: string, count: number): Promise<string[]> {
  const admin = await adminToken(url);
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (let start = 0; start < count; start += 60) {
    const users = names.slice(start, start + 60).map((username) => ({ username, password: PASSWORD }));
    await ok(
      url,
      "mutation($u: [AdminUserInput!]!) { adminCreateUsers(users: $u) { id } }",
      { u: users },
      admin,
    );
  }
  return names;
}
