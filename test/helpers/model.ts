// A chat client's local state, built only from the events a device receives. The randomized sync
// test compares it with what a fresh fetch returns. Payloads show the current state of what they
// name, so a lenient model would heal a missing event with the next one; this one takes from each
// event only the fields that event is about, so every event has to arrive.

/** A reaction as Message.reactions shows it, users by username. */
export interface ModelReaction {
  reaction: string;
  count: number;
  reactedByMe: boolean;
  users: string[];
}

export interface ModelMessage {
  id: string;
  from: string;
  text: string | null;
  recalled: boolean;
  editCount: number;
  status: string;
  reactions: ModelReaction[];
}

export interface ModelConversation {
  unreadCount: number;
  pinned: boolean;
  marks: string[];
  muted: boolean;
  deleted: boolean;
  lastMessageId: string | null;
}

const EMPTY: ModelConversation = {
  unreadCount: 0,
  pinned: false,
  marks: [],
  muted: false,
  deleted: false,
  lastMessageId: null,
};

/** What each ConversationEvent kind changes. */
const CHANGES: Record<string, (keyof ModelConversation)[]> = {
  READ: ["unreadCount"],
  PINNED: ["pinned"],
  MARKED: ["marks"],
  MUTED: ["muted"],
  DELETED: ["deleted", "pinned", "unreadCount", "lastMessageId"],
  HISTORY_CLEARED: ["unreadCount", "lastMessageId"],
};

/** The contact side of a client: contacts with remarks, the block list, requests waiting. */
export interface ModelContacts {
  contacts: Record<string, string | null>;
  blocked: string[];
  incoming: string[];
  outgoing: string[];
}

/** A group message as a member's device holds it; `thread` is the live thread started from it. */
export interface ModelGroupMessage {
  id: string;
  from: string;
  text: string | null;
  targets: string[];
  reactions: ModelReaction[];
  thread: string | null;
}

/** A thread message as a member's device holds it. */
export interface ModelThreadMessage {
  id: string;
  from: string;
  text: string | null;
  recalled: boolean;
  editCount: number;
  reactions: ModelReaction[];
}

/**
 * A thread the user is a member of, as its events tell: `members` maps every user an event named
 * since the user's own join (or creation) to whether they are in it; `complete` when the user
 * started the thread and so saw every join. `messages` are those received since the join: a joiner
 * reads the older ones with `messages`, but its stream starts at the join.
 */
export interface ModelThread {
  groupId: string;
  members: Map<string, boolean>;
  complete: boolean;
  messages: Map<string, ModelThreadMessage>;
}

/** ThreadEvents of the group's chat (to every member of the group); the others are the thread's own. */
const GROUP_THREAD_KINDS = new Set(["THREAD_CREATED", "THREAD_UPDATED", "THREAD_DESTROYED", "NEW_MESSAGES"]);

/**
 * A group the user is in, as its events tell. `members` maps every user an event named since the
 * user's own join to their role, or to null once they left; `complete` when the user saw the
 * group's GROUP_CREATED, so every member is known.
 */
export interface ModelGroup {
  members: Map<string, string | null>;
  complete: boolean;
  messages: Map<string, ModelGroupMessage>;
  unreadCount: number;
  mentionCount: number;
}

/** GroupEvents that reach users outside the group (invitees, applicants). */
const OUTSIDER_KINDS = new Set(["MEMBER_INVITED", "INVITE_DECLINED", "JOIN_REQUESTED", "JOIN_DECLINED"]);
const TOLD_OUTSIDE_KINDS = new Set(["MEMBERS_BLOCKED", "MEMBERS_UNBLOCKED"]);
/** GroupEvents that end the membership of the users they name. */
const LEAVING_KINDS = new Set(["MEMBER_LEFT", "MEMBER_REMOVED", "MEMBERS_BLOCKED"]);

export class ClientModel {
  readonly messages = new Map<string, Map<string, ModelMessage>>();
  /** The groups the user is in, by id. */
  readonly groups = new Map<string, ModelGroup>();
  /** The threads the user is a member of, by id. */
  readonly threads = new Map<string, ModelThread>();
  /**
   * Every thread MessageEvent this device received, by thread, whatever the membership since: a
   * thread's messages come once each, in id order, across leaves and rejoins.
   */
  private readonly threadSeen = new Map<string, { last: bigint; ids: Set<string> }>();
  /** The read position of each thread conversation, from READ snapshots (kept across joins: it only grows). */
  private readonly threadReads = new Map<string, bigint>();
  /**
   * What the events themselves show to be wrong, whatever a fetch says later: a group's message or
   * event after the user left it (a removal not ordered with the messages), a targeted message for
   * someone else.
   */
  readonly problems: string[] = [];
  readonly conversations = new Map<string, ModelConversation>();
  private readonly contacts = new Map<string, string | null>();
  private readonly blocked = new Set<string>();
  private readonly incoming = new Set<string>();
  private readonly outgoing = new Set<string>();

  constructor(readonly username: string) {}

  apply(event: any): void {
    if (this.isThreadChat(event)) {
      this.applyThread(event);
      return;
    }
    if (isGroupChat(event)) {
      this.applyGroup(event);
      return;
    }
    switch (event.__typename) {
      case "MessageEvent":
      case "MessageEditedEvent": {
        const message = event.message;
        if (message.type === "COMMAND") return;
        const peer = message.from.username === this.username ? message.to.username : message.from.username;
        if (event.__typename === "MessageEvent") {
          // Its reactions come from ReactionEvents alone: a replayed message shows today's.
          this.chat(peer).set(message.id, { ...toModel(message), reactions: [] });
          this.conversation(peer, message.conversation, ["unreadCount", "lastMessageId", "deleted"]);
        } else {
          // An edit of a message this user deleted or cleared is not brought back.
          const held = this.chat(peer).get(message.id);
          if (held) this.chat(peer).set(message.id, { ...toModel(message), reactions: held.reactions });
        }
        return;
      }
      case "ReactionEvent": {
        const message = event.message;
        const peer = message.from.username === this.username ? message.to.username : message.from.username;
        const held = this.chat(peer).get(message.id);
        if (held) this.react(held.reactions, event);
        return;
      }
      case "MessageRecalledEvent": {
        const peer = event.conversation.peer.username;
        const message = this.chat(peer).get(event.messageId);
        if (message) Object.assign(message, { recalled: true, text: null, reactions: [] });
        this.conversation(peer, event.conversation, ["unreadCount"]);
        return;
      }
      case "MessageDeletedEvent": {
        const peer = event.conversation.peer.username;
        for (const id of event.messageIds) this.chat(peer).delete(id);
        this.conversation(peer, event.conversation, ["unreadCount", "lastMessageId"]);
        return;
      }
      case "ReceiptEvent": {
        const peer = event.conversation.peer.username;
        for (const id of event.messageIds) {
          const message = this.chat(peer).get(id);
          if (message && !(event.kind === "DELIVERED" && message.status === "READ"))
            message.status = event.kind;
        }
        return;
      }
      case "ConversationEvent":
        this.conversation(event.conversation.peer.username, event.conversation, CHANGES[event.kind]!, true);
        return;
      case "ContactEvent":
        this.contact(event.kind, event.user.username, event.contact);
        return;
      default:
        throw new Error(`unexpected event ${event.__typename}`);
    }
  }

  private problem(text: string) {
    this.problems.push(`${this.username}: ${text}`);
  }

  private applyGroup(event: any): void {
    switch (event.__typename) {
      case "GroupEvent":
        this.groupEvent(event);
        return;
      case "MessageEvent":
      case "MessageEditedEvent": {
        const message = event.message;
        if (message.type === "COMMAND") return;
        const groupId = message.to?.id;
        const from = message.from.username;
        const targets: string[] = (message.targets ?? []).map((u: any) => u.username).sort();
        if (targets.length > 0 && from !== this.username && !targets.includes(this.username)) {
          this.problem(
            `targeted message ${message.id} from ${from} for [${targets}] leaked to ${this.username}`,
          );
        }
        const group = this.groups.get(groupId);
        if (!group) {
          this.problem(
            `${event.__typename} ${message.id} of group ${groupId}, which the user is not in (left or never joined)`,
          );
          return;
        }
        if (event.__typename === "MessageEvent") {
          // Its thread comes from ThreadEvents alone: a replayed message shows today's.
          group.messages.set(message.id, { ...toGroupMessage(message), reactions: [], thread: null });
          this.groupCounts(groupId, message.conversation);
        } else {
          const held = group.messages.get(message.id);
          if (held) {
            group.messages.set(message.id, {
              ...toGroupMessage(message),
              reactions: held.reactions,
              thread: held.thread,
            });
          }
        }
        return;
      }
      case "ReactionEvent": {
        const groupId = event.message.to?.id;
        const group = this.groups.get(groupId);
        if (!group) {
          return void this.problem(
            `reaction to ${event.message.id} in group ${groupId}, which the user is not in`,
          );
        }
        // A message from before the user's join is not in their history; nor are its reactions.
        const held = group.messages.get(event.message.id);
        if (held) this.react(held.reactions, event);
        return;
      }
      case "MessageRecalledEvent": {
        const groupId = event.conversation?.group?.id;
        const group = this.groups.get(groupId);
        if (!group)
          return void this.problem(
            `recall of ${event.messageId} in group ${groupId}, which the user is not in`,
          );
        const message = group.messages.get(event.messageId);
        if (message) Object.assign(message, { text: null, reactions: [] });
        this.groupCounts(groupId, event.conversation);
        return;
      }
      case "ReceiptEvent":
        return;
      case "ConversationEvent": {
        // The user's own stream (reads) and the chat log (membership) are two orders: a read may
        // arrive after the device saw the user leave, or before it saw the join. Counts are a
        // snapshot, so a later event carries them either way.
        const groupId = event.conversation?.group?.id;
        if (this.groups.has(groupId)) this.groupCounts(groupId, event.conversation);
        return;
      }
      default:
        return void this.problem(`unexpected group event ${event.__typename}`);
    }
  }

  /**
   * Applies a ReactionEvent: a reaction made again after its last user took it back goes last, as
   * on the server. Adding what the user already made, or removing what they did not, means an
   * event was lost or doubled.
   */
  private react(reactions: ModelReaction[], event: any) {
    const user: string = event.user.username;
    let entry = reactions.find((r) => r.reaction === event.reaction);
    if (event.added === Boolean(entry?.users.includes(user))) {
      return void this.problem(
        `ReactionEvent ${event.added ? "adds" : "removes"} ${user}'s ${event.reaction} on ${event.message.id} again`,
      );
    }
    if (!entry) {
      entry = { reaction: event.reaction, count: 0, reactedByMe: false, users: [] };
      reactions.push(entry);
    }
    entry.users = event.added ? [...entry.users, user] : entry.users.filter((name) => name !== user);
    entry.count = entry.users.length;
    entry.reactedByMe = entry.users.includes(this.username);
    if (entry.count === 0) reactions.splice(reactions.indexOf(entry), 1);
  }

  private groupCounts(groupId: string, snapshot: any) {
    const group = this.groups.get(groupId);
    if (!group || !snapshot || snapshot.group?.id !== groupId) return;
    group.unreadCount = snapshot.unreadCount;
    group.mentionCount = snapshot.mentionCount;
  }

  private groupEvent(event: any): void {
    const groupId: string | undefined = event.group?.id;
    const kind: string = event.kind;
    const users: string[] = event.users.map((u: any) => u.username);
    const actor: string | null = event.actor?.username ?? null;
    if (!groupId) return void this.problem(`GroupEvent ${kind} without its group`);
    if (OUTSIDER_KINDS.has(kind)) return;
    const me = this.username;
    if ((kind === "GROUP_CREATED" || kind === "MEMBER_JOINED") && users.includes(me)) {
      // A (re)join: history and counts start here; only a creation tells every member.
      const members = new Map<string, string | null>();
      for (const user of users)
        members.set(user, kind === "GROUP_CREATED" && user === actor ? "OWNER" : "MEMBER");
      this.groups.set(groupId, {
        members,
        complete: kind === "GROUP_CREATED",
        messages: new Map(),
        unreadCount: 0,
        mentionCount: 0,
      });
      return;
    }
    const group = this.groups.get(groupId);
    if (!group) {
      // Someone outside the group is told when they are barred from it, or let back.
      if (TOLD_OUTSIDE_KINDS.has(kind) && users.includes(me)) return;
      return void this.problem(`GroupEvent ${kind} [${users}] of group ${groupId}, which the user is not in`);
    }
    if (kind === "GROUP_CREATED") return void this.problem(`GROUP_CREATED of ${groupId} without the user`);
    if (kind === "GROUP_DESTROYED") {
      this.groups.delete(groupId);
      return void this.leaveThreadsOf(groupId, null);
    }
    if (LEAVING_KINDS.has(kind)) {
      // Leaving a group leaves its threads: the thread tells nothing, the group's event tells all.
      if (users.includes(me)) {
        this.groups.delete(groupId);
        return void this.leaveThreadsOf(groupId, null);
      }
      for (const user of users) group.members.set(user, null);
      return void this.leaveThreadsOf(groupId, users);
    }
    switch (kind) {
      case "MEMBER_JOINED":
        for (const user of users) group.members.set(user, "MEMBER");
        return;
      case "ADMIN_ADDED":
        for (const user of users) group.members.set(user, "ADMIN");
        return;
      case "ADMIN_REMOVED":
        for (const user of users) group.members.set(user, "MEMBER");
        return;
      case "OWNER_CHANGED":
        group.members.set(users[0]!, "OWNER");
        if (users[1]) group.members.set(users[1], "MEMBER");
        return;
      default:
        // Mutes, blocks of outsiders, settings: no change to who is in or their roles.
        return;
    }
  }

  /**
   * Whether the event is about a thread: a ThreadEvent, a thread message or a change to one, a
   * thread conversation. A recall whose conversation is gone (the user left since) names only its
   * message: it is a group's if a group of the device holds that message, else a thread's.
   */
  private isThreadChat(event: any): boolean {
    if (event.__typename === "ThreadEvent") return true;
    if (event.message)
      return event.message.chatType === "THREAD" || event.message.to?.__typename === "Thread";
    if (event.conversation)
      return event.conversation.chatType === "THREAD" || Boolean(event.conversation.thread);
    if (event.__typename === "MessageRecalledEvent" && event.conversation === null)
      return ![...this.groups.values()].some((group) => group.messages.has(event.messageId));
    return false;
  }

  private threadHolding(messageId: string): string | undefined {
    for (const [id, thread] of this.threads) if (thread.messages.has(messageId)) return id;
    return undefined;
  }

  private applyThread(event: any): void {
    switch (event.__typename) {
      case "ThreadEvent":
        this.threadEvent(event);
        return;
      case "MessageEvent": {
        const message = event.message;
        if (message.type === "COMMAND") return;
        const threadId: string = message.to?.id;
        // Once each and in id order, whatever the membership did in between.
        let seen = this.threadSeen.get(threadId);
        if (!seen) {
          seen = { last: 0n, ids: new Set() };
          this.threadSeen.set(threadId, seen);
        }
        if (seen.ids.has(message.id)) {
          this.problem(`thread ${threadId}'s message ${message.id} received twice`);
        } else if (BigInt(message.id) < seen.last) {
          this.problem(
            `thread ${threadId}'s message ${message.id} received after ${seen.last}, out of order`,
          );
        }
        seen.ids.add(message.id);
        if (BigInt(message.id) > seen.last) seen.last = BigInt(message.id);
        const thread = this.threads.get(threadId);
        if (!thread) {
          return void this.problem(
            `MessageEvent ${message.id} of thread ${threadId}, which the user is not a member of (left, removed or never joined)`,
          );
        }
        // Its reactions come from ReactionEvents alone: a replayed message shows today's.
        thread.messages.set(message.id, { ...toThreadMessage(message), reactions: [] });
        return;
      }
      case "MessageEditedEvent": {
        const message = event.message;
        const thread = this.threads.get(message.to?.id);
        if (!thread)
          return void this.problem(
            `edit of ${message.id} in thread ${message.to?.id}, which the user is not in`,
          );
        const held = thread.messages.get(message.id);
        if (held) Object.assign(held, { text: message.body?.text ?? null, editCount: message.editCount });
        return;
      }
      case "ReactionEvent": {
        const threadId = event.message.to?.id;
        const thread = this.threads.get(threadId);
        if (!thread) {
          return void this.problem(
            `reaction to ${event.message.id} in thread ${threadId}, which the user is not a member of`,
          );
        }
        // A message from before the user's join is not in the model; nor are its reactions.
        const held = thread.messages.get(event.message.id);
        if (held) this.react(held.reactions, event);
        return;
      }
      case "MessageRecalledEvent": {
        const threadId: string | undefined =
          event.conversation?.thread?.id ?? this.threadHolding(event.messageId);
        // Gone from the user's conversations and never held: nothing here names its chat.
        if (threadId === undefined) return;
        const thread = this.threads.get(threadId);
        if (!thread)
          return void this.problem(
            `recall of ${event.messageId} in thread ${threadId}, which the user is not in`,
          );
        const held = thread.messages.get(event.messageId);
        if (held) Object.assign(held, { recalled: true, text: null, reactions: [] });
        return;
      }
      case "ConversationEvent": {
        // The user's own stream: a read may come before the device saw the join, or after it saw
        // the user leave. The read position only grows, across joins too, so keep the greatest.
        const threadId: string | undefined = event.conversation?.thread?.id;
        const upTo = event.conversation?.readUpTo;
        if (event.kind === "READ" && threadId && upTo) {
          const known = this.threadReads.get(threadId) ?? 0n;
          if (BigInt(upTo) > known) this.threadReads.set(threadId, BigInt(upTo));
        }
        return;
      }
      case "ReceiptEvent":
        return;
      default:
        return void this.problem(`unexpected thread event ${event.__typename}`);
    }
  }

  private threadEvent(event: any): void {
    const kind: string = event.kind;
    const threadId: string | undefined = event.thread?.id;
    const groupId: string | undefined = event.thread?.group?.id;
    const users: string[] = event.users.map((u: any) => u.username);
    const me = this.username;
    if (!threadId || !groupId) return void this.problem(`ThreadEvent ${kind} without its thread or group`);
    if (GROUP_THREAD_KINDS.has(kind)) {
      const group = this.groups.get(groupId);
      if (!group) {
        return void this.problem(
          `ThreadEvent ${kind} of thread ${threadId} in group ${groupId}, which the user is not in`,
        );
      }
      const parent = group.messages.get(event.thread.parentMessage?.id);
      if (kind === "THREAD_CREATED") {
        if (parent) parent.thread = threadId;
        if (event.actor?.username === me) {
          if (this.threads.has(threadId))
            this.problem(`THREAD_CREATED of ${threadId}, which the user was in`);
          this.threads.set(threadId, {
            groupId,
            members: new Map([[me, true]]),
            complete: true,
            messages: new Map(),
          });
        }
      } else if (kind === "THREAD_DESTROYED") {
        if (parent) parent.thread = null;
        this.threads.delete(threadId);
      }
      return;
    }
    if (kind === "MEMBER_JOINED" && users.includes(me)) {
      if (!this.groups.has(groupId))
        this.problem(`joined thread ${threadId} of group ${groupId}, which the user is not in`);
      if (this.threads.has(threadId)) this.problem(`joined thread ${threadId} again without leaving it`);
      this.threads.set(threadId, {
        groupId,
        members: new Map(users.map((user) => [user, true])),
        complete: false,
        messages: new Map(),
      });
      return;
    }
    const thread = this.threads.get(threadId);
    if (!thread) {
      return void this.problem(
        `ThreadEvent ${kind} [${users}] of thread ${threadId}, which the user is not a member of`,
      );
    }
    switch (kind) {
      case "MEMBER_JOINED":
        for (const user of users) thread.members.set(user, true);
        return;
      case "MEMBER_LEFT":
      case "MEMBER_REMOVED":
        if (users.includes(me)) return void this.threads.delete(threadId);
        for (const user of users) thread.members.set(user, false);
        return;
      default:
        return void this.problem(`unexpected ThreadEvent ${kind} in thread ${threadId}`);
    }
  }

  /** The user (`users` null) or these users left the group, and so its threads. */
  private leaveThreadsOf(groupId: string, users: string[] | null) {
    for (const [id, thread] of this.threads) {
      if (thread.groupId !== groupId) continue;
      if (users === null) this.threads.delete(id);
      else for (const user of users) thread.members.set(user, false);
    }
  }

  /** The threads the user is a member of, sorted. */
  threadIds(): string[] {
    return [...this.threads.keys()].sort();
  }

  /** A thread's known members (false: known to have left), and whether that is everyone. */
  threadRoster(threadId: string): { complete: boolean; members: Record<string, boolean> } {
    const thread = this.threads.get(threadId)!;
    return {
      complete: thread.complete,
      members: Object.fromEntries([...thread.members].sort(([a], [b]) => a.localeCompare(b))),
    };
  }

  /** The thread's messages received since the user's join, oldest first. */
  threadHistory(threadId: string): ModelThreadMessage[] {
    const thread = this.threads.get(threadId);
    return [...(thread?.messages.values() ?? [])].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  /**
   * The thread conversation's unread count, derived as the server derives it: others' messages not
   * recalled after the read position. Every message after the join is in the model and the join's
   * own read position is below them all, so the reads seen are enough.
   */
  threadUnread(threadId: string): number {
    const read = this.threadReads.get(threadId) ?? 0n;
    return this.threadHistory(threadId).filter(
      (m) => BigInt(m.id) > read && m.from !== this.username && !m.recalled,
    ).length;
  }

  /** The groups the user is in, sorted. */
  groupIds(): string[] {
    return [...this.groups.keys()].sort();
  }

  /** A group's known members and roles (null: known to have left), and whether that is everyone. */
  roster(groupId: string): { complete: boolean; members: Record<string, string | null> } {
    const group = this.groups.get(groupId)!;
    return {
      complete: group.complete,
      members: Object.fromEntries([...group.members].sort(([a], [b]) => a.localeCompare(b))),
    };
  }

  groupHistory(groupId: string): ModelGroupMessage[] {
    const group = this.groups.get(groupId);
    return [...(group?.messages.values() ?? [])].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  groupConversation(groupId: string): {
    unreadCount: number;
    mentionCount: number;
    lastMessageId: string | null;
  } {
    const group = this.groups.get(groupId)!;
    return {
      unreadCount: group.unreadCount,
      mentionCount: group.mentionCount,
      lastMessageId: this.groupHistory(groupId).at(-1)?.id ?? null,
    };
  }

  private chat(peer: string): Map<string, ModelMessage> {
    let chat = this.messages.get(peer);
    if (!chat) {
      chat = new Map();
      this.messages.set(peer, chat);
    }
    return chat;
  }

  private conversation(peer: string, snapshot: any, fields: (keyof ModelConversation)[], clears = false) {
    const current = this.conversations.get(peer) ?? { ...EMPTY, marks: [] };
    const fresh = toConversation(snapshot);
    for (const field of fields) (current as any)[field] = fresh[field];
    this.conversations.set(peer, current);
    const cleared = clears ? snapshot.historyClearedUpTo : null;
    if (cleared) {
      for (const id of this.chat(peer).keys()) if (BigInt(id) <= BigInt(cleared)) this.chat(peer).delete(id);
    }
  }

  private contact(kind: string, user: string, contact: { remark: string | null } | null) {
    switch (kind) {
      case "REQUEST_RECEIVED":
        this.incoming.add(user);
        return;
      case "REQUEST_SENT":
        this.outgoing.add(user);
        return;
      case "REQUEST_ACCEPTED":
        this.contacts.set(user, null);
        this.incoming.delete(user);
        this.outgoing.delete(user);
        return;
      case "REQUEST_DECLINED":
        this.incoming.delete(user);
        this.outgoing.delete(user);
        return;
      case "REMOVED":
        this.contacts.delete(user);
        return;
      case "REMARK_CHANGED":
        if (contact && this.contacts.has(user)) this.contacts.set(user, contact.remark);
        return;
      case "BLOCKED":
        this.blocked.add(user);
        return;
      case "UNBLOCKED":
        this.blocked.delete(user);
        return;
      default:
        throw new Error(`unexpected ContactEvent ${kind}`);
    }
  }

  contactState(): ModelContacts {
    const sorted = (names: Iterable<string>) => [...names].sort();
    return {
      contacts: Object.fromEntries(
        sorted(this.contacts.keys()).map((name) => [name, this.contacts.get(name)!]),
      ),
      blocked: sorted(this.blocked),
      incoming: sorted(this.incoming),
      outgoing: sorted(this.outgoing),
    };
  }

  /** The conversation list as the server lists it: without deleted ones, as a comparable value. */
  listed(): Record<string, ModelConversation> {
    return Object.fromEntries(
      [...this.conversations].filter(([, c]) => !c.deleted).sort(([a], [b]) => a.localeCompare(b)),
    );
  }

  history(peer: string): ModelMessage[] {
    return [...this.chat(peer).values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }
}

/** Whether the event is about a group chat (its message's `to` or its conversation is a group). */
function isGroupChat(event: any): boolean {
  if (event.__typename === "GroupEvent") return true;
  if (event.message) return event.message.chatType === "GROUP" || event.message.to?.__typename === "Group";
  // A conversation that is gone (a group the user left since) comes as null: only groups' do.
  if (event.conversation === null) return true;
  return event.conversation?.chatType === "GROUP" || Boolean(event.conversation?.group);
}

export function toGroupMessage(message: any): ModelGroupMessage {
  return {
    id: message.id,
    from: message.from.username,
    text: message.body?.text ?? null,
    targets: (message.targets ?? []).map((u: any) => u.username).sort(),
    reactions: toReactions(message.reactions),
    thread: message.thread?.id ?? null,
  };
}

export function toThreadMessage(message: any): ModelThreadMessage {
  return {
    id: message.id,
    from: message.from.username,
    text: message.body?.text ?? null,
    recalled: message.recalled,
    editCount: message.editCount,
    reactions: toReactions(message.reactions),
  };
}

export function toModel(message: any): ModelMessage {
  return {
    id: message.id,
    from: message.from.username,
    text: message.body?.text ?? null,
    recalled: message.recalled,
    editCount: message.editCount,
    status: message.status,
    reactions: toReactions(message.reactions),
  };
}

/** Message.reactions as fetched (with users(first: 20), every user of the scenario). */
function toReactions(reactions: any[] | undefined): ModelReaction[] {
  return (reactions ?? []).map((r) => ({
    reaction: r.reaction,
    count: r.count,
    reactedByMe: r.reactedByMe,
    users: r.users.map((u: any) => u.username),
  }));
}

export function toConversation(snapshot: any): ModelConversation {
  return {
    unreadCount: snapshot.unreadCount,
    pinned: snapshot.pinned,
    marks: [...snapshot.marks].sort(),
    muted: snapshot.muted,
    deleted: snapshot.deleted,
    lastMessageId: snapshot.lastMessage?.id ?? null,
  };
}

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
export function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (max: number) => Math.floor(next() * max),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}
