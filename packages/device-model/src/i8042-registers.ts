// Bits and commands of the i8042 keyboard controller as PS/2-era PCs implement it (IBM PS/2 and AT technical
// references; the register names follow Linux's i8042 driver where it has one).

/** Status register (read at the command/status port, 0x64). */
export const I8042Status = {
  /** Output buffer full: a byte waits at the data port. */
  OutputFull: 0x01,
  /** Input buffer full: always 0 here, the controller takes every byte at once. */
  InputFull: 0x02,
  /** System flag: set by the self-test or command byte bit 2 (firmware uses it to tell warm from cold boots). */
  System: 0x04,
  /** The last write went to the command port (1) or the data port (0). */
  Command: 0x08,
  /** Keyboard not inhibited by the keylock switch. */
  Unlocked: 0x10,
  /** The byte in the output buffer is from the aux (mouse) port. */
  AuxData: 0x20,
  Timeout: 0x40,
  ParityError: 0x80,
} as const;

/** Controller command byte (internal RAM byte 0; read with 0x20, written with 0x60). */
export const I8042Config = {
  /** Raise IRQ 1 when keyboard data fills the output buffer. */
  KeyboardInterrupt: 0x01,
  /** Raise IRQ 12 when aux data fills the output buffer. */
  AuxInterrupt: 0x02,
  System: 0x04,
  /** Ignore the keylock (AT); unused on PS/2. */
  InhibitOverride: 0x08,
  /** Keyboard clock off: the keyboard cannot send. */
  KeyboardDisabled: 0x10,
  /** Aux clock off: the mouse cannot send. */
  AuxDisabled: 0x20,
  /** Translate keyboard bytes from scancode set 2 to set 1. */
  Translate: 0x40,
} as const;

/** Controller commands (written to the command port). */
export const I8042Command = {
  /** 0x20-0x3F read internal RAM byte n (0x20: the command byte). */
  ReadRam: 0x20,
  /** 0x60-0x7F write internal RAM byte n from the next data byte (0x60: the command byte). */
  WriteRam: 0x60,
  PasswordInstalled: 0xa4,
  DisableAux: 0xa7,
  EnableAux: 0xa8,
  TestAux: 0xa9,
  SelfTest: 0xaa,
  TestKeyboard: 0xab,
  DisableKeyboard: 0xad,
  EnableKeyboard: 0xae,
  ReadInputPort: 0xc0,
  ReadOutputPort: 0xd0,
  WriteOutputPort: 0xd1,
  /** The next data byte appears in the output buffer as if the keyboard sent it. */
  WriteKeyboardOutput: 0xd2,
  /** The next data byte appears in the output buffer as if the mouse sent it. */
  WriteAuxOutput: 0xd3,
  /** The next data byte goes to the mouse. */
  WriteAux: 0xd4,
  /** HP Vectra A20 commands, which QEMU also honours. */
  DisableA20: 0xdd,
  EnableA20: 0xdf,
  /** 0xF0-0xFF pulse the output port bits whose bit in the low nibble is 0; 0xFE pulses the reset line. */
  PulseOutputPort: 0xf0,
} as const;

/** Output port (P2) bits. */
export const I8042OutputPort = {
  /** 0 holds the CPU in reset. */
  Reset: 0x01,
  /** The A20 gate. */
  A20: 0x02,
  KeyboardOutputFull: 0x10,
  AuxOutputFull: 0x20,
} as const;
