// require("wxtoken") lands here: the server package is an ES module only.
throw new Error(
  'wxtoken is ESM-only: import it (import { TokenSource } from "wxtoken"), or require("@wxtoken/client"), the client package, which ships CommonJS too',
);
