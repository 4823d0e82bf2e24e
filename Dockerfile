# syntax=docker/dockerfile:1
# imserver: build the JavaScript once, run it as an unprivileged user with production packages only.
# README.md, "Deploying with Docker".

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts ./
# postinstall runs prisma generate (the client goes to src/generated, compiled into dist/ below).
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Production packages without install scripts: the generated client is already compiled into dist/.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=4000 \
    DATA_DIR=/data \
    ATTACHMENTS_DIR=/attachments
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Migrations are applied at start (under a lock); version.ts reads package.json.
COPY prisma/migrations ./prisma/migrations
COPY package.json ./
# Owned by node, so named volumes mounted here start out writable by the server.
RUN mkdir -p /data /attachments && chown node:node /data /attachments
USER node
EXPOSE 4000
VOLUME ["/data", "/attachments"]
# The slim image has no curl: Node's fetch asks /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/main.js"]
