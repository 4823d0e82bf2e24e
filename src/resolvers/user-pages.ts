import { badInput } from "../errors.js";
import type { Prisma } from "../generated/prisma/client.js";
import { pageSize } from "./paging.js";
import * as check from "./validation.js";

// Lists of people (contacts, presence subscriptions) page by the listed user's username.

export interface NodePage<Node> {
  nodes: Node[];
  hasNextPage: boolean;
}

export function usernameCursor(username: string): string {
  return Buffer.from(username).toString("base64url");
}

export function parseUsernameCursor(raw: string): string {
  const name = Buffer.from(raw, "base64url").toString();
  if (!check.maybeUsername(name)) throw badInput("after must be a cursor from an earlier page", "after");
  return name;
}

/** How many to take (one more than the page, to tell if there is a next) and which users qualify. */
export function usernamePage(args: { first?: number | null; after?: string | null }) {
  const first = pageSize(args.first, "first");
  const user: Prisma.UserWhereInput = { deletedAt: null };
  if (args.after != null) user.username = { gt: parseUsernameCursor(args.after) };
  return {
    take: first + 1,
    user,
    page: <Node>(rows: Node[]): NodePage<Node> => ({
      nodes: rows.slice(0, first),
      hasNextPage: rows.length > first,
    }),
  };
}
