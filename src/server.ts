import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Plugin } from "@envelop/core";
import { type ExecutionArgs, type GraphQLError, getOperationAST } from "graphql";
import { createYoga, type YogaInitialContext } from "graphql-yoga";
import { WebSocketServer } from "ws";
import type { OutboxPump } from "./callbacks/outbox.js";
import { startPostSendWebhook } from "./callbacks/post-send.js";
import { startPush } from "./callbacks/push/index.js";
import type { Config } from "./config.js";
import {
  type Context,
  createCaches,
  createContext,
  resolveViewer,
  type Services,
  type Viewer,
} from "./context.js";
import { openDatabase } from "./db/client.js";
import { applyMigrations, readMigrations } from "./db/migrate.js";
import { RoomHub } from "./delivery/room-hub.js";
import { useSharedEventRendering } from "./delivery/shared-render.js";
import { ChatLogTailer } from "./delivery/tailer.js";
import { useWholeEventsOnly } from "./delivery/whole-events.js";
import { clientAddressOf, trustFunction } from "./http/client-address.js";
import { useIntrospectionSwitch } from "./http/introspection.js";
import { sendJson } from "./http/json.js";
import { useRequestCap } from "./http/request-cap.js";
import {
  logHttpRequest,
  type RequestRecord,
  requestIdOf,
  SocketRequestLog,
  startRecord,
  useRequestLog,
} from "./http/request-log.js";
import { sweepAbandonedUploads, useSpooledUploads } from "./http/spooled-uploads.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics, METRICS_PATH } from "./metrics/endpoint.js";
import { useOperationMetrics } from "./metrics/operations.js";
import { createEventBus } from "./pubsub/index.js";
import { createPresenceStore } from "./pubsub/presence.js";
import { createRateLimiter } from "./pubsub/rate-limit.js";
import { connectRedis, type RedisClients } from "./pubsub/redis.js";
import { CloseCode, ConnectionRegistry, delay, type LiveConnection } from "./realtime/connections.js";
import { serveGraphqlWs } from "./realtime/graphql-ws.js";
import { DOWNLOAD_PATH, loadSigningKey, serveDownload, spoolDir } from "./resolvers/attachments.js";
import { scheduleBroadcasts } from "./resolvers/broadcasts.js";
import { EXPORT_PATH, serveExport } from "./resolvers/exports.js";
import { scheduleMessageStats } from "./resolvers/message-stats.js";
import { followModerationRules } from "./resolvers/moderation/rule-cache.js";
import { announcePresence } from "./resolvers/presence.js";
import { scheduleRetention } from "./resolvers/retention.js";
import { notePresence } from "./resolvers/rooms/membership.js";
import { scheduleRoomUpkeep } from "./resolvers/rooms/upkeep.js";
import { scheduleSummaries } from "./resolvers/threads/summaries.js";
import { useRest } from "./rest/index.js";
import { claimingErrors, toClientError } from "./schema/errors.js";
import { schema } from "./schema/index.js";
import { createAbuseLimits, useAdminCallLimit } from "./security/abuse-limits.js";
import { queryLimitPlugins } from "./security/query-limits.js";
import { parseBearer } from "./security/tokens.js";
import { VERSION } from "./version.js";

/** An upload whose spool file has not grown for this long was cut off by a crash, not still arriving. */
const ABANDONED_UPLOAD_MS = 60 * 60 * 1000;

export interface App {
  services: Services;
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql, once started. */
  readonly url: string;
  start(): Promise<void>;
  /** Drains: refuses new work, closes WebSockets with 1001, lets in-flight requests finish, closes pools. */
  stop(): Promise<void>;
}

/** What a graphql-ws connection carries from connect to close. */
type SocketState = {
  token?: string;
  /** Who connected; operations on a device's connection act as it until its session ends. */
  viewer?: Viewer;
  connection?: LiveConnection;
  operations?: SocketRequestLog;
};

type ServerContext = {
  req: IncomingMessage;
  res: ServerResponse;
  operationId?: string;
  clientAddress?: string;
  requestRecord?: RequestRecord;
} & Partial<SocketState>;

/** Gives parse and validation errors, which never reach execution's error masking, their API code. */
function useRequestErrorCodes(log: Logger): Plugin {
  return {
    onValidate:
      () =>
      ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map((error) => toClientError(error, log)));
      },
  };
}

export async function buildApp(config: Config, log: Logger = createLogger(config.logLevel)): Promise<App> {
  const db = await openDatabase(config, log);
  let redis: RedisClients | undefined;
  try {
    const applied = await db.withMigrationLock((session) => applyMigrations(session, readMigrations(), log));
    if (applied.length > 0) log.info("Database migrated", { applied });
    redis = config.redisUrl ? await connectRedis(config.redisUrl, log) : undefined;
  } catch (error) {
    await db.close();
    throw error;
  }
  const instanceId = randomUUID();
  let urlSigningKey: Buffer;
  try {
    urlSigningKey = await loadSigningKey(db.prisma);
  } catch (error) {
    await redis?.close();
    await db.close();
    throw error;
  }
  const pubsub = createEventBus(redis, config.redisPrefix, log);
  const services: Services = {
    config,
    log,
    db,
    prisma: db.prisma,
    pubsub,
    chatLog: new ChatLogTailer(db, pubsub, log, config.deliveryPollSeconds * 1000),
    rooms: new RoomHub({ db, pubsub, log, config }),
    presence: createPresenceStore(redis, {
      prefix: config.redisPrefix,
      instanceId,
      timeoutSeconds: config.presenceTimeoutSeconds,
    }),
    rateLimiter: createRateLimiter(redis, config.redisPrefix),
    abuseLimits: createAbuseLimits(config, redis),
    instanceId,
    urlSigningKey,
    caches: createCaches(),
  };
  const registry = new ConnectionRegistry(services);
  services.presence.onChange((userId) => {
    announcePresence(services, userId).catch((error: Error) =>
      log.warn("Presence announcement failed", { userId, error: error.message }),
    );
    notePresence(services, userId).catch((error: Error) =>
      log.warn("Noting presence in rooms failed", { userId, error: error.message }),
    );
  });

  // The bundled GraphiQL (the page works where browsers cannot reach a CDN) is about 33 MB of
  // strings in each process's heap: loaded only where it is served.
  const graphiql = config.graphiql ? await import("@graphql-yoga/render-graphiql") : undefined;
  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // Yoga's cap on any body (25 MB by default) must let the largest upload and its fields through.
    maxRequestBodySize: config.maxUploadBytes + 2 * 1024 * 1024,
    // One operation per request: a JSON array would multiply the per-operation limits below.
    batching: false,
    // Auth is a bearer token, never a cookie, so no origin is ever given credentials.
    cors: { origin: config.corsOrigins ?? "*", credentials: false },
    // GraphiQL sends its Headers tab with SSE requests but not as graphql-ws connectionParams, so
    // subscriptions in the browser use SSE; apps use graphql-ws.
    graphiql: config.graphiql ? { title: "IM server", subscriptionsProtocol: "SSE" } : false,
    ...(graphiql ? { renderGraphiQL: graphiql.renderGraphiQL } : {}),
    logging: {
      debug: (...args) => log.debug(String(args[0])),
      info: (...args) => log.info(String(args[0])),
      warn: (...args) => log.warn(String(args[0])),
      error: (...args) => log.error(String(args[0])),
    },
    maskedErrors: { maskError: (error) => toClientError(error, log) },
    plugins: [
      ...(config.metrics ? [useOperationMetrics()] : []),
      ...queryLimitPlugins(config),
      useRequestErrorCodes(log),
      useSharedEventRendering(),
      useWholeEventsOnly(),
      useSpooledUploads({ dir: spoolDir(config.attachmentsDir), maxFileBytes: config.maxUploadBytes }),
      useAdminCallLimit(),
      useRest({ log, docs: config.restDocs }),
      useRequestCap(config.maxRequestBytes),
      useRequestLog(),
      ...useIntrospectionSwitch(config.introspection),
    ],
    context: async (initial: YogaInitialContext & Partial<ServerContext>): Promise<Context> => {
      const overWebSocket = Boolean(initial.connection || initial.token);
      const token = overWebSocket ? initial.token : parseBearer(initial.request.headers.get("authorization"));
      // A device's connection is closed the moment its session ends (ConnectionRegistry), so its
      // operations need not look the token up again; admin tokens, which expire, are looked up each time.
      const reuse = initial.connection && !initial.connection.ended && initial.viewer;
      const viewer = reuse || (await claimingErrors(initial.requestRecord, resolveViewer(services, token)));
      return createContext(services, viewer, {
        connection: initial.connection,
        operationId: initial.operationId,
        clientAddress: initial.clientAddress,
        requestId: initial.requestRecord?.requestId,
      });
    },
  });

  const metrics = createMetrics(config, { db, log, openSockets: () => wsServer.clients.size });
  let draining = false;
  const trust = trustFunction(config.trustProxy);
  const httpServer = createServer(async (req, res) => {
    const record = startRecord(requestIdOf(req), clientAddressOf(req, trust));
    res.setHeader("x-request-id", record.requestId);
    logHttpRequest(log, req, res, record, "/graphql");
    const path = req.url?.split("?")[0];
    if (path === "/healthz") return sendJson(res, 200, { status: "ok", version: VERSION });
    if (path === "/readyz") {
      const checks = await readiness(services, redis, draining);
      return sendJson(res, checks.ready ? 200 : 503, checks);
    }
    if (path === METRICS_PATH) return metrics.serve(req, res);
    if (path?.startsWith(DOWNLOAD_PATH) && (req.method === "GET" || req.method === "HEAD")) {
      return serveDownload(services, req, res).catch((error: Error) => {
        log.error("Download failed", { error: error.message });
        if (!res.headersSent) sendJson(res, 500, { error: "Internal server error" });
        else res.destroy();
      });
    }
    if (path?.startsWith(EXPORT_PATH) && req.method === "GET") {
      return serveExport(services, new URL(req.url!, "http://localhost"), res).catch((error: Error) => {
        log.error("Export failed", { error: error.message });
        if (!res.headersSent) sendJson(res, 500, { error: "Internal server error" });
        else res.destroy(); // cut short: the client must not take a partial file for the whole
      });
    }
    return yoga.handle(req, res, { clientAddress: record.clientAddress, requestRecord: record });
  });

  // ws closes a connection whose message passes maxPayload with 1009 (message too big).
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: "/graphql",
    maxPayload: config.maxWsMessageBytes,
  });
  wsServer.on("headers", (headers, req) => headers.push(`X-Request-Id: ${requestIdOf(req)}`));
  serveGraphqlWs<SocketState>(
    {
      execute: (args) =>
        (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) =>
        (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        if (draining) return false;
        const params = ctx.connectionParams ?? {};
        const token = parseBearer(String(params.authorization ?? params.Authorization ?? ""));
        const viewer = await resolveViewer(services, token);
        ctx.extra.operations?.identify(viewer);
        if (viewer.kind === "anonymous") return false; // graphql-ws closes with 4403 Forbidden
        ctx.extra.token = token;
        ctx.extra.viewer = viewer;
        if (viewer.kind === "user") {
          const connection = await registry.open(viewer.user.id, viewer.device.id, ctx.extra.socket);
          ctx.extra.connection = connection;
          // A session that ended between the token check and the watch above would go unnoticed.
          const device = await services.prisma.device.findUnique({ where: { id: viewer.device.id } });
          if (!device || device.endedAt) return false;
        }
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const requestRecord = ctx.extra.operations?.start(id, payload.operationName);
        const enveloped = yoga.getEnveloped({
          requestRecord,
          clientAddress: ctx.extra.clientAddress,
          token: ctx.extra.token,
          viewer: ctx.extra.viewer,
          connection: ctx.extra.connection,
          operationId: id,
          params: payload,
        });
        let document: ReturnType<typeof enveloped.parse>;
        try {
          document = enveloped.parse(payload.query);
        } catch (error) {
          return [toClientError(error, log)];
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors.map((error: GraphQLError) => toClientError(error, log));
        if (getOperationAST(document, payload.operationName)?.operation !== "subscription") {
          ctx.extra.connection?.operationStarted(id);
        }
        return {
          schema: enveloped.schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      },
      onNext: (ctx, id, _payload, _args, result) => {
        ctx.extra.operations?.next(id, result);
      },
      onComplete: (ctx, id) => {
        ctx.extra.connection?.operationFinished(id);
        ctx.extra.operations?.finish(id);
      },
      onError: (ctx, id, _payload, errors) => {
        ctx.extra.connection?.operationFinished(id);
        ctx.extra.operations?.finish(id, errors);
      },
      onClose: async (ctx, code) => {
        ctx.extra.operations?.closed(code);
        if (ctx.extra.connection) await registry.closed(ctx.extra.connection);
      },
    },
    wsServer,
    log,
    (req) => {
      const requestId = requestIdOf(req);
      const clientAddress = clientAddressOf(req, trust);
      return { requestId, clientAddress, operations: new SocketRequestLog(log, requestId, clientAddress) };
    },
  );

  let url = "";
  let stopTimers = () => {};
  let pumps: OutboxPump[] = [];
  return {
    services,
    get url() {
      return url;
    },
    async start() {
      await services.chatLog.start();
      sweepAbandonedUploads(spoolDir(config.attachmentsDir), ABANDONED_UPLOAD_MS).then(
        (removed) => removed > 0 && log.info("Removed abandoned uploads", { removed }),
        (error: Error) => log.warn("Sweeping abandoned uploads failed", { error: error.message }),
      );
      await new Promise<void>((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen(config.port, config.host, () => resolve());
      });
      const address = httpServer.address() as AddressInfo;
      const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
      url = `http://${host === "0.0.0.0" ? "localhost" : host}:${address.port}/graphql`;
      log.info("Server listening", {
        url,
        version: VERSION,
        storage: db.mode,
        pubsub: redis ? "redis" : "in-process",
      });
      const timers = [
        scheduleRetention(services),
        scheduleSummaries(services),
        scheduleRoomUpkeep(services),
        scheduleMessageStats(services),
        followModerationRules(services),
        scheduleBroadcasts(services),
      ];
      stopTimers = () => {
        for (const stop of timers) stop();
      };
      pumps = [await startPostSendWebhook(services), await startPush(services)].filter(
        (pump) => pump !== null,
      );
    },
    async stop() {
      if (draining) return;
      draining = true;
      stopTimers();
      metrics.stop();
      await Promise.all(pumps.map((pump) => pump.stop()));
      log.info("Draining");
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      for (const socket of wsServer.clients) socket.close(CloseCode.GoingAway, "Server shutting down");
      httpServer.closeIdleConnections();
      await Promise.race([closed, delay(config.shutdownTimeoutMs)]);
      httpServer.closeAllConnections();
      for (const socket of wsServer.clients) socket.terminate();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      // Sockets closed above run their onClose (presence, lastSeenAt) asynchronously; let them land.
      for (let waited = 0; registry.size > 0 && waited < 2000; waited += 20) await delay(20);
      services.chatLog.stop();
      await services.presence.close();
      await redis?.close();
      await db.close();
      log.info("Stopped");
    },
  };
}

async function readiness(services: Services, redis: RedisClients | undefined, draining: boolean) {
  const probe = async (check: () => Promise<unknown>) => {
    try {
      await Promise.race([check(), delay(2000).then(() => Promise.reject(new Error("timed out")))]);
      return "ok";
    } catch (error) {
      return `failing: ${(error as Error).message}`;
    }
  };
  const database = await probe(() => services.db.ping());
  const redisState = redis ? await probe(() => redis.command.ping()) : "not configured";
  const ready = !draining && database === "ok" && (redisState === "ok" || !redis);
  return { ready, draining, database, redis: redisState };
}
