// Object refs that schema files point at each other with (Message ↔ Conversation); each is
// implemented in its own file.
import type { Conversation, Group, Room, Thread } from "../generated/prisma/client.js";
import type { MessageRecord } from "../resolvers/messages.js";
import { builder } from "./builder.js";

export const MessageRef = builder.objectRef<MessageRecord>("Message");
export const ConversationRef = builder.objectRef<Conversation>("Conversation");
export const GroupRef = builder.objectRef<Group>("Group");
export const ThreadRef = builder.objectRef<Thread>("Thread");
export const RoomRef = builder.objectRef<Room>("Room");
