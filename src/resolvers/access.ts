import type { Context } from "../context.js";
import { forbidden, unauthenticated } from "../errors.js";
import type { Device, User } from "../generated/prisma/client.js";

// Who may call what. Schema fields declare the coarse role with scope-auth; resolvers call these to
// get the typed viewer, so the check and its use cannot drift apart.

export function requireUser(ctx: Context): { user: User; device: Device } {
  const { viewer } = ctx;
  if (viewer.kind === "user") return viewer;
  if (viewer.kind === "admin")
    throw forbidden("This operation acts as a user; use a user token, not the admin token");
  throw notSignedIn(ctx);
}

export function requireAdmin(ctx: Context): void {
  if (ctx.viewer.kind === "admin") return;
  if (ctx.viewer.kind === "user") throw forbidden("This operation needs the admin token (see adminToken)");
  throw notSignedIn(ctx);
}

export function notSignedIn(ctx: Context) {
  return ctx.viewer.kind === "anonymous" && ctx.viewer.rejectedToken
    ? unauthenticated("The token is invalid, expired or its session has ended: sign in again")
    : unauthenticated();
}
