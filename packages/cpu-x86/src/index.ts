export {
  ACCESS_IO,
  ACCESS_MMIO,
  Cpu,
  type CpuOptions,
  type HostAccess,
  STOP_BUDGET,
  STOP_HLT,
  STOP_INTERNAL_ERROR,
  STOP_IO,
  STOP_IRQ_WINDOW,
  STOP_MMIO,
  STOP_NONE,
  STOP_SHUTDOWN,
} from "./cpu.js";
export * from "./cpu-model.js";
export {
  type CodeSource,
  DECODE_GP,
  DECODE_OK,
  DECODE_UD,
  decode,
  Instruction,
  MAX_INSTRUCTION_LENGTH,
  NO_REG,
} from "./decoder.js";
export { Flags, SIZE8, SIZE16, SIZE32 } from "./flags.js";
export * from "./registers.js";
