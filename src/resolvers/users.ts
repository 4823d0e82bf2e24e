import type { Context } from "../context.js";
import { badInput, notFound } from "../errors.js";
import type { User } from "../generated/prisma/client.js";
import * as check from "./validation.js";

/** The live users with these names, in the order given, without repeats; NOT_FOUND names the unknown ones. */
export async function requireUsersNamed(
  ctx: Pick<Context, "prisma">,
  usernames: readonly string[],
  field = "usernames",
): Promise<User[]> {
  const names = [...new Set(usernames.map((name) => check.username(name, field)))];
  if (names.length === 0) return [];
  const users = await ctx.prisma.user.findMany({ where: { username: { in: names }, deletedAt: null } });
  const unknown = names.filter((name) => !users.some((user) => user.username === name));
  if (unknown.length > 0) throw notFound(`No users named ${unknown.map((name) => `"${name}"`).join(", ")}`);
  const byName = new Map(users.map((user) => [user.username, user]));
  return names.map((name) => byName.get(name)!);
}

/**
 * The ids of `users`, who must all be in a chat: `inChat` says which of the ids are. BAD_USER_INPUT
 * names the others (mentions and targets of a message name its chat's members).
 */
export async function requireInChat(
  users: readonly Pick<User, "id" | "username">[],
  field: string,
  chat: string,
  inChat: (ids: string[]) => Promise<Iterable<string>>,
): Promise<string[]> {
  if (users.length === 0) return [];
  const ids = users.map((user) => user.id);
  const members = new Set(await inChat(ids));
  const outsiders = users.filter((user) => !members.has(user.id));
  if (outsiders.length > 0) {
    throw badInput(
      `${field} must name members of the ${chat}; not: ${outsiders.map((u) => u.username).join(", ")}`,
      field,
    );
  }
  return ids;
}
