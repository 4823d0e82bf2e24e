import { defineConfig } from "prisma/config";

// The datasource URL is only needed by the Prisma CLI's own migrate commands; the server builds its
// connection from DATABASE_URL (or embedded PGlite) itself, see src/db/client.ts.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/unused" },
});
