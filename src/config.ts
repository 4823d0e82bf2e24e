import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseTrustProxy, type TrustProxy } from "./http/client-address.js";

// Every setting the server reads, from the environment, with its default. README.md lists them.

export interface Config {
  port: number;
  host: string;
  /** PGlite data directory in embedded mode; `memory://` keeps everything in memory. */
  dataDir: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  /** Server processes sharing the port; more than one needs PostgreSQL and Redis (services mode). */
  workers: number;
  redisUrl: string | undefined;
  /** Prefixes every Redis key and channel, so several deployments (or test runs) can share a Redis. */
  redisPrefix: string;
  adminClientId: string | undefined;
  adminClientSecret: string | undefined;
  adminTokenTtlSeconds: number;
  maxDevicesPerPlatform: number;
  presenceTimeoutSeconds: number;
  maxQueryDepth: number;
  maxQueryCost: number;
  maxQueryAliases: number;
  maxQueryTokens: number;
  maxQueryDirectives: number;
  loginMaxFailures: number;
  loginFailureWindowSeconds: number;
  /** scrypt's N; lower it only for tests. */
  passwordHashCost: number;
  shutdownTimeoutMs: number;
  /** How long a sender may recall a message. */
  recallWindowSeconds: number;
  /** How long durable events (offline messages among them) stay replayable. */
  offlineRetentionDays: number;
  /** Cap on a message's serialized body and ext. */
  maxMessageBytes: number;
  /** Where uploaded files are kept; several instances must share it. */
  attachmentsDir: string;
  maxUploadBytes: number;
  /** Prefix for download URLs handed to clients, e.g. https://chat.example.com; relative without it. */
  publicUrl: string | undefined;
  /** A LibreTranslate-compatible endpoint for translateMessage; without it translation is off. */
  translateUrl: string | undefined;
  translateApiKey: string | undefined;
  /** Contacts per user. */
  maxContacts: number;
  /** Direct messages only between contacts. */
  requireContactForDirect: boolean;
  /** How often an instance looks for events whose wake-up was lost. */
  deliveryPollSeconds: number;
  /** The most members a group may be configured for (maxMembers). */
  groupMaxMembers: number;
  /** Groups up to this size may ask for read receipts (readCount, readBy). */
  groupReadReceiptMaxMembers: number;
  /** Group members hear of a thread's new messages at most once per this many seconds. */
  threadSummarySeconds: number;
  /** searchMessages first reads this many of the newest message ids in order, then the index. */
  searchRecentWindow: number;
  rooms: RoomConfig;
  callbacks: CallbackConfig;
  broadcast: BroadcastConfig;
  push: PushConfig;
  limits: LimitConfig;
  /** open: anyone may register; closed: accounts come from the admin API only. */
  registration: "open" | "closed";
  /** Origins browsers may call from; undefined: any origin (without credentials: auth is a bearer token). */
  corsOrigins: string[] | undefined;
  /** Which proxies' X-Forwarded-For gives the client's address (src/http/client-address.ts). */
  trustProxy: TrustProxy;
  /** Cap on a GraphQL request's JSON body or GET query; uploads have maxUploadBytes. */
  maxRequestBytes: number;
  /** Cap on one graphql-ws message. */
  maxWsMessageBytes: number;
  /** Off by default in production (NODE_ENV=production), like introspection. */
  graphiql: boolean;
  /** GET /metrics (Prometheus), and the recording behind it. */
  metrics: boolean;
  /** When set, /metrics wants `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** The REST API's Swagger UI page at /v1/docs. */
  restDocs: boolean;
  introspection: boolean;
  logLevel: "debug" | "info" | "warn" | "error" | "silent";
}

/** Chat rooms (README.md, "Chat rooms"). */
export interface RoomConfig {
  /** Any user may create rooms; otherwise only the app server. */
  createByUsers: boolean;
  /** The most members a room may be configured for, and the default. */
  maxMembers: number;
  /** Rooms a user may be in at once. */
  maxJoined: number;
  /** Messages kept per room for `messages`. */
  historyLimit: number;
  /** Recent messages a joiner's devices get on their streams. */
  joinHistory: number;
  /** A member whose devices have all been gone this long is removed (the allow list stays). */
  leaveGraceSeconds: number;
  /** A room empty this long is destroyed; 0 keeps empty rooms. */
  idleDestroySeconds: number;
  /** Delivery budget per room: past it LOW messages are dropped, then NORMAL. */
  maxMessagesPerSecond: number;
  /** A connection whose socket stays behind on room traffic this long is closed (to resume). */
  slowConsumerSeconds: number;
}

/** Calls to the app server (README.md, "Callbacks to the app server"). */
export interface CallbackConfig {
  /** Signs every call (HMAC-SHA256); required when either webhook is set. */
  secret: string | undefined;
  preSendUrl: string | undefined;
  preSendTimeoutMs: number;
  /** What a send does when the pre-send webhook times out or fails: go through, or be rejected. */
  preSendFailure: "open" | "closed";
  postSendUrl: string | undefined;
  postSendTimeoutMs: number;
  /** How long an undelivered post-send call is retried before it is dropped. */
  postSendRetryHours: number;
}

/** adminBroadcast (README.md, "Broadcasts"). */
export interface BroadcastConfig {
  /** The username broadcasts come from; made on first use, with no password, unless it exists. */
  sender: string;
  /** Users a broadcast reaches per second, across all instances. */
  usersPerSecond: number;
}

/** Offline push (README.md, "Offline push"); a provider is on when its settings are. */
export interface PushConfig {
  /** Groups with more members push mentions only. */
  largeGroupMembers: number;
  /** How long a push that keeps failing is retried before it is dropped. */
  retryHours: number;
  timeoutMs: number;
  vapid: { publicKey: string; privateKey: string; subject: string } | undefined;
  /** A Google service-account JSON file (project_id, client_email, private_key, token_uri). */
  fcmServiceAccountFile: string | undefined;
  fcmUrl: string;
  apns: { keyFile: string; keyId: string; teamId: string; topic: string; url: string } | undefined;
  webhookUrl: string | undefined;
}

/** Abuse limits (README.md, "Abuse limits"); past one a call fails with RATE_LIMITED. */
export interface LimitConfig {
  /** RATE_LIMITS=off lifts every limit below. */
  enabled: boolean;
  /** Messages per user and second, to each kind of chat (a budget per kind). */
  sends: Record<"DIRECT" | "GROUP" | "THREAD" | "ROOM", BurstRate>;
  uploadsPerMinute: number;
  searchesPerMinute: number;
  /** sendTyping calls per user and 10 seconds. */
  typingPer10Seconds: number;
  /** Per client address. */
  registrationsPerHour: number;
  /** Per client address, successful or not. */
  loginsPerMinute: number;
  /** Operations per admin token. */
  admin: BurstRate;
}

/** So many a second, and up to `burst` in one second while the burst reserve lasts. */
export interface BurstRate {
  perSecond: number;
  burst: number;
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** scrypt's N must be a power of two. */
function powerOfTwo(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = integer(env, name, fallback, min, max);
  if ((value & (value - 1)) !== 0) throw new ConfigError(`${name} must be a power of two, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

function text(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === "" ? undefined : raw;
}

/** A username as register takes it (lower-cased). */
function username(env: Env, name: string, fallback: string): string {
  const value = (text(env, name) ?? fallback).toLowerCase();
  if (!/^[a-z0-9_.-]{1,64}$/.test(value)) {
    throw new ConfigError(`${name} must be a username (1-64 of a-z 0-9 _ - .), got "${env[name]}"`);
  }
  return value;
}

/** Beside the embedded database; a memory:// database gets a throwaway directory. */
function defaultAttachmentsDir(dataDir: string): string {
  return dataDir.startsWith("memory://")
    ? join(tmpdir(), `im-attachments-${process.pid}`)
    : join(dataDir, "attachments");
}

function url(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !/^https?:\/\/[^/]/.test(raw)) {
    throw new ConfigError(`${name} must be an http:// or https:// URL, got "${raw}"`);
  }
  return raw;
}

/** A bearer token: long enough not to be guessed, and only characters a header carries as they are. */
function secretToken(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !/^[\x21-\x7e]{16,}$/.test(raw)) {
    throw new ConfigError(`${name} must be at least 16 printable characters without spaces`);
  }
  return raw;
}

/** A comma-separated allow-list of origins (scheme://host[:port]); `*` or unset: any origin. */
function origins(env: Env, name: string): string[] | undefined {
  const raw = text(env, name);
  if (raw === undefined || raw.trim() === "*") return undefined;
  const list = raw
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of list) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(
        `${name} takes origins such as https://app.example.com, comma-separated; got "${origin}"`,
      );
    }
  }
  return list;
}

function callbackConfig(env: Env): CallbackConfig {
  const preSendUrl = url(env, "PRE_SEND_WEBHOOK_URL");
  const postSendUrl = url(env, "POST_SEND_WEBHOOK_URL");
  const secret = text(env, "WEBHOOK_SECRET");
  if ((preSendUrl || postSendUrl) && (secret === undefined || secret.length < 16)) {
    throw new ConfigError(
      "PRE_SEND_WEBHOOK_URL and POST_SEND_WEBHOOK_URL need WEBHOOK_SECRET (at least 16 characters) to sign their calls",
    );
  }
  return {
    secret,
    preSendUrl,
    preSendTimeoutMs: integer(env, "PRE_SEND_WEBHOOK_TIMEOUT_MS", 200, 10, 60_000),
    preSendFailure: oneOf(env, "PRE_SEND_WEBHOOK_FAILURE", "open", ["open", "closed"] as const),
    postSendUrl,
    postSendTimeoutMs: integer(env, "POST_SEND_WEBHOOK_TIMEOUT_MS", 5000, 100, 120_000),
    postSendRetryHours: integer(env, "POST_SEND_WEBHOOK_RETRY_HOURS", 72, 1, 720),
  };
}

function together(env: Env, names: readonly string[]): string[] | undefined {
  const values = names.map((name) => text(env, name));
  if (values.every((value) => value === undefined)) return undefined;
  if (values.some((value) => value === undefined))
    throw new ConfigError(`${names.join(", ")} must be set together`);
  return values as string[];
}

function pushConfig(env: Env, secret: string | undefined): PushConfig {
  const vapid = together(env, ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"]);
  const apns = together(env, ["APNS_KEY_FILE", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC"]);
  const webhookUrl = url(env, "PUSH_WEBHOOK_URL");
  if (webhookUrl && (secret === undefined || secret.length < 16)) {
    throw new ConfigError("PUSH_WEBHOOK_URL needs WEBHOOK_SECRET (at least 16 characters) to sign its calls");
  }
  return {
    largeGroupMembers: integer(env, "PUSH_LARGE_GROUP_MEMBERS", 500, 2, 1_000_000),
    retryHours: integer(env, "PUSH_RETRY_HOURS", 24, 1, 720),
    timeoutMs: integer(env, "PUSH_TIMEOUT_MS", 10_000, 100, 120_000),
    vapid: vapid && { publicKey: vapid[0]!, privateKey: vapid[1]!, subject: vapid[2]! },
    fcmServiceAccountFile: text(env, "FCM_SERVICE_ACCOUNT_FILE"),
    fcmUrl: (url(env, "FCM_URL") ?? "https://fcm.googleapis.com").replace(/\/+$/, ""),
    apns: apns && {
      keyFile: apns[0]!,
      keyId: apns[1]!,
      teamId: apns[2]!,
      topic: apns[3]!,
      url: (url(env, "APNS_URL") ?? "https://api.push.apple.com").replace(/\/+$/, ""),
    },
    webhookUrl,
  };
}

function burstRate(env: Env, name: string, fallback: BurstRate): BurstRate {
  const perSecond = integer(env, `${name}_PER_SECOND`, fallback.perSecond, 1, 1_000_000);
  const burst = integer(env, `${name}_BURST`, Math.max(fallback.burst, perSecond), 1, 1_000_000);
  if (burst < perSecond) {
    throw new ConfigError(`${name}_BURST (${burst}) must be at least ${name}_PER_SECOND (${perSecond})`);
  }
  return { perSecond, burst };
}

function limitConfig(env: Env): LimitConfig {
  const sends = burstRate(env, "RATE_LIMIT_SENDS", { perSecond: 20, burst: 50 });
  const perKind = (kind: string) => burstRate(env, `RATE_LIMIT_${kind}_SENDS`, sends);
  return {
    enabled: oneOf(env, "RATE_LIMITS", "on", ["on", "off"] as const) === "on",
    sends: {
      DIRECT: perKind("DIRECT"),
      GROUP: perKind("GROUP"),
      THREAD: perKind("THREAD"),
      ROOM: perKind("ROOM"),
    },
    uploadsPerMinute: integer(env, "RATE_LIMIT_UPLOADS_PER_MINUTE", 30, 1, 1_000_000),
    searchesPerMinute: integer(env, "RATE_LIMIT_SEARCHES_PER_MINUTE", 30, 1, 1_000_000),
    typingPer10Seconds: integer(env, "TYPING_RATE_LIMIT", 10, 1, 1_000_000),
    registrationsPerHour: integer(env, "RATE_LIMIT_REGISTRATIONS_PER_HOUR", 20, 1, 1_000_000),
    loginsPerMinute: integer(env, "RATE_LIMIT_LOGINS_PER_MINUTE", 30, 1, 1_000_000),
    admin: burstRate(env, "RATE_LIMIT_ADMIN", { perSecond: 100, burst: 300 }),
  };
}

/**
 * A byte cap on what a client sends: it must hold the largest legitimate request, a message with a
 * full body and ext (MAX_MESSAGE_BYTES each) and its JSON around them.
 */
function requestCap(env: Env, name: string, maxMessageBytes: number): number {
  const least = 2 * maxMessageBytes + 16 * 1024;
  const value = integer(env, name, Math.max(1024 * 1024, 4 * maxMessageBytes), 1024, 1024 * 1024 * 1024);
  if (value < least) {
    throw new ConfigError(
      `${name} must be at least ${least} (twice MAX_MESSAGE_BYTES and 16 KiB), got ${value}`,
    );
  }
  return value;
}

function trustProxy(env: Env, name: string): TrustProxy {
  try {
    return parseTrustProxy(text(env, name));
  } catch (error) {
    throw new ConfigError(
      `${name} takes true, false, a hop count or comma-separated proxy addresses and CIDRs; ${(error as Error).message}`,
    );
  }
}

export function loadConfig(env: Env = process.env): Config {
  const adminClientId = text(env, "ADMIN_CLIENT_ID");
  const adminClientSecret = text(env, "ADMIN_CLIENT_SECRET");
  if ((adminClientId === undefined) !== (adminClientSecret === undefined)) {
    throw new ConfigError("ADMIN_CLIENT_ID and ADMIN_CLIENT_SECRET must be set together");
  }
  if (adminClientSecret !== undefined && adminClientSecret.length < 16) {
    throw new ConfigError("ADMIN_CLIENT_SECRET must be at least 16 characters");
  }
  const servicesMode = text(env, "DATABASE_URL") !== undefined && text(env, "REDIS_URL") !== undefined;
  const workers = integer(env, "WORKERS", servicesMode ? availableParallelism() : 1, 1, 256);
  if (workers > 1 && !servicesMode) {
    throw new ConfigError(
      "WORKERS above 1 needs DATABASE_URL and REDIS_URL: embedded storage has one writer",
    );
  }
  const maxMessageBytes = integer(env, "MAX_MESSAGE_BYTES", 16_384, 1024, 1_048_576);
  // `npm start` sets it: GraphiQL and introspection are for development unless asked for.
  const production = env.NODE_ENV === "production";
  return {
    port: integer(env, "PORT", 4000, 0, 65535),
    host: text(env, "HOST") ?? "0.0.0.0",
    dataDir: text(env, "DATA_DIR") ?? "./data",
    databaseUrl: text(env, "DATABASE_URL"),
    databasePoolSize: integer(env, "DATABASE_POOL_SIZE", 10, 1, 500),
    workers,
    redisUrl: text(env, "REDIS_URL"),
    redisPrefix: text(env, "REDIS_PREFIX") ?? "im:",
    adminClientId,
    adminClientSecret,
    adminTokenTtlSeconds: integer(env, "ADMIN_TOKEN_TTL_SECONDS", 86_400, 60, 31_536_000),
    maxDevicesPerPlatform: integer(env, "MAX_DEVICES_PER_PLATFORM", 4, 1, 100),
    presenceTimeoutSeconds: integer(env, "PRESENCE_TIMEOUT_SECONDS", 60, 3, 3600),
    maxQueryDepth: integer(env, "MAX_QUERY_DEPTH", 12, 2, 100),
    maxQueryCost: integer(env, "MAX_QUERY_COST", 50_000, 100, 10_000_000),
    maxQueryAliases: integer(env, "MAX_QUERY_ALIASES", 500, 1, 100_000),
    maxQueryTokens: integer(env, "MAX_QUERY_TOKENS", 10_000, 100, 10_000_000),
    maxQueryDirectives: integer(env, "MAX_QUERY_DIRECTIVES", 50, 1, 10_000),
    loginMaxFailures: integer(env, "LOGIN_MAX_FAILURES", 10, 1, 10_000),
    loginFailureWindowSeconds: integer(env, "LOGIN_FAILURE_WINDOW_SECONDS", 300, 1, 86_400),
    passwordHashCost: powerOfTwo(env, "PASSWORD_HASH_COST", 16_384, 2, 1_048_576),
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    recallWindowSeconds: integer(env, "RECALL_WINDOW_SECONDS", 120, 0, 31_536_000),
    offlineRetentionDays: integer(env, "OFFLINE_RETENTION_DAYS", 7, 1, 3650),
    maxMessageBytes,
    attachmentsDir: text(env, "ATTACHMENTS_DIR") ?? defaultAttachmentsDir(text(env, "DATA_DIR") ?? "./data"),
    maxUploadBytes: integer(env, "MAX_UPLOAD_BYTES", 20 * 1024 * 1024, 1, 2 * 1024 * 1024 * 1024),
    publicUrl: text(env, "PUBLIC_URL")?.replace(/\/+$/, ""),
    translateUrl: text(env, "TRANSLATE_URL"),
    translateApiKey: text(env, "TRANSLATE_API_KEY"),
    maxContacts: integer(env, "MAX_CONTACTS", 3000, 1, 100_000),
    requireContactForDirect: boolean(env, "REQUIRE_CONTACT_FOR_DIRECT", false),
    deliveryPollSeconds: integer(env, "DELIVERY_POLL_SECONDS", 30, 1, 3600),
    groupMaxMembers: integer(env, "GROUP_MAX_MEMBERS", 3000, 2, 100_000),
    groupReadReceiptMaxMembers: integer(env, "GROUP_READ_RECEIPT_MAX_MEMBERS", 500, 2, 100_000),
    threadSummarySeconds: integer(env, "THREAD_SUMMARY_SECONDS", 5, 1, 3600),
    searchRecentWindow: integer(env, "SEARCH_RECENT_WINDOW", 50_000, 0, 10_000_000),
    rooms: {
      createByUsers: boolean(env, "ROOM_CREATE_BY_USERS", false),
      maxMembers: integer(env, "ROOM_MAX_MEMBERS", 10_000, 2, 1_000_000),
      maxJoined: integer(env, "ROOM_MAX_JOINED", 100, 1, 10_000),
      historyLimit: integer(env, "ROOM_HISTORY_LIMIT", 100, 1, 10_000),
      joinHistory: integer(env, "ROOM_JOIN_HISTORY", 10, 0, 200),
      leaveGraceSeconds: integer(env, "ROOM_LEAVE_GRACE_SECONDS", 120, 1, 86_400),
      idleDestroySeconds: integer(env, "ROOM_IDLE_DESTROY_SECONDS", 0, 0, 31_536_000),
      maxMessagesPerSecond: integer(env, "ROOM_MAX_MESSAGES_PER_SECOND", 100, 1, 100_000),
      slowConsumerSeconds: integer(env, "ROOM_SLOW_CONSUMER_SECONDS", 10, 1, 3600),
    },
    callbacks: callbackConfig(env),
    broadcast: {
      sender: username(env, "BROADCAST_SENDER", "system"),
      usersPerSecond: integer(env, "BROADCAST_USERS_PER_SECOND", 500, 1, 100_000),
    },
    push: pushConfig(env, text(env, "WEBHOOK_SECRET")),
    limits: limitConfig(env),
    registration: oneOf(env, "REGISTRATION", "open", ["open", "closed"] as const),
    corsOrigins: origins(env, "CORS_ORIGINS"),
    trustProxy: trustProxy(env, "TRUST_PROXY"),
    maxRequestBytes: requestCap(env, "MAX_REQUEST_BYTES", maxMessageBytes),
    maxWsMessageBytes: requestCap(env, "MAX_WS_MESSAGE_BYTES", maxMessageBytes),
    graphiql: boolean(env, "GRAPHIQL", !production),
    introspection: boolean(env, "INTROSPECTION", !production),
    metrics: boolean(env, "METRICS", true),
    metricsToken: secretToken(env, "METRICS_TOKEN"),
    restDocs: boolean(env, "REST_DOCS", true),
    logLevel: oneOf(env, "LOG_LEVEL", "info", ["debug", "info", "warn", "error", "silent"] as const),
  };
}
