import { builder } from "./builder.js";
import "./scalars.js";
import "./accounts.js";
import "./presence.js";
import "./contacts.js";
import "./admin.js";
import "./chats.js";
import "./attachments.js";
import "./messages.js";
import "./reactions.js";
import "./conversations.js";
import "./groups.js";
import "./threads.js";
import "./rooms.js";
import "./search.js";
import "./message-stats.js";
import "./events.js";

export const schema = builder.toSchema();
