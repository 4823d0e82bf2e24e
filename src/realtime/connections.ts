import { randomUUID } from "node:crypto";
import type { WebSocket } from "ws";
import type { Services } from "../context.js";
import type { SessionEndKind } from "../pubsub/topics.js";
import { sendPaced } from "./corked.js";

/** graphql-ws close codes this server uses besides the library's own. */
export const CloseCode = {
  /** The token was bad, or the session behind it ended: sign in again. */
  Forbidden: 4403,
  GoingAway: 1001,
  /** The client fell behind on live traffic: reconnect and resume from the last cursor (retried by graphql-ws clients). */
  TryAgainLater: 1013,
} as const;

// How long an ended session's streams get to flush their SessionEvent before the socket closes anyway.
const SESSION_END_FLUSH_MS = 1000;

/** One open graphql-ws connection of a signed-in device. */
export class LiveConnection {
  readonly id = randomUUID();
  readonly sessionEnded: Promise<SessionEndKind>;
  private endSession!: (kind: SessionEndKind) => void;
  /** Work whose output must reach the client before the socket closes: streams, operations in flight. */
  private readonly pending = new Set<Promise<void>>();
  private readonly operations = new Map<string, () => void>();
  private closing = false;

  constructor(
    readonly userId: string,
    readonly deviceId: string,
    private readonly socket: WebSocket,
  ) {
    this.sessionEnded = new Promise((resolve) => {
      this.endSession = resolve;
    });
  }

  /** Bytes the socket has queued and not yet sent: a client that does not read lets it grow. */
  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  /**
   * A graphql-ws `next` message for operation `id` whose payload is already JSON: live traffic
   * rendered once for many connections is framed here without parsing or serializing it again.
   * Resolves once written when the socket is backed up, for a sender that should wait (sendPaced).
   */
  sendNext(id: string, payloadJson: string): Promise<void> | undefined {
    if (this.closing || this.socket.readyState !== this.socket.OPEN) return undefined;
    return sendPaced(this.socket, `{"id":${JSON.stringify(id)},"type":"next","payload":${payloadJson}}`);
  }

  /** Whether the session ended or the socket is closing. */
  get ended(): boolean {
    return this.closing;
  }

  /** An `events` stream on this connection; call the returned function once it has delivered its last event. */
  trackStream(): () => void {
    let finished!: () => void;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    this.pending.add(done);
    return () => {
      this.pending.delete(done);
      finished();
    };
  }

  /** A query or mutation on this connection, until its result is sent (a logout's own answer, say). */
  operationStarted(id: string) {
    this.operations.set(id, this.trackStream());
  }

  operationFinished(id: string) {
    this.operations.get(id)?.();
    this.operations.delete(id);
  }

  /** Tells the open `events` streams, gives them a moment to deliver, then closes the socket. */
  async end(kind: SessionEndKind): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.endSession(kind);
    await Promise.race([Promise.all(this.pending), delay(SESSION_END_FLUSH_MS)]);
    this.close(CloseCode.Forbidden, `Session ended: ${kind}`);
  }

  close(code: number, reason: string) {
    this.closing = true;
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }
}

/**
 * The connections this instance holds, and the one pubsub subscription per device through which any
 * instance can end that device's session.
 */
export class ConnectionRegistry {
  private readonly byDevice = new Map<string, DeviceEntry>();
  /** Close handlers still writing (lastSeenAt, presence): a draining server waits for them. */
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly services: Services) {}

  async open(userId: string, deviceId: string, socket: WebSocket): Promise<LiveConnection> {
    const connection = new LiveConnection(userId, deviceId, socket);
    let entry = this.byDevice.get(deviceId);
    if (!entry) {
      entry = this.watchDevice(deviceId);
      this.byDevice.set(deviceId, entry);
    }
    entry.connections.add(connection);
    await Promise.all([entry.watching, this.services.presence.connected(userId, deviceId, connection.id)]);
    return connection;
  }

  async closed(connection: LiveConnection): Promise<void> {
    const entry = this.byDevice.get(connection.deviceId);
    entry?.connections.delete(connection);
    if (entry?.connections.size === 0) {
      entry.stop();
      this.byDevice.delete(connection.deviceId);
    }
    const work = this.recordClose(connection);
    this.closing.add(work);
    await work.finally(() => this.closing.delete(work));
  }

  private async recordClose(connection: LiveConnection): Promise<void> {
    // lastSeenAt first, so the presence announcement that may follow shows it.
    await this.services.prisma.device
      .update({ where: { id: connection.deviceId }, data: { lastSeenAt: new Date() } })
      .catch(() => {}); // the device may be gone with its deleted user
    try {
      await this.services.presence.disconnected(connection.userId, connection.deviceId, connection.id);
    } catch (error) {
      // Presence expires by itself on every instance (PRESENCE_TIMEOUT_SECONDS): a lost update only delays it.
      this.services.log.warn("Recording a disconnect failed", { error: (error as Error).message });
    }
  }

  /** Open connections, and closed ones whose handlers are still writing. */
  get size(): number {
    let count = this.closing.size;
    for (const { connections } of this.byDevice.values()) count += connections.size;
    return count;
  }

  closeAll(code: number, reason: string) {
    for (const { connections } of this.byDevice.values()) {
      for (const connection of connections) connection.close(code, reason);
    }
  }

  private watchDevice(deviceId: string): DeviceEntry {
    const connections = new Set<LiveConnection>();
    const unsubscribe = this.services.pubsub.subscribe("sessionEnded", deviceId, ({ kind }) => {
      for (const connection of connections) void connection.end(kind);
    });
    unsubscribe.catch((error: Error) =>
      this.services.log.error("Session watch failed", { error: error.message }),
    );
    return {
      connections,
      watching: unsubscribe.then(() => undefined),
      stop: () => void unsubscribe.then((stop) => stop()).catch(() => {}),
    };
  }
}

interface DeviceEntry {
  connections: Set<LiveConnection>;
  /** Settles once a session end published from any instance reaches these connections. */
  watching: Promise<void>;
  stop: () => void;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
