export {
  type CharBackend,
  CommandLineError,
  HELP_TEXT,
  type KernelOptions,
  MACHINE_HELP_TEXT,
  type MachineType,
  type ParsedCommandLine,
  parseCommandLine,
  type TsqemuOptions,
} from "./command-line.js";
export { CTRL_A, type EscapeAction, EscapeKeys } from "./escape-keys.js";
export { parseQemuInteger, parseQemuOpts, parseSize } from "./qemu-opts.js";
export { formatStatus, StatusLine, type StatusSample, type StatusTerminal } from "./status-line.js";
export { TSQEMU_VERSION, VERSION_TEXT } from "./version.js";
export type {
  ChardevOptions,
  DriveOptions,
  NetdevOptions,
  RngSourceOptions,
  VirtioDeviceOptions,
  VirtioTransportKind,
} from "./virtio-options.js";
