/**
 * The command-line client, run from source: `node --import tsx net/cli.ts COMMAND …`. What users
 * run is bin/kv (`npm run kv -- COMMAND …`), the same code bundled into plain JavaScript, which
 * starts in a fraction of the time (docs/decisions.md). The commands live in net/cli/; `kv --help`
 * lists them. It lives in net/ because it is a client: it reaches protocol/ and net/ only.
 */
import { runCli } from './cli/main.ts';

runCli();
