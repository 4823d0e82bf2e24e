import type { Context } from "../context.js";
import { notFound } from "../errors.js";
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
