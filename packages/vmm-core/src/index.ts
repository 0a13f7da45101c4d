export {
  addPcRam,
  attachDebugCon,
  attachDebugExit,
  attachPostCodePort,
  attachSerialPort,
  buildPc,
  loadFirmware,
  MachineConfigError,
  type PcConfig,
  type PcMachine,
  type SerialBackend,
} from "./builder.js";
export { Bus, type BusDevice, BusError, type BusStats } from "./bus.js";
export { InterruptLines, type Trigger } from "./interrupt-lines.js";
export {
  defaultYieldToHost,
  Machine,
  type MachineExit,
  type MachineOptions,
  type YieldToHost,
} from "./machine.js";
export { PC_LAYOUT } from "./pc-layout.js";
