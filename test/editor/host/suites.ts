// Every extension-host suite, bundled into one file that mocha loads inside the extension host.
import './connection.suite';
import './commands.suite';
import './sops.suite';
import './diagnostics.suite';
import './plugins.suite';
