import { builder } from "./builder.js";
import "./scalars.js";
import "./accounts.js";
import "./presence.js";
import "./admin.js";
import "./events.js";

export const schema = builder.toSchema();
