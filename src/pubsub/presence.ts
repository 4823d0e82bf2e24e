import type { RedisClients } from "./redis.js";

/**
 * Which devices hold an open connection right now. A device is online while any of its connections
 * is; a user while any device is. With Redis every instance sees every connection; each entry
 * expires unless its instance keeps renewing it, so the devices of an instance that died without
 * closing its sockets go offline within the timeout.
 */
export interface PresenceStore {
  connected(userId: string, deviceId: string, connectionId: string): Promise<void>;
  disconnected(userId: string, deviceId: string, connectionId: string): Promise<void>;
  /** userId → ids of its online devices (users with none are absent). */
  onlineDevices(userIds: readonly string[]): Promise<Map<string, Set<string>>>;
  close(): Promise<void>;
}

export function createPresenceStore(
  redis: RedisClients | undefined,
  options: { prefix: string; instanceId: string; timeoutSeconds: number },
): PresenceStore {
  return redis ? new RedisPresenceStore(redis, options) : new LocalPresenceStore();
}

class LocalPresenceStore implements PresenceStore {
  private readonly connections = new Map<string, Map<string, string>>(); // userId → connectionId → deviceId

  async connected(userId: string, deviceId: string, connectionId: string) {
    const ofUser = this.connections.get(userId) ?? new Map<string, string>();
    ofUser.set(connectionId, deviceId);
    this.connections.set(userId, ofUser);
  }

  async disconnected(userId: string, _deviceId: string, connectionId: string) {
    const ofUser = this.connections.get(userId);
    ofUser?.delete(connectionId);
    if (ofUser?.size === 0) this.connections.delete(userId);
  }

  async onlineDevices(userIds: readonly string[]) {
    const online = new Map<string, Set<string>>();
    for (const userId of userIds) {
      const ofUser = this.connections.get(userId);
      if (ofUser) online.set(userId, new Set(ofUser.values()));
    }
    return online;
  }

  async close() {
    this.connections.clear();
  }
}

/** One sorted set per user: member `<deviceId>/<instanceId>/<connectionId>`, score = expiry (ms). */
class RedisPresenceStore implements PresenceStore {
  private readonly local = new Map<string, { userId: string; member: string }>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClients,
    private readonly options: { prefix: string; instanceId: string; timeoutSeconds: number },
  ) {
    // Renew well before expiry so one late beat does not flap anyone offline.
    this.heartbeat = setInterval(
      () => void this.renewAll().catch(() => {}),
      (options.timeoutSeconds * 1000) / 3,
    );
    this.heartbeat.unref();
  }

  private key(userId: string) {
    return `${this.options.prefix}presence:${userId}`;
  }

  private expiry() {
    return Date.now() + this.options.timeoutSeconds * 1000;
  }

  async connected(userId: string, deviceId: string, connectionId: string) {
    const member = `${deviceId}/${this.options.instanceId}/${connectionId}`;
    this.local.set(connectionId, { userId, member });
    await this.redis.command
      .multi()
      .zadd(this.key(userId), this.expiry(), member)
      .expire(this.key(userId), this.options.timeoutSeconds * 2)
      .exec();
  }

  async disconnected(userId: string, deviceId: string, connectionId: string) {
    this.local.delete(connectionId);
    await this.redis.command.zrem(this.key(userId), `${deviceId}/${this.options.instanceId}/${connectionId}`);
  }

  async onlineDevices(userIds: readonly string[]) {
    const now = Date.now();
    const pipeline = this.redis.command.pipeline();
    for (const userId of userIds) pipeline.zrangebyscore(this.key(userId), now, "+inf");
    const replies = (await pipeline.exec()) ?? [];
    const online = new Map<string, Set<string>>();
    replies.forEach(([error, members], index) => {
      if (error) throw error;
      const devices = new Set((members as string[]).map((member) => member.slice(0, member.indexOf("/"))));
      if (devices.size > 0) online.set(userIds[index]!, devices);
    });
    return online;
  }

  private async renewAll() {
    if (this.local.size === 0) return;
    const pipeline = this.redis.command.pipeline();
    const expiry = this.expiry();
    const users = new Set<string>();
    for (const { userId, member } of this.local.values()) {
      pipeline.zadd(this.key(userId), expiry, member);
      users.add(userId);
    }
    for (const userId of users) {
      pipeline.expire(this.key(userId), this.options.timeoutSeconds * 2);
      pipeline.zremrangebyscore(this.key(userId), "-inf", Date.now());
    }
    await pipeline.exec();
  }

  async close() {
    clearInterval(this.heartbeat);
    const pipeline = this.redis.command.pipeline();
    for (const { userId, member } of this.local.values()) pipeline.zrem(this.key(userId), member);
    this.local.clear();
    await pipeline.exec().catch(() => {});
  }
}
