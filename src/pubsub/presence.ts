import type { RedisClients } from "./redis.js";

/**
 * Which devices hold an open connection right now. A device is online while any of its connections
 * is; a user while any device is. The store tells its listener whenever a user comes online or goes
 * offline, exactly once per change however many instances see the connections come and go.
 */
export interface PresenceStore {
  connected(userId: string, deviceId: string, connectionId: string): Promise<void>;
  disconnected(userId: string, deviceId: string, connectionId: string): Promise<void>;
  /** userId → ids of its online devices (users with none are absent). */
  onlineDevices(userIds: readonly string[]): Promise<Map<string, Set<string>>>;
  /** Called after each change of a user's online state, with the user's id. */
  onChange(listener: (userId: string) => void): void;
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
  private listener: (userId: string) => void = () => {};

  async connected(userId: string, deviceId: string, connectionId: string) {
    const ofUser = this.connections.get(userId) ?? new Map<string, string>();
    ofUser.set(connectionId, deviceId);
    this.connections.set(userId, ofUser);
    if (ofUser.size === 1) this.listener(userId);
  }

  async disconnected(userId: string, _deviceId: string, connectionId: string) {
    const ofUser = this.connections.get(userId);
    if (!ofUser?.delete(connectionId) || ofUser.size > 0) return;
    this.connections.delete(userId);
    this.listener(userId);
  }

  async onlineDevices(userIds: readonly string[]) {
    const online = new Map<string, Set<string>>();
    for (const userId of userIds) {
      const ofUser = this.connections.get(userId);
      if (ofUser) online.set(userId, new Set(ofUser.values()));
    }
    return online;
  }

  onChange(listener: (userId: string) => void) {
    this.listener = listener;
  }

  async close() {
    this.connections.clear();
  }
}

// Redis layout (all keys under the deployment's prefix):
//   presence:user:<userId>          set of "<deviceId>/<instanceId>/<connectionId>"
//   presence:instance:<instanceId>  set of "<userId>/<deviceId>/<connectionId>", that instance's connections
//   presence:instances              sorted set: instanceId → when its heartbeat runs out (ms)
//   presence:announced              hash: userId → 1 while the user was last announced online
// An instance renews one score per beat, however many connections it holds. An instance whose
// heartbeat ran out (killed, frozen, cut off) is reaped by whichever instance sweeps first: its
// connections are removed and users left without any go offline. The `announced` hash, changed only
// inside the scripts below, is what makes each change reported once.

/** KEYS: user set, instance set, announced hash. ARGV: user member, instance member, userId. → 1 if the user came online. */
const CONNECT = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return redis.call('HSETNX', KEYS[3], ARGV[3], '1')`;

/** Same keys and arguments as CONNECT. → 1 if the user went offline. */
const DISCONNECT = `
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('SCARD', KEYS[1]) > 0 then return 0 end
return redis.call('HDEL', KEYS[3], ARGV[3])`;

/**
 * KEYS: instances zset, the dead instance's set, announced hash. ARGV: instanceId, key prefix for
 * user sets, batch size. Removes a batch of the instance's connections. → [done (0/1), ...userIds
 * that went offline].
 */
const REAP = `
local members = redis.call('SPOP', KEYS[2], tonumber(ARGV[3]))
local offline = {}
for _, member in ipairs(members) do
  local userId, deviceId, connectionId = string.match(member, '^([^/]+)/([^/]+)/(.+)$')
  local userKey = ARGV[2] .. userId
  redis.call('SREM', userKey, deviceId .. '/' .. ARGV[1] .. '/' .. connectionId)
  if redis.call('SCARD', userKey) == 0 and redis.call('HDEL', KEYS[3], userId) == 1 then
    table.insert(offline, userId)
  end
end
local done = 0
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  done = 1
end
table.insert(offline, 1, done)
return offline`;

const REAP_BATCH = 500;

class RedisPresenceStore implements PresenceStore {
  /** connectionId → the connection, for re-registering after this instance was reaped. */
  private readonly local = new Map<string, { userId: string; deviceId: string }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private listener: (userId: string) => void = () => {};
  /** The first beat: until it lands, this instance's connections would not count as alive. */
  private readonly ready: Promise<void>;
  private readonly keys: { instances: string; announced: string; userPrefix: string; instancePrefix: string };

  constructor(
    private readonly redis: RedisClients,
    private readonly options: { prefix: string; instanceId: string; timeoutSeconds: number },
  ) {
    const base = `${options.prefix}presence:`;
    this.keys = {
      instances: `${base}instances`,
      announced: `${base}announced`,
      userPrefix: `${base}user:`,
      instancePrefix: `${base}instance:`,
    };
    // A beat every quarter of the timeout, an instance dead after three quarters without one, and a
    // sweep every eighth: a killed instance's users are announced offline within the timeout.
    const timeoutMs = options.timeoutSeconds * 1000;
    const every = (ms: number, task: () => Promise<void>) => {
      const timer = setInterval(() => void task().catch(() => {}), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(timeoutMs / 4, () => this.beat());
    every(Math.max(250, timeoutMs / 8), () => this.sweep());
    this.ready = this.beat().catch(() => {});
  }

  private members(userId: string, deviceId: string, connectionId: string) {
    const { instanceId } = this.options;
    return {
      keys: [this.keys.userPrefix + userId, this.keys.instancePrefix + instanceId, this.keys.announced],
      args: [`${deviceId}/${instanceId}/${connectionId}`, `${userId}/${deviceId}/${connectionId}`, userId],
    };
  }

  async connected(userId: string, deviceId: string, connectionId: string) {
    this.local.set(connectionId, { userId, deviceId });
    await this.ready;
    await this.register(userId, deviceId, connectionId);
  }

  private async register(userId: string, deviceId: string, connectionId: string) {
    const { keys, args } = this.members(userId, deviceId, connectionId);
    const cameOnline = await this.redis.command.eval(CONNECT, keys.length, ...keys, ...args);
    if (cameOnline === 1) this.listener(userId);
  }

  async disconnected(userId: string, deviceId: string, connectionId: string) {
    this.local.delete(connectionId);
    const { keys, args } = this.members(userId, deviceId, connectionId);
    const wentOffline = await this.redis.command.eval(DISCONNECT, keys.length, ...keys, ...args);
    if (wentOffline === 1) this.listener(userId);
  }

  async onlineDevices(userIds: readonly string[]) {
    const pipeline = this.redis.command.pipeline();
    // Connections of an instance whose heartbeat ran out do not count, reaped yet or not.
    pipeline.zrangebyscore(this.keys.instances, Date.now(), "+inf");
    for (const userId of userIds) pipeline.smembers(this.keys.userPrefix + userId);
    const [first, ...replies] = (await pipeline.exec()) ?? [];
    const [instancesError, instances] = first ?? [new Error("Redis returned no reply"), []];
    if (instancesError) throw instancesError;
    const alive = new Set(instances as string[]);
    const online = new Map<string, Set<string>>();
    for (const [index, [error, members]] of replies.entries()) {
      if (error) throw error;
      const devices = new Set<string>();
      for (const member of members as string[]) {
        const [deviceId, instanceId] = member.split("/");
        if (alive.has(instanceId!)) devices.add(deviceId!);
      }
      if (devices.size > 0) online.set(userIds[index]!, devices);
    }
    return online;
  }

  onChange(listener: (userId: string) => void) {
    this.listener = listener;
  }

  /** Renews this instance; if it had been given up for dead meanwhile, registers its connections again. */
  private async beat() {
    const expiry = Date.now() + (this.options.timeoutSeconds * 1000 * 3) / 4;
    const added = await this.redis.command.zadd(this.keys.instances, expiry, this.options.instanceId);
    if (added === 1) {
      for (const [connectionId, { userId, deviceId }] of this.local) {
        await this.register(userId, deviceId, connectionId);
      }
    }
  }

  private async sweep() {
    const dead = await this.redis.command.zrangebyscore(
      this.keys.instances,
      "-inf",
      Date.now(),
      "LIMIT",
      0,
      10,
    );
    for (const instanceId of dead) {
      if (instanceId === this.options.instanceId) continue; // late, not dead: the next beat renews it
      for (let done = false; !done; ) {
        const [finished, ...offline] = (await this.redis.command.eval(
          REAP,
          3,
          this.keys.instances,
          this.keys.instancePrefix + instanceId,
          this.keys.announced,
          instanceId,
          this.keys.userPrefix,
          REAP_BATCH,
        )) as [number, ...string[]];
        done = finished === 1;
        for (const userId of offline) this.listener(userId);
      }
    }
  }

  async close() {
    for (const timer of this.timers) clearInterval(timer);
    for (const [connectionId, { userId, deviceId }] of [...this.local]) {
      await this.disconnected(userId, deviceId, connectionId).catch(() => {});
    }
    await this.redis.command
      .multi()
      .zrem(this.keys.instances, this.options.instanceId)
      .del(this.keys.instancePrefix + this.options.instanceId)
      .exec()
      .catch(() => {});
  }
}
