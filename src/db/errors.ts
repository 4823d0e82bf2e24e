import { Prisma } from "../generated/prisma/client.js";

/** Through Prisma (P2002) or from the driver directly (SQLSTATE 23505, see Database.query). */
export function isUniqueViolation(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return error.code === "P2002";
  return (error as { code?: unknown } | null)?.code === "23505";
}
