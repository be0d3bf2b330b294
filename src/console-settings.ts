/**
 * Process-wide console settings, set once by the CLI from `--log-format` and `--quiet` before a
 * verb runs, read by the loggers (src/log.ts). A module of its own so that the CLI sets them
 * without loading winston (`watt --help` and `watt predict` stay fast).
 */
export interface ConsoleSettings {
  /** `text`: coloured human lines; `json`: one JSON object a line (timestamp, level, message, meta). */
  format: 'text' | 'json';
  /** Show errors only (`--quiet`): warnings and info lines are dropped. */
  errorsOnly: boolean;
}

export const consoleSettings: ConsoleSettings = { format: 'text', errorsOnly: false };

/** Change the console settings of every logger created from now on. */
export function configureConsole(settings: Partial<ConsoleSettings>): void {
  Object.assign(consoleSettings, settings);
}
