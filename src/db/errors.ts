import { Prisma } from "../generated/prisma/client.js";

/** Through Prisma (P2002) or from the driver directly (SQLSTATE 23505, see Database.query). */
export function isUniqueViolation(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return error.code === "P2002";
  return (error as { code?: unknown } | null)?.code === "23505";
}

/** A failure Prisma reports (a query the database refused, a lost connection), as opposed to a bug of ours. */
export function isDatabaseFailure(error: unknown): boolean {
  return (
    error instanceof Prisma.PrismaClientKnownRequestError ||
    error instanceof Prisma.PrismaClientUnknownRequestError ||
    error instanceof Prisma.PrismaClientInitializationError ||
    error instanceof Prisma.PrismaClientRustPanicError
  );
}
